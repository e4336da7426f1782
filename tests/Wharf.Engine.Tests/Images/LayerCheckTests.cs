using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using Wharf.Engine.Containers;
using Wharf.Engine.Images;
using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine.Tests.Images;

/// <summary>Layers the writer makes from an empty or delete-only diff, and the read-back check before anything is stored.</summary>
public sealed class LayerCheckTests : IDisposable
{
    /// <summary>sha256 of 1024 zero bytes: the diff ID podman gives the layer of an unchanged container.</summary>
    private const string EmptyTarDiffId = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-layercheck-").FullName;
    private readonly ImageStore _store;
    private readonly ImageWriter _writer;

    public LayerCheckTests()
    {
        _store = new ImageStore(Path.Combine(_dir, "graph"));
        _writer = new ImageWriter(_store);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Inflate(string file)
    {
        using var gz = new GZipStream(File.OpenRead(file), CompressionMode.Decompress);
        using var tar = new MemoryStream();
        gz.CopyTo(tar);
        return tar.ToArray();
    }

    private string StoredBlobs() => string.Join(',', Directory.Exists(Path.Combine(_store.Root, "blobs", "sha256"))
        ? Directory.GetFiles(Path.Combine(_store.Root, "blobs", "sha256")).Select(Path.GetFileName)
        : []);

    [Fact]
    public async Task FromChangesAsync_NoChanges_EmptyTarWithEndOfArchiveBlocks()
    {
        string blob = Path.Combine(_dir, "empty.tar.gz");

        var layer = await Layer.FromChangesAsync([], blob, ImageFormat.Oci, default);

        byte[] tar = Inflate(blob);
        Assert.Equal(new byte[1024], tar);
        Assert.Equal(EmptyTarDiffId, layer.DiffId.ToString());
        Assert.Equal(1024, layer.UncompressedSize);
        Assert.Equal(new FileInfo(blob).Length, layer.Blob.Size);
        var stored = await _writer.WriteLayerAsync(layer, default);
        Assert.True(_store.HasBlob(stored));
    }

    [Fact]
    public async Task FromChangesAsync_DeleteOnly_WhiteoutInACompleteTar()
    {
        string upper = Path.Combine(_dir, "upper");
        Directory.CreateDirectory(Path.Combine(upper, "etc"));
        string blob = Path.Combine(_dir, "delete.tar.gz");

        var layer = await Layer.FromChangesAsync([new ContainerChange("/etc/motd", ChangeKind.Deleted, Path.Combine(upper, "etc", "motd"), Whiteout: true, Opaque: false)], blob, ImageFormat.Oci, default);

        byte[] tar = Inflate(blob);
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(tar)), layer.DiffId.ToString());
        Assert.Equal(new byte[1024], tar[^1024..]);
        var names = new List<string>();
        using (var reader = new TarReader(new MemoryStream(tar)))
        {
            while (reader.GetNextEntry() is { } e)
            {
                names.Add(e.Name);
            }
        }

        Assert.Equal(["etc/", "etc/.wh.motd"], names);
        await _writer.WriteLayerAsync(layer, default);
    }

    [Fact]
    public async Task WriteLayerAsync_GzipCutShort_ThrowsAndStoresNothing()
    {
        string blob = Path.Combine(_dir, "cut.tar.gz");
        var layer = await Layer.FromChangesAsync([], blob, ImageFormat.Oci, default);
        byte[] bytes = await File.ReadAllBytesAsync(blob);
        await File.WriteAllBytesAsync(blob, bytes[..15]);

        await Assert.ThrowsAsync<WharfException>(() => _writer.WriteLayerAsync(layer with { Blob = layer.Blob with { Size = 15, Digest = Digest.Compute(bytes[..15]) } }, default));

        Assert.Equal(string.Empty, StoredBlobs());
    }

    [Fact]
    public async Task WriteLayerAsync_DiffIdNotTheContents_ThrowsAndStoresNothing()
    {
        string blob = Path.Combine(_dir, "l.tar.gz");
        var layer = await Layer.FromChangesAsync([], blob, ImageFormat.Oci, default);

        var e = await Assert.ThrowsAsync<WharfException>(() => _writer.WriteLayerAsync(layer with { DiffId = Digest.Compute([1, 2, 3]) }, default));

        Assert.Contains("diff ID", e.Message, StringComparison.Ordinal);
        Assert.Equal(string.Empty, StoredBlobs());
    }

    [Fact]
    public async Task VerifyAsync_TarWithoutEndBlocks_Throws()
    {
        // A well-formed gzip around a tar that just stops after its one entry.
        string file = Path.Combine(_dir, "noend.tar.gz");
        using (var raw = new MemoryStream())
        {
            using (var writer = new TarWriter(raw, leaveOpen: true))
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "etc/"));
            }

            byte[] tar = raw.ToArray()[..^1024];
            using var gz = new GZipStream(File.Create(file), CompressionLevel.Fastest);
            gz.Write(tar);
        }

        var e = await Assert.ThrowsAsync<WharfException>(() => LayerCheck.VerifyAsync(file, null, null, default));

        Assert.Contains("end-of-archive", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A gzip member around a one-file tar, then <paramref name="after"/>; returns the file.</summary>
    private string GzipLayer(string name, byte[] after, int cut = 0)
    {
        using var raw = new MemoryStream();
        using (var writer = new TarWriter(raw, leaveOpen: true))
        {
            var entry = new PaxTarEntry(TarEntryType.RegularFile, "etc/motd") { DataStream = new MemoryStream(RandomNumberGenerator.GetBytes(3000)) };
            writer.WriteEntry(entry);
        }

        using var gz = new MemoryStream();
        using (var zip = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
        {
            zip.Write(raw.ToArray());
        }

        string file = Path.Combine(_dir, name);
        File.WriteAllBytes(file, [.. gz.ToArray()[..^cut], .. after]);
        return file;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(512)]
    [InlineData(10_000)]
    public async Task VerifyAsync_GzipFollowedByZeroPadding_Accepted(int padding)
    {
        string file = GzipLayer("padded.tar.gz", new byte[padding]);

        var result = await LayerCheck.VerifyAsync(file, null, null, default);

        // The padding is part of the blob (its digest and size), not of the tar (the diff ID).
        Assert.Equal(new FileInfo(file).Length, result.Size);
        Assert.Equal(Digest.Compute(File.ReadAllBytes(file)), result.Digest);
        Assert.Equal(Digest.Compute(Inflate(file)), result.DiffId);
        Assert.Equal(new FileInfo(file).Length - padding, result.StreamEnd);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("zeros-then-garbage")]
    public async Task VerifyAsync_GzipFollowedByOtherBytes_Throws(string tail)
    {
        byte[] after = tail == "garbage" ? "garbage"u8.ToArray() : [.. new byte[600], .. "x"u8.ToArray()];
        string file = GzipLayer("garbage.tar.gz", after);

        var e = await Assert.ThrowsAsync<WharfException>(() => LayerCheck.VerifyAsync(file, null, null, default));

        Assert.Contains("gzip stream is truncated", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(100)]
    public async Task VerifyAsync_GzipCutShortThenZeroPadded_Throws(int cut)
    {
        // What a copy that stopped early and was padded to a block boundary looks like.
        string file = GzipLayer("cut-padded.tar.gz", new byte[1024], cut);

        await Assert.ThrowsAsync<WharfException>(() => LayerCheck.VerifyAsync(file, null, null, default));
    }

    [Fact]
    public async Task WriteLayerAsync_GzipZeroPadded_StoredWithItsPadding()
    {
        string blob = Path.Combine(_dir, "l.tar.gz");
        var layer = await Layer.FromChangesAsync([], blob, ImageFormat.Oci, default);
        byte[] padded = [.. await File.ReadAllBytesAsync(blob), .. new byte[1024]];
        await File.WriteAllBytesAsync(blob, padded);

        var stored = await _writer.WriteLayerAsync(layer with { Blob = layer.Blob with { Size = padded.Length, Digest = Digest.Compute(padded) } }, default);

        Assert.Equal(Digest.Compute(padded), stored.Digest);
        Assert.Equal(padded.Length, stored.Size);
        Assert.True(_store.HasBlob(stored));
    }

    [Fact]
    public async Task WriteLayerAsync_ArchiveLayerZeroPadded_StoredWithoutThePadding()
    {
        // A docker-archive's layer file: the padding is read past, and the blob is the member alone.
        string file = GzipLayer("archived.tar.gz", []);
        byte[] member = File.ReadAllBytes(file);
        File.WriteAllBytes(file, [.. member, .. new byte[700]]);

        var (blob, tarSize) = await _writer.WriteLayerAsync(file, Digest.Compute(Inflate(file)), "layer.tar", default);

        Assert.Equal(Digest.Compute(member), blob.Digest);
        Assert.Equal(member.Length, blob.Size);
        Assert.Equal(Inflate(file).Length, tarSize);
        Assert.True(_store.HasBlob(blob));
        Assert.False(File.Exists(file + ".member"));
    }

    [Fact]
    public async Task VerifyAsync_PlainTar_DiffIdIsTheBlobDigest()
    {
        string file = Path.Combine(_dir, "plain.tar");
        await File.WriteAllBytesAsync(file, new byte[1024]);

        var result = await LayerCheck.VerifyAsync(file, Digest.Parse(EmptyTarDiffId), null, default);

        Assert.Equal(result.Digest, result.DiffId);
        Assert.Equal(1024, result.Size);
    }

    [Fact]
    public async Task Register_GarbageCollectedBeforeRegistering_BlobsKept()
    {
        // An rmi in another process collects what no image names; the new image's blobs are held until it is recorded.
        var layer = await Layer.FromChangesAsync([], Path.Combine(_dir, "l.tar.gz"), ImageFormat.Oci, default);
        var stored = await _writer.WriteLayerAsync(layer, default);
        var config = new ImageConfig { Architecture = "amd64", Os = "linux", RootFs = new RootFs { DiffIds = [layer.DiffId.ToString()] } };
        var image = await _writer.WriteAsync(config, [stored], ImageFormat.Oci, default);

        _store.Locked(_store.CollectGarbage);
        var record = _writer.Register(image, "localhost/held:1", [], TimeProvider.System);

        Assert.Equal(image.Id, record.Id);
        Assert.Empty(Directory.GetFiles(Path.Combine(_store.Root, "inflight")));
        _store.Locked(_store.CollectGarbage);
        Assert.True(_store.HasBlob(stored));
    }

    [Fact]
    public async Task Register_BlobMissing_ThrowsAndIndexUnchanged()
    {
        var config = new ImageConfig { Architecture = "amd64", Os = "linux", RootFs = new RootFs { DiffIds = [EmptyTarDiffId] } };
        var missing = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Parse("sha256:" + new string('c', 64)), Size = 34 };
        var image = await _writer.WriteAsync(config, [missing], ImageFormat.Oci, default);

        Assert.Throws<WharfException>(() => _writer.Register(image, "localhost/broken:1", [], TimeProvider.System));

        Assert.Empty(_store.ReadImages());
    }
}
