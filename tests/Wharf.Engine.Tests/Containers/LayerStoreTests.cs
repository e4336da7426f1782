using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Wharf.Content.Layers;
using Wharf.Engine.Containers;
using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine.Tests.Containers;

public sealed class LayerStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-layers-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Tar(params (string Name, string Content)[] files)
    {
        using var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (name, content) in files)
            {
                w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)), Mode = (UnixFileMode)0x1A4 });
            }
        }

        return ms.ToArray();
    }

    private static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
        {
            gz.Write(data);
        }

        return ms.ToArray();
    }

    private static string Sha(byte[] b) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(b));

    /// <summary>Stores a two-layer image; <paramref name="lieAboutSecond"/> gives the config a wrong diff ID for the top layer.</summary>
    private async Task<(ImageStore Store, ImageRecord Image, List<string> DiffIds)> StoreImageAsync(bool lieAboutSecond = false)
    {
        byte[] t1 = Tar(("etc/base", "base\n")), t2 = Tar(("etc/top", "top\n"));
        var diffIds = new List<string> { Sha(t1), lieAboutSecond ? Sha(Encoding.UTF8.GetBytes("other")) : Sha(t2) };
        string config = $"{{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{diffIds[0]}\",\"{diffIds[1]}\"]}}}}";
        var (store, image) = await StoreAsync(new ImageStore(Path.Combine(_dir, "graph")), config, (Gzip(t1), MediaTypes.OciLayerGzip), (t2, MediaTypes.OciLayerTar)); // one gzip layer, one plain layer
        return (store, image, diffIds);
    }

    /// <summary>Stores an image with exactly this config and these layer blobs.</summary>
    private static async Task<(ImageStore Store, ImageRecord Image)> StoreAsync(ImageStore store, string config, params (byte[] Blob, string MediaType)[] layers)
    {
        byte[] configBytes = Encoding.UTF8.GetBytes(config);
        string layerJson = string.Join(",", layers.Select(l => $"{{\"mediaType\":\"{l.MediaType}\",\"digest\":\"{Sha(l.Blob)}\",\"size\":{l.Blob.Length}}}"));
        string manifest = $$"""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
             "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{Sha(configBytes)}}","size":{{configBytes.Length}}},
             "layers":[{{layerJson}}]}
            """;
        byte[] manifestBytes = Encoding.UTF8.GetBytes(manifest);
        foreach (var (bytes, type) in layers.Append((configBytes, MediaTypes.OciConfig)).Append((manifestBytes, MediaTypes.OciManifest)))
        {
            await store.WriteBlobAsync(new Descriptor { MediaType = type, Digest = Digest.Parse(Sha(bytes)), Size = bytes.Length }, new MemoryStream(bytes), CancellationToken.None);
        }

        var image = new ImageRecord { Id = Sha(configBytes)[7..], Digest = Sha(manifestBytes), ManifestMediaType = MediaTypes.OciManifest, Names = ["localhost/t:1"] };
        store.Update(images =>
        {
            images.Add(image);
            return 0;
        });
        return (store, image);
    }

    [Fact]
    public void ChainIds_SecondLayer_IsSha256OfParentSpaceDiffId()
    {
        string a = "sha256:" + new string('a', 64), b = "sha256:" + new string('b', 64);
        var chain = LayerStore.ChainIds([a, b]);
        Assert.Equal(a, chain[0]);
        Assert.Equal(Sha(Encoding.UTF8.GetBytes(a + " " + b)), chain[1]);
    }

    [Fact]
    public async Task EnsureAsync_PulledGzipLayerWithZeroPadding_Unpacks()
    {
        // A registry's blob is kept byte for byte (its digest is the manifest's), padding and all.
        byte[] tar = Tar(("etc/padded", "yes\n"));
        string config = $"{{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{Sha(tar)}\"]}}}}";
        var (store, image) = await StoreAsync(new ImageStore(Path.Combine(_dir, "graph")), config, ([.. Gzip(tar), .. new byte[1024]], MediaTypes.OciLayerGzip));

        var unpacked = await new LayerStore(store).EnsureAsync(image, WhiteoutMode.Overlay, CancellationToken.None);

        Assert.Equal("yes\n", File.ReadAllText(Path.Combine(unpacked.LayerDirs[0], "etc", "padded")));
    }

    [Fact]
    public async Task EnsureAsync_UnpackOfADeadProcessLeftOver_RemovedAndLiveOneKept()
    {
        var (store, image, _) = await StoreImageAsync();
        var layers = new LayerStore(store);
        using (var gone = System.Diagnostics.Process.Start("true")!)
        {
            gone.WaitForExit();
            Directory.CreateDirectory(Path.Combine(layers.Root, "tmp", $"{gone.Id}-killed", "diff", "etc"));
        }

        string live = Path.Combine(layers.Root, "tmp", $"{Environment.ProcessId}-busy");
        Directory.CreateDirectory(live);

        await layers.EnsureAsync(image, WhiteoutMode.Overlay, CancellationToken.None);

        Assert.Equal([live], Directory.GetDirectories(Path.Combine(layers.Root, "tmp")));
    }

    [Fact]
    public async Task EnsureAsync_ConcurrentCallers_UnpackOnceIntoChainIdDirectories()
    {
        var (store, image, diffIds) = await StoreImageAsync();
        var layers = new LayerStore(store);
        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => layers.EnsureAsync(image, WhiteoutMode.Overlay, CancellationToken.None))));

        var chain = LayerStore.ChainIds(diffIds);
        Assert.All(results, r => Assert.Equal([layers.LayerDir(chain[0]), layers.LayerDir(chain[1])], r.LayerDirs));
        Assert.Equal("base\n", File.ReadAllText(Path.Combine(results[0].LayerDirs[0], "etc", "base")));
        Assert.Equal("top\n", File.ReadAllText(Path.Combine(results[0].LayerDirs[1], "etc", "top")));
        Assert.False(File.Exists(Path.Combine(results[0].LayerDirs[1], "etc", "base")));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(layers.Root, "tmp")));
        Assert.Equal(2, Directory.GetDirectories(layers.Root).Count(d => Path.GetFileName(d) != "tmp"));
    }

    [Fact]
    public async Task EnsureAsync_LayerDirectoryLostItsDiff_UnpackedAgain()
    {
        // layers/<chainid>/diff deleted behind the store's back (what "system check" reports): the
        // next run must unpack it again, not hand the runtime a lower dir that does not exist.
        var (store, image, diffIds) = await StoreImageAsync();
        var layers = new LayerStore(store);
        await layers.EnsureAsync(image, WhiteoutMode.Overlay, CancellationToken.None);
        var chain = LayerStore.ChainIds(diffIds);
        Directory.Delete(layers.LayerDir(chain[1]), recursive: true);

        var again = await layers.EnsureAsync(image, WhiteoutMode.Overlay, CancellationToken.None);

        Assert.Equal(layers.LayerDir(chain[1]), again.LayerDirs[1]);
        Assert.Equal("top\n", File.ReadAllText(Path.Combine(again.LayerDirs[1], "etc", "top")));
        Assert.Equal(diffIds[1], File.ReadAllText(Path.Combine(Path.GetDirectoryName(again.LayerDirs[1])!, "diffid")));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(layers.Root, "tmp")));
    }

    [Fact]
    public async Task EnsureAsync_DiffIdMismatch_RefusedAndNothingKept()
    {
        var (store, image, diffIds) = await StoreImageAsync(lieAboutSecond: true);
        var layers = new LayerStore(store);
        var e = await Assert.ThrowsAsync<WharfException>(() => layers.EnsureAsync(image, WhiteoutMode.Overlay, CancellationToken.None));
        Assert.Contains("diff ID", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.GetDirectoryName(layers.LayerDir(LayerStore.ChainIds(diffIds)[1]))));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(layers.Root, "tmp")));
    }

    [Theory]
    [InlineData("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[null]}}", "rootfs.diff_ids[0] is null, not a digest string")]
    [InlineData("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[42]}}", "rootfs.diff_ids[0] is number, not a digest string")]
    [InlineData("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[{\"a\":1}]}}", "rootfs.diff_ids[0] is object, not a digest string")]
    [InlineData("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"not-a-digest\"]}}", "rootfs.diff_ids[0]: digest \"not-a-digest\" is not of the form algorithm:hex")]
    [InlineData("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":\"sha256:x\"}}", "config has no \"rootfs.diff_ids\" list")]
    [InlineData("{\"rootfs\":{\"type\":\"layers\"}}", "config has no \"rootfs.diff_ids\" list")]
    [InlineData("{\"architecture\":\"amd64\"}", "config has no \"rootfs\" object")]
    [InlineData("{\"rootfs\":null}", "config has no \"rootfs\" object")]
    [InlineData("[1,2]", "config is not a JSON object")]
    [InlineData("{\"rootfs\":", "config is not valid JSON")]
    [InlineData("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", "1 layers but 0 diff IDs in its config")]
    [InlineData("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"DIFF\",\"DIFF\"]}}", "1 layers but 2 diff IDs in its config")]
    public async Task EnsureAsync_HostileImageConfig_ClearErrorAndNothingUnpacked(string config, string expected)
    {
        byte[] tar = Tar(("etc/x", "x\n"));
        var (store, image) = await StoreAsync(new ImageStore(Path.Combine(_dir, "graph")), config.Replace("DIFF", Sha(tar), StringComparison.Ordinal), (tar, MediaTypes.OciLayerTar));
        var layers = new LayerStore(store);

        var e = await Assert.ThrowsAsync<WharfException>(() => layers.EnsureAsync(image, WhiteoutMode.Overlay, CancellationToken.None));

        Assert.StartsWith($"image {image.ShortId}: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(layers.Root) && Directory.EnumerateDirectories(layers.Root).Any(d => Path.GetFileName(d) != "tmp"));
    }

    [Fact]
    public async Task EnsureAsync_LayerInflatesPastQuota_StoreFullAndNoLayerKept()
    {
        // 64 MiB of zeros compresses to about 64 KB: the manifest's sizes fit the 8 MB quota, the unpacked layer does not.
        byte[] tar = ZeroFileTar("zeros", 64 << 20);
        byte[] gz = Gzip(tar);
        string config = $"{{\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{Sha(tar)}\"]}}}}";
        var (store, image) = await StoreAsync(new ImageStore(Path.Combine(_dir, "graph")), config, (gz, MediaTypes.OciLayerGzip));
        long quota = 8_000_000;
        long usedBefore = store.UsedBytes();
        var layers = new LayerStore(store, quota);

        var e = await Assert.ThrowsAsync<StoreFullException>(() => layers.EnsureAsync(image, WhiteoutMode.Overlay, CancellationToken.None));

        Assert.Contains("not enough space in the image store", e.Message, StringComparison.Ordinal);
        Assert.Contains("of quota 8MB", e.Message, StringComparison.Ordinal);
        Assert.Contains("wharf image prune", e.Message, StringComparison.Ordinal);
        Assert.Equal(usedBefore, store.UsedBytes());
        Assert.DoesNotContain(Directory.EnumerateDirectories(layers.Root), d => Path.GetFileName(d) != "tmp");
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(layers.Root, "tmp")));
    }

    [Fact]
    public async Task EnsureAsync_LayerWithinQuota_UnpackedAndCountedAsStoreUsage()
    {
        byte[] tar = ZeroFileTar("zeros", 4 << 20);
        byte[] gz = Gzip(tar);
        string config = $"{{\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{Sha(tar)}\"]}}}}";
        var (store, image) = await StoreAsync(new ImageStore(Path.Combine(_dir, "graph")), config, (gz, MediaTypes.OciLayerGzip));
        long usedBefore = store.UsedBytes();
        var layers = new LayerStore(store, quota: 8 << 20);

        var unpacked = await layers.EnsureAsync(image, WhiteoutMode.Overlay, CancellationToken.None);

        Assert.Equal(4 << 20, new FileInfo(Path.Combine(unpacked.LayerDirs[0], "zeros")).Length);
        Assert.True(store.UsedBytes() >= usedBefore + (4 << 20));
    }

    private static byte[] ZeroFileTar(string name, int size)
    {
        using var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(new byte[size]), Mode = (UnixFileMode)0x1A4 });
        }

        return ms.ToArray();
    }
}
