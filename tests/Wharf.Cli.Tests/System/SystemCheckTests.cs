using System.Text.Json.Nodes;

namespace Wharf.Cli.Tests.SystemVerbs;

/// <summary>
/// podman's "corrupt images" cases for wharf: a layer blob deleted or cut short behind the store's
/// back. The rest of the CLI keeps working, <c>system check</c> says what is wrong, and rmi, pull
/// or <c>system check --repair</c> each put it right.
/// </summary>
[Collection("registry")]
public sealed class SystemCheckTests(RegistryFixture registry) : IDisposable
{
    private readonly WharfRunner _wharf = new();

    public void Dispose() => _wharf.Dispose();

    private string Name => $"{registry.Open}/lab/fixture:1";

    /// <summary>The pulled image's (only) layer blob file and its digest; of the image named <paramref name="name"/> when there are several.</summary>
    private (string Path, string Digest) LayerBlob(string? name = null)
    {
        var index = JsonNode.Parse(File.ReadAllText(System.IO.Path.Combine(_wharf.GraphRoot, "wharf", "images.json")))!.AsArray();
        var image = name is null ? index.Single() : index.Single(i => i!["names"]!.AsArray().Any(n => n!.GetValue<string>() == name));
        string digest = image!["blobs"]!.AsArray()[^1]!.GetValue<string>();
        return (System.IO.Path.Combine(_wharf.GraphRoot, "wharf", "blobs", "sha256", digest["sha256:".Length..]), digest);
    }

    [Fact]
    public void Check_FreshPull_NothingPrintedExitZero()
    {
        Assert.Equal(0, _wharf.Run("pull", "-q", "--tls-verify=false", Name).ExitCode);

        var check = _wharf.Run("system", "check");

        Assert.Equal(0, check.ExitCode);
        Assert.Empty(check.Stdout);
    }

    [Fact]
    public void Check_LayerBlobDeleted_ImagesStillListsRmiRemovesIt()
    {
        Assert.Equal(0, _wharf.Run("pull", "-q", "--tls-verify=false", Name).ExitCode);
        var (path, digest) = LayerBlob();
        File.Delete(path);

        var images = _wharf.Run("images", "--format", "{{.Repository}}:{{.Tag}}");
        var check = _wharf.Run("system", "check");

        Assert.Equal(0, images.ExitCode);
        Assert.Equal(Name + "\n", images.Stdout);
        Assert.Equal(125, check.ExitCode);
        Assert.Equal($"image {registry.ImageId[..12]} ({Name}): layer blob {digest} is missing\n", check.Stdout);
        Assert.StartsWith("Error: checking storage: 1 problem(s) found", check.Stderr, StringComparison.Ordinal);

        Assert.Equal(0, _wharf.Run("rmi", Name).ExitCode);
        Assert.Empty(_wharf.Run("images", "-q").Stdout);
        Assert.Equal(0, _wharf.Run("system", "check").ExitCode);
    }

    [Fact]
    public void LayerBlobDeleted_ImagesListsTheRestPullRepairsRmiRemoves()
    {
        Assert.Equal(0, _wharf.Run("pull", "-q", "--tls-verify=false", Name).ExitCode);
        string rootfs = System.IO.Path.Combine(_wharf.Dir, "other");
        Directory.CreateDirectory(rootfs);
        File.WriteAllText(System.IO.Path.Combine(rootfs, "note"), "another image\n");
        string tar = System.IO.Path.Combine(_wharf.Dir, "other.tar");
        Tools.Check("tar", "-C", rootfs, "-cf", tar, ".");
        Assert.Equal(0, _wharf.Run("import", "-q", tar, "localhost/other:1").ExitCode);
        var (path, digest) = LayerBlob(Name);
        byte[] bytes = File.ReadAllBytes(path);
        File.Delete(path);

        // The broken image does not hide the healthy one, and the check names only the broken one.
        var images = _wharf.Run("images", "--format", "{{.Repository}}:{{.Tag}}");
        Assert.Equal(0, images.ExitCode);
        Assert.Equal([Name, "localhost/other:1"], images.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        var check = _wharf.Run("system", "check");
        Assert.Equal(125, check.ExitCode);
        Assert.Equal($"image {registry.ImageId[..12]} ({Name}): layer blob {digest} is missing\n", check.Stdout);

        // pull fetches the missing blob again.
        Assert.Equal(0, _wharf.Run("pull", "-q", "--tls-verify=false", Name).ExitCode);
        Assert.Equal(bytes, File.ReadAllBytes(path));
        Assert.Empty(_wharf.Run("system", "check").Stdout);

        // rmi of the broken image leaves the other one whole.
        File.Delete(path);
        Assert.Equal(0, _wharf.Run("rmi", Name).ExitCode);
        Assert.Equal("localhost/other:1\n", _wharf.Run("images", "--format", "{{.Repository}}:{{.Tag}}").Stdout);
        check = _wharf.Run("system", "check");
        Assert.True(check.ExitCode == 0 && check.Stdout.Length == 0, check.Stdout + check.Stderr);
    }

    [Fact]
    public void Pull_LayerBlobTruncated_RefetchedAndCheckClean()
    {
        Assert.Equal(0, _wharf.Run("pull", "-q", "--tls-verify=false", Name).ExitCode);
        var (path, digest) = LayerBlob();
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        Assert.Equal(125, _wharf.Run("system", "check", "--quick").ExitCode);

        var pull = _wharf.Run("pull", "-q", "--tls-verify=false", Name);

        Assert.Equal(0, pull.ExitCode);
        Assert.Equal(bytes, File.ReadAllBytes(path));
        var check = _wharf.Run("system", "check");
        Assert.Equal(0, check.ExitCode);
        Assert.Empty(check.Stdout);
        Assert.Equal(digest, LayerBlob().Digest);
    }

    [Fact]
    public void Check_RepairTruncatedLayer_RemovesBlobAndImageExitZero()
    {
        Assert.Equal(0, _wharf.Run("pull", "-q", "--tls-verify=false", Name).ExitCode);
        var (path, digest) = LayerBlob();
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..100]);

        var repair = _wharf.Run("system", "check", "--repair");

        Assert.Equal(0, repair.ExitCode);
        Assert.Contains($"Removed: image {registry.ImageId} ({Name})\n", repair.Stdout, StringComparison.Ordinal);
        Assert.Contains($"Removed: blob {digest}\n", repair.Stdout, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
        Assert.Empty(_wharf.Run("images", "-q").Stdout);
        Assert.Empty(_wharf.Run("system", "check").Stdout);
        Assert.Equal(0, _wharf.Run("pull", "-q", "--tls-verify=false", Name).ExitCode);
    }

    private string BlobFile(string digest) => System.IO.Path.Combine(_wharf.GraphRoot, "wharf", "blobs", "sha256", digest["sha256:".Length..]);

    private string ManifestDigest() =>
        JsonNode.Parse(File.ReadAllText(System.IO.Path.Combine(_wharf.GraphRoot, "wharf", "images.json")))!.AsArray().Single()!["digest"]!.GetValue<string>();

    [Fact]
    public void Save_ConfigBlobTruncated_OneErrorLineNothingWrittenPullRepairs()
    {
        Assert.Equal(0, _wharf.Run("pull", "-q", "--tls-verify=false", Name).ExitCode);
        string config = BlobFile("sha256:" + registry.ImageId);
        byte[] bytes = File.ReadAllBytes(config);
        File.WriteAllBytes(config, bytes[..(bytes.Length / 2)]);
        string archive = System.IO.Path.Combine(_wharf.Dir, "saved.tar");

        foreach (string format in new[] { "docker-archive", "oci-archive" })
        {
            var save = _wharf.Run("save", "-q", "--format", format, "-o", archive, Name);

            Assert.True(save.ExitCode == 125, $"{format}: exit {save.ExitCode}: {save.Stderr}");
            string line = Assert.Single(save.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("Error: ", line, StringComparison.Ordinal);
            Assert.Contains("sha256:" + registry.ImageId, line, StringComparison.Ordinal);
            Assert.False(File.Exists(archive), format);
        }

        Assert.Equal(0, _wharf.Run("pull", "-q", "--tls-verify=false", Name).ExitCode);
        Assert.Equal(bytes, File.ReadAllBytes(config));
        Assert.Equal(0, _wharf.Run("save", "-q", "-o", archive, Name).ExitCode);
    }

    [Fact]
    public void ManifestBlobDeleted_VerbsSayTheImageIsDamaged_ImagesListsItPullRepairs()
    {
        Assert.Equal(0, _wharf.Run("pull", "-q", "--tls-verify=false", Name).ExitCode);
        string manifest = ManifestDigest();
        File.Delete(BlobFile(manifest));

        Assert.Equal(Name + "\n", _wharf.Run("images", "--format", "{{.Repository}}:{{.Tag}}").Stdout);
        string archive = System.IO.Path.Combine(_wharf.Dir, "saved.tar");
        foreach (string[] args in new[] { new[] { "image", "inspect", Name }, ["history", Name], ["save", "-q", "-o", archive, Name] })
        {
            var r = _wharf.Run(args);
            Assert.True(r.ExitCode == 125, $"{string.Join(' ', args)}: exit {r.ExitCode}: {r.Stderr}");
            Assert.Equal(
                $"Error: blob {manifest} is missing from the image store; the image that needs it is damaged (\"wharf system check\" lists it, \"wharf rmi\" removes it, \"wharf pull\" fetches it again)\n",
                r.Stderr);
        }

        Assert.False(File.Exists(archive));
        Assert.Equal(0, _wharf.Run("pull", "-q", "--tls-verify=false", Name).ExitCode);
        Assert.Equal(0, _wharf.Run("image", "inspect", Name).ExitCode);
        Assert.Empty(_wharf.Run("system", "check").Stdout);
    }
}
