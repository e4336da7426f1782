namespace Wharf.Cli.Tests.Images;

[Collection("registry")]
public class SaveLoadTests(RegistryFixture registry)
{
    [Theory]
    [InlineData("docker-archive")]
    [InlineData("oci-archive")]
    public void Save_Archive_PodmanLoadsSameImageId(string format)
    {
        using var wharf = new WharfRunner();
        wharf.Run("pull", "-q", "--tls-verify=false", $"{registry.Open}/lab/fixture:1");
        wharf.Run("tag", "fixture:1", "saved:v3");
        string archive = Path.Combine(wharf.Dir, "image.tar");

        var save = wharf.Run("save", "--format", format, "-o", archive, "saved:v3");

        Assert.Equal(0, save.ExitCode);
        Assert.Empty(save.Stdout);
        string podmanStore = Path.Combine(wharf.Dir, "podman");
        string loaded = RegistryFixture.PodmanAt(podmanStore, "load", "-i", archive);
        Assert.Contains("localhost/saved:v3", loaded, StringComparison.Ordinal);
        Assert.Equal(registry.ImageId, RegistryFixture.PodmanAt(podmanStore, "inspect", "--format", "{{.Id}}", "localhost/saved:v3").Trim());
    }

    [Theory]
    [InlineData("docker-archive")]
    [InlineData("oci-archive")]
    public void Load_PodmanSavedArchive_LoadedImageLineAndSameId(string format)
    {
        using var wharf = new WharfRunner();
        string archive = Path.Combine(wharf.Dir, "podman.tar");
        registry.Podman("save", "--format", format, "-o", archive, "localhost/fixture:1");

        var load = wharf.Run("load", "-i", archive);

        Assert.Equal(0, load.ExitCode);
        Assert.Equal("Loaded image: localhost/fixture:1\n", load.Stdout);
        Assert.Equal(registry.ImageId + "\n", wharf.Run("inspect", "--format", "{{.Id}}", "localhost/fixture:1").Stdout);
    }

    [Theory]
    [InlineData("diff-id")]
    [InlineData("truncated")]
    public void Load_DockerArchiveLayerNotWhatConfigSays_Exit125StoreUnchanged(string damage)
    {
        using var wharf = new WharfRunner();
        string dir = Path.Combine(wharf.Dir, "archive");
        Directory.CreateDirectory(dir);
        registry.Podman("save", "--format", "docker-archive", "-o", Path.Combine(wharf.Dir, "good.tar"), "localhost/fixture:1");
        Tools.Check("tar", "-C", dir, "-xf", Path.Combine(wharf.Dir, "good.tar"));
        var entry = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json")))!.AsArray()[0]!;
        string layer = Path.Combine(dir, entry["Layers"]![0]!.GetValue<string>());
        if (damage == "truncated")
        {
            // Cut mid-file: what an interrupted copy of the archive leaves.
            byte[] bytes = File.ReadAllBytes(layer);
            File.WriteAllBytes(layer, bytes[..(bytes.Length / 2)]);
        }
        else
        {
            string config = Path.Combine(dir, entry["Config"]!.GetValue<string>());
            var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(config))!;
            node["rootfs"]!["diff_ids"]![0] = "sha256:" + new string('0', 64);
            File.WriteAllText(config, node.ToJsonString());
        }

        string damaged = Path.Combine(wharf.Dir, "damaged.tar");
        Tools.Check("tar", "-C", dir, "-cf", damaged, ".");

        var load = wharf.Run("load", "-i", damaged);

        Assert.Equal(125, load.ExitCode);
        Assert.Contains($"\nError: layer {entry["Layers"]![0]!.GetValue<string>()}: ", load.Stderr, StringComparison.Ordinal);
        Assert.Empty(wharf.Run("images", "-q").Stdout);
        string blobs = Path.Combine(wharf.GraphRoot, "wharf", "blobs", "sha256");
        Assert.Empty(Directory.Exists(blobs) ? Directory.GetFiles(blobs) : []);
    }

    /// <summary>
    /// A docker-archive whose layer is gzip with bytes after the member: zero padding (some
    /// writers pad to a block) loads, without the padding, and checks clean; anything else is
    /// refused with nothing stored.
    /// </summary>
    [Theory]
    [InlineData("zeros", 0)]
    [InlineData("garbage", 125)]
    public void Load_DockerArchiveGzipLayerWithTrailingBytes_ZerosAcceptedGarbageRefused(string tail, int exitCode)
    {
        using var wharf = new WharfRunner();
        string dir = Path.Combine(wharf.Dir, "archive");
        Directory.CreateDirectory(dir);
        registry.Podman("save", "--format", "docker-archive", "-o", Path.Combine(wharf.Dir, "good.tar"), "localhost/fixture:1");
        Tools.Check("tar", "-C", dir, "-xf", Path.Combine(wharf.Dir, "good.tar"));
        var entry = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json")))!.AsArray()[0]!;
        string layer = Path.Combine(dir, entry["Layers"]![0]!.GetValue<string>());
        using (var gz = new MemoryStream())
        {
            using (var zip = new System.IO.Compression.GZipStream(gz, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            {
                zip.Write(File.ReadAllBytes(layer));
            }

            File.WriteAllBytes(layer, [.. gz.ToArray(), .. tail == "zeros" ? new byte[2048] : "not gzip"u8.ToArray()]);
        }

        string archive = Path.Combine(wharf.Dir, "padded.tar");
        Tools.Check("tar", "-C", dir, "-cf", archive, ".");

        var load = wharf.Run("load", "-i", archive);

        Assert.True(load.ExitCode == exitCode, load.Stderr);
        if (exitCode == 0)
        {
            Assert.Equal(registry.ImageId + "\n", wharf.Run("inspect", "--format", "{{.Id}}", "localhost/fixture:1").Stdout);
            var check = wharf.Run("system", "check");
            Assert.True(check.ExitCode == 0 && check.Stdout.Length == 0, check.Stdout + check.Stderr);

            // The padding is not stored: podman, which refuses it ("gzip: invalid header"), loads
            // the image wharf saves with its blobs as stored.
            string oci = Path.Combine(wharf.Dir, "out.tar");
            Assert.Equal(0, wharf.Run("save", "--format", "oci-archive", "-o", oci, "localhost/fixture:1").ExitCode);
            string podmanStore = Path.Combine(wharf.Dir, "podman");
            RegistryFixture.PodmanAt(podmanStore, "load", "-i", oci);
            Assert.Equal(registry.ImageId, RegistryFixture.PodmanAt(podmanStore, "inspect", "--format", "{{.Id}}", "localhost/fixture:1").Trim());
        }
        else
        {
            Assert.Contains("the gzip stream is truncated", load.Stderr, StringComparison.Ordinal);
            Assert.Empty(wharf.Run("images", "-q").Stdout);
        }
    }

    [Fact]
    public void SaveToStdoutThenLoadFromStdin_RoundTrips()
    {
        using var wharf = new WharfRunner();
        wharf.Run("pull", "-q", "--tls-verify=false", $"{registry.Open}/lab/fixture:1");
        Assert.Equal(0, wharf.Run("save", "fixture:1").ExitCode);
        byte[] archive = wharf.BinaryStdout.ToArray();
        Assert.Equal(0, wharf.Run("rmi", "-a").ExitCode);

        wharf.StdinBytes = archive;
        var load = wharf.Run("load");

        Assert.Equal($"Loaded image: {registry.Open}/lab/fixture:1\n", load.Stdout);
    }

    [Fact]
    public void Save_OciDir_LayoutWithRefName()
    {
        using var wharf = new WharfRunner();
        wharf.Run("pull", "-q", "--tls-verify=false", $"{registry.Open}/lab/fixture:1");
        string dir = Path.Combine(wharf.Dir, "layout");

        Assert.Equal(0, wharf.Run("save", "--format", "oci-dir", "-o", dir, "fixture:1").ExitCode);

        Assert.True(File.Exists(Path.Combine(dir, "oci-layout")));
        Assert.Contains($"\"org.opencontainers.image.ref.name\":\"{registry.Open}/lab/fixture:1\"", File.ReadAllText(Path.Combine(dir, "index.json")), StringComparison.Ordinal);
        Assert.Equal(0, wharf.Run("rmi", "-a").ExitCode);
        Assert.Equal($"Loaded image: {registry.Open}/lab/fixture:1\n", wharf.Run("load", "-i", dir).Stdout);
    }

    [Fact]
    public void Load_OciLayoutLayerIsAGzipStreamWithoutEnd_Exit125NothingRecorded()
    {
        // The 15-byte gzip stream with no end that commit once wrote for an empty diff: its digest
        // matches, so a copy alone accepts it, but no tar reader can read it as a layer.
        using var wharf = new WharfRunner();
        string dir = Path.Combine(wharf.Dir, "layout");
        byte[] layer = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1, 0, 0, 0xff, 0xff];
        byte[] config = System.Text.Encoding.UTF8.GetBytes(
            "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"]}}");
        byte[] manifest = System.Text.Encoding.UTF8.GetBytes(
            $"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"{Blob(dir, config)}\",\"size\":{config.Length}}},"
            + $"\"layers\":[{{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"{Blob(dir, layer)}\",\"size\":{layer.Length}}}]}}");
        File.WriteAllText(Path.Combine(dir, "index.json"),
            $"{{\"schemaVersion\":2,\"manifests\":[{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{Blob(dir, manifest)}\",\"size\":{manifest.Length},\"annotations\":{{\"org.opencontainers.image.ref.name\":\"localhost/unended:1\"}}}}]}}");
        File.WriteAllText(Path.Combine(dir, "oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");

        var load = wharf.Run("load", "-i", dir);

        Assert.Equal(125, load.ExitCode);
        Assert.StartsWith($"Error: layer {Blob(dir, layer)}: ", load.ErrLines[^1], StringComparison.Ordinal);
        Assert.Empty(wharf.Run("images", "-q").Stdout);
        Assert.Equal(0, wharf.Run("system", "check").ExitCode);

        static string Blob(string dir, byte[] content)
        {
            string hex = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content));
            Directory.CreateDirectory(Path.Combine(dir, "blobs", "sha256"));
            File.WriteAllBytes(Path.Combine(dir, "blobs", "sha256", hex), content);
            return "sha256:" + hex;
        }
    }

    [Fact]
    public void Import_EmptyFile_AnEmptyTarLayerThatTarAndPodmanRead()
    {
        // podman imports an empty file as a zero-byte layer (the diff ID of an empty string), which
        // registries and tar readers reject; wharf writes the empty diff as a valid empty tar.
        using var wharf = new WharfRunner();
        string empty = Path.Combine(wharf.Dir, "empty.tar");
        File.WriteAllBytes(empty, []);

        var import = wharf.Run("import", "-q", empty, "localhost/empty:1");

        Assert.True(import.ExitCode == 0, import.Stderr);
        const string EmptyTar = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";
        Assert.Equal($"[{EmptyTar}]\n", wharf.Run("image", "inspect", "--format", "{{.RootFS.Layers}}", "localhost/empty:1").Stdout);
        string blob = Path.Combine(wharf.GraphRoot, "wharf", "blobs", "sha256", EmptyTar["sha256:".Length..]);
        Assert.Equal(new byte[1024], File.ReadAllBytes(blob));
        Tools.Check("tar", "-tf", blob);
        Assert.Equal(0, wharf.Run("system", "check").ExitCode);

        // podman reads it back from a docker-archive wharf saves.
        string archive = Path.Combine(wharf.Dir, "empty-saved.tar");
        Assert.Equal(0, wharf.Run("save", "-q", "-o", archive, "localhost/empty:1").ExitCode);
        string podmanStore = Path.Combine(wharf.Dir, "podman");
        try
        {
            Assert.Contains("localhost/empty:1", RegistryFixture.PodmanAt(podmanStore, "load", "-i", archive), StringComparison.Ordinal);
        }
        finally
        {
            RegistryFixture.PodmanAt(podmanStore, "system", "reset", "-f");
        }
    }

    [Fact]
    public void Load_NotAnArchive_ErrorAndExit125()
    {
        using var wharf = new WharfRunner();
        string junk = Path.Combine(wharf.Dir, "junk.tar");
        File.WriteAllText(junk, "not a tar at all, not even close to one....");

        var result = wharf.Run("load", "-i", junk);

        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith("Error: ", result.ErrLines[^1], StringComparison.Ordinal);
    }
}

[Collection("registry")]
public class SystemAndUntagTests(RegistryFixture registry)
{
    [Fact]
    public void Untag_AllNames_ImageStaysDangling()
    {
        using var wharf = new WharfRunner();
        wharf.Run("pull", "-q", "--tls-verify=false", $"{registry.Open}/lab/fixture:1");

        Assert.Equal(0, wharf.Run("untag", "fixture:1").ExitCode);

        Assert.Equal("<none> <none>\n", wharf.Run("images", "--format", "{{.Repository}} {{.Tag}}").Stdout);
        Assert.Equal(registry.ImageId + "\n", wharf.Run("image", "prune", "-f").Stdout);
        Assert.Empty(wharf.Run("images", "-q").Stdout);
    }

    [Fact]
    public void SystemDf_OneImage_ImagesRowCountsIt()
    {
        using var wharf = new WharfRunner();
        wharf.Run("pull", "-q", "--tls-verify=false", $"{registry.Open}/lab/fixture:1");

        string[] lines = wharf.Run("system", "df").Stdout.Split('\n');

        Assert.Equal("TYPE           TOTAL       ACTIVE      SIZE        RECLAIMABLE", lines[0]);
        Assert.Matches(@"^Images         1           0           [0-9.]+kB +[0-9.]+kB \(100%\)$", lines[1]);
    }

    [Fact]
    public void SystemDf_QuotaFromStorageConf_LimitLineAfterTable()
    {
        using var wharf = new WharfRunner();
        File.WriteAllText(Path.Combine(wharf.Dir, "etc", "wharf.conf"), "[storage]\nquota = \"50GB\"\n");
        wharf.Run("pull", "-q", "--tls-verify=false", $"{registry.Open}/lab/fixture:1");

        string[] lines = wharf.Run("system", "df").Stdout.Split('\n');

        Assert.Equal("TYPE           TOTAL       ACTIVE      SIZE        RECLAIMABLE", lines[0]);
        Assert.Matches(@"^Image store: [0-9.]+kB used, quota 50GB \(0%\ used\), [0-9.]+[kMGT]?B free on the filesystem$", lines[4]);
    }

    [Fact]
    public void Pull_OverQuota_Exit125NeedsAndFreeAndNothingStored()
    {
        using var wharf = new WharfRunner();
        wharf.Variables["WHARF_STORAGE_QUOTA"] = "1KB";

        var pull = wharf.Run("pull", "--tls-verify=false", $"{registry.Open}/lab/fixture:1");

        Assert.Equal(125, pull.ExitCode);
        string error = pull.ErrLines[^1];
        Assert.StartsWith($"Error: pulling {registry.Open}/lab/fixture:1: not enough space in the image store: needs ", error, StringComparison.Ordinal);
        Assert.Contains("free of quota 1kB (used 0B); remove images with \"wharf rmi\" or \"wharf image prune\"", error, StringComparison.Ordinal);
        Assert.DoesNotContain(pull.ErrLines, l => l.StartsWith("Copying blob", StringComparison.Ordinal));
        Assert.Empty(Directory.GetFiles(Path.Combine(wharf.GraphRoot, "wharf", "blobs"), "*", SearchOption.AllDirectories));
        Assert.Empty(wharf.Run("images", "-q").Stdout);
    }

    [Fact]
    public void SystemReset_RootNotAStore_RefusedExit125()
    {
        using var wharf = new WharfRunner();
        string home = Path.Combine(wharf.Dir, "home-of-someone");
        Directory.CreateDirectory(Path.Combine(home, "projects"));

        var reset = wharf.Run("system", "reset", "--root", home, "-f");

        Assert.Equal(125, reset.ExitCode);
        Assert.Contains("is not a container storage root", reset.Stderr, StringComparison.Ordinal);
        Assert.True(Directory.Exists(Path.Combine(home, "projects")));
    }

    [Fact]
    public void SystemReset_Force_RemovesGraphRoot()
    {
        using var wharf = new WharfRunner();
        wharf.Run("pull", "-q", "--tls-verify=false", $"{registry.Open}/lab/fixture:1");
        Assert.True(Directory.Exists(wharf.GraphRoot));

        Assert.Equal(0, wharf.Run("system", "reset", "-f").ExitCode);

        Assert.False(Directory.Exists(wharf.GraphRoot));
        Assert.Equal(0, wharf.Run("images").ExitCode);
    }

    [Fact]
    public void GlobalRoot_OverridesStorageConf()
    {
        using var wharf = new WharfRunner();
        string other = Path.Combine(wharf.Dir, "other-root");

        wharf.Run("--root", other, "pull", "-q", "--tls-verify=false", $"{registry.Open}/lab/fixture:1");

        Assert.True(File.Exists(Path.Combine(other, "wharf", "images.json")));
        Assert.Empty(wharf.Run("images", "-q").Stdout);
        Assert.Equal(registry.ImageId[..12] + "\n", wharf.Run("--root", other, "images", "-q").Stdout);
        Assert.Contains("graphRoot: " + other, wharf.Run("--root", other, "info").Stdout, StringComparison.Ordinal);
    }
}
