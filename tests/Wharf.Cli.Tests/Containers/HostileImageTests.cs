using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace Wharf.Cli.Tests.Containers;

/// <summary>Images crafted to break the engine: loaded as an OCI layout, then used for a container.</summary>
public class HostileImageTests
{
    [Theory]
    [InlineData("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[null]}}", "rootfs.diff_ids[0] is null, not a digest string")]
    [InlineData("{\"architecture\":\"amd64\",\"os\":\"linux\"}", "config has no \"rootfs\" object")]
    [InlineData("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", "1 layers but 0 diff IDs in its config")]
    public void Load_HostileDiffIds_ErrorLineAndExit125_NothingStored(string config, string expected)
    {
        // load reads every layer back against the config's diff IDs before it records the image, so a
        // config that cannot describe its layers is refused there, and no container can be made of it.
        using var wharf = new WharfRunner();
        byte[] layer = Tar(("etc/x", new byte[] { 1 }));
        string layout = Layout(wharf.Dir, config, layer);

        var load = wharf.Run("load", "-i", layout);

        Assert.Equal(125, load.ExitCode);
        string line = Assert.Single(load.ErrLines, l => l.StartsWith("Error: ", StringComparison.Ordinal));
        Assert.StartsWith("Error: image ", line, StringComparison.Ordinal);
        Assert.EndsWith(expected, line, StringComparison.Ordinal);
        Assert.Empty(wharf.Run("images", "-q").Stdout);
        Assert.Equal(125, wharf.Run("create", "localhost/hostile:1", "/bin/true").ExitCode);
        Assert.Empty(wharf.Run("ps", "-a", "-q").Stdout);
    }

    [Fact]
    public void Create_LayerInflatingPastQuota_StoreFullErrorAndNothingKept()
    {
        // 64 MiB of zeros gzips to about 64 KB: pull and load sizes fit a 10 MB quota, the unpacked layer does not.
        using var wharf = new WharfRunner();
        byte[] tar = Tar(("zeros", new byte[64 << 20]));
        string config = $"{{\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{Sha(tar)}\"]}}}}";
        string layout = Layout(wharf.Dir, config, Gzip(tar), gzip: true);
        wharf.Variables["WHARF_STORAGE_QUOTA"] = "10MB";
        Assert.Equal(0, wharf.Run("load", "-i", layout).ExitCode);

        var create = wharf.Run("create", "localhost/hostile:1", "/bin/true");

        Assert.Equal(125, create.ExitCode);
        string line = Assert.Single(create.ErrLines);
        Assert.StartsWith("Error: unpacking layer sha256:", line, StringComparison.Ordinal);
        Assert.Contains("not enough space in the image store", line, StringComparison.Ordinal);
        Assert.Contains("of quota 10MB", line, StringComparison.Ordinal);
        long unpacked = Directory.Exists(Path.Combine(wharf.GraphRoot, "wharf", "layers"))
            ? Directory.EnumerateFiles(Path.Combine(wharf.GraphRoot, "wharf", "layers"), "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length)
            : 0;
        Assert.Equal(0, unpacked);
    }

    /// <summary>An OCI image layout with one image, <c>localhost/hostile:1</c>, of this config and layer.</summary>
    internal static string Layout(string dir, string config, byte[] layer, bool gzip = false)
    {
        string root = Path.Combine(dir, "layout");
        string blobs = Path.Combine(root, "blobs", "sha256");
        Directory.CreateDirectory(blobs);
        string Put(byte[] bytes)
        {
            string digest = Sha(bytes);
            File.WriteAllBytes(Path.Combine(blobs, digest[7..]), bytes);
            return digest;
        }

        byte[] configBytes = Encoding.UTF8.GetBytes(config);
        string layerType = gzip ? "application/vnd.oci.image.layer.v1.tar+gzip" : "application/vnd.oci.image.layer.v1.tar";
        string configDescriptor = $"{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"{Put(configBytes)}\",\"size\":{configBytes.Length}}}";
        string layerDescriptor = $"{{\"mediaType\":\"{layerType}\",\"digest\":\"{Put(layer)}\",\"size\":{layer.Length}}}";
        byte[] manifest = Encoding.UTF8.GetBytes(
            $"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{configDescriptor},\"layers\":[{layerDescriptor}]}}");
        File.WriteAllText(Path.Combine(root, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""");
        File.WriteAllText(Path.Combine(root, "index.json"),
            $$$"""{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{{{Put(manifest)}}}","size":{{{manifest.Length}}},"annotations":{"org.opencontainers.image.ref.name":"localhost/hostile:1"}}]}""");
        return root;
    }

    private static byte[] Tar(params (string Name, byte[] Content)[] files)
    {
        using var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (name, content) in files)
            {
                w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content), Mode = (UnixFileMode)0x1A4 });
            }
        }

        return ms.ToArray();
    }

    private static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true))
        {
            gz.Write(data);
        }

        return ms.ToArray();
    }

    internal static string Sha(byte[] b) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(b));
}
