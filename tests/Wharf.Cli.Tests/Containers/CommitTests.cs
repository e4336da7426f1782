using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace Wharf.Cli.Tests.Containers;

/// <summary>commit: the layer tar's exact shape, the new config and manifest.</summary>
[Collection("containers")]
public sealed class CommitTests(ContainerFixture fixture) : IDisposable
{
    private readonly WharfProcess _wharf = new();

    public void Dispose() => _wharf.Dispose();

    private string Blob(string digest) => Path.Combine(_wharf.GraphRoot, "wharf", "blobs", "sha256", digest["sha256:".Length..]);

    private (JsonObject Manifest, JsonObject Config) Image(string id)
    {
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(_wharf.GraphRoot, "wharf", "images.json")))!.AsArray();
        var record = index.First(i => i!["id"]!.GetValue<string>() == id)!;
        var manifest = JsonNode.Parse(File.ReadAllBytes(Blob(record["digest"]!.GetValue<string>())))!.AsObject();
        var config = JsonNode.Parse(File.ReadAllBytes(Blob(manifest["config"]!["digest"]!.GetValue<string>())))!.AsObject();
        return (manifest, config);
    }

    [Fact]
    public void Commit_UnchangedContainer_EmptyTarLayerPodmanPulls()
    {
        _wharf.Check("run", "--name", "same", "--pull", "always", "--tls-verify=false", fixture.Image, "true");

        string id = _wharf.Check("commit", "-q", "same", "unchanged:1").Trim();

        // podman's layer for no changes: an empty tar of two zero blocks, gzipped and closed.
        var (manifest, config) = Image(id);
        string layer = manifest["layers"]!.AsArray()[^1]!["digest"]!.GetValue<string>();
        using var tar = new MemoryStream();
        using (var gzip = new GZipStream(File.OpenRead(Blob(layer)), CompressionMode.Decompress))
        {
            gzip.CopyTo(tar);
        }

        Assert.Equal(new byte[1024], tar.ToArray());
        Assert.Equal("sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef", config["rootfs"]!["diff_ids"]!.AsArray()[^1]!.GetValue<string>());
        string pushed = $"{fixture.Registry}/lab/unchanged:1";
        _wharf.Check("push", "--tls-verify=false", "--creds", ContainerFixture.Creds, "unchanged:1", pushed);
        string podmanDir = Path.Combine(_wharf.Dir, "podman");
        Assert.Equal(id, ContainerFixture.PodmanAt(podmanDir, "pull", "-q", "--tls-verify=false", pushed).Trim());
        Assert.Equal("from the image\n", ContainerFixture.PodmanAt(podmanDir, "run", "--rm", "--network", "none",
            "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", pushed, "cat", "/etc/motd"));
        Tools.Run("podman", "--root", Path.Combine(podmanDir, "storage"), "--runroot", Path.Combine(podmanDir, "run"), "--tmpdir", Path.Combine(podmanDir, "tmp"), "--storage-driver", "vfs", "system", "reset", "-f");
    }

    [Fact]
    public void CommitAndBuild_DeleteOnlyAndNoChangeSteps_PodmanPullsAndRunsThem()
    {
        // A commit whose only change is a deletion, then a build on it with a step that changes nothing
        // and one that only deletes: every layer they write must be one podman takes.
        _wharf.Check("run", "--name", "deleter", "--pull", "always", "--tls-verify=false", fixture.Image, "rm", "/etc/motd");
        _wharf.Check("commit", "-q", "deleter", "deleted:1");
        string context = Path.Combine(_wharf.Dir, "ctx");
        Directory.CreateDirectory(context);
        File.WriteAllText(Path.Combine(context, "Containerfile"), "FROM deleted:1\nRUN true\nRUN rm /opt/notexec\nRUN test ! -e /etc/motd\n");
        _wharf.Check("build", "-q", "-t", "built-deletes:1", context);

        string pushed = $"{fixture.Registry}/lab/built-deletes:{Guid.NewGuid():N}";
        _wharf.Check("push", "--tls-verify=false", "--creds", ContainerFixture.Creds, "built-deletes:1", pushed);
        string podmanDir = Path.Combine(_wharf.Dir, "podman");
        try
        {
            ContainerFixture.PodmanAt(podmanDir, "pull", "-q", "--tls-verify=false", pushed);
            Assert.Equal("both-gone\n", ContainerFixture.PodmanAt(podmanDir, "run", "--rm", "--network", "none",
                "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", pushed, "sh", "-c", "test -e /etc/motd || test -e /opt/notexec || echo both-gone"));
        }
        finally
        {
            Tools.Run("podman", "--root", Path.Combine(podmanDir, "storage"), "--runroot", Path.Combine(podmanDir, "run"), "--tmpdir", Path.Combine(podmanDir, "tmp"), "--storage-driver", "vfs", "system", "reset", "-f");
        }
    }

    [Fact]
    public void Commit_DeletesReplacesAndAdds_OneLayerWithWhiteoutsAndOpaqueDir()
    {
        _wharf.Check("run", "--name", "changer", "--pull", "always", "--tls-verify=false", fixture.Image, "sh", "-c",
            "rm /etc/motd; rm -rf /opt/d; mkdir /opt/d; echo b > /opt/d/b; echo new > /root/f; ln /root/f /root/hard");
        var (code, stdout, stderr) = _wharf.Run("commit", "-a", "Jane <j@x>", "-c", "CMD [\"cat\",\"/root/f\"]", "-c", "ENV FOO=bar", "-c", "WORKDIR /opt",
            "-c", "LABEL team=hpc", "changer", "changed:1");
        Assert.Equal(0, code);
        string id = stdout.Trim();
        Assert.Contains("Getting image source signatures", stderr, StringComparison.Ordinal);
        Assert.Contains($"Copying config sha256:{id}", stderr, StringComparison.Ordinal);

        var (manifest, config) = Image(id);
        Assert.Equal("application/vnd.oci.image.manifest.v1+json", manifest["mediaType"]!.GetValue<string>());
        var layers = manifest["layers"]!.AsArray();
        Assert.Equal(2, layers.Count);
        var top = layers[1]!;
        Assert.Equal("application/vnd.oci.image.layer.v1.tar+gzip", top["mediaType"]!.GetValue<string>());

        byte[] compressed = File.ReadAllBytes(Blob(top["digest"]!.GetValue<string>()));
        Assert.Equal(top["digest"]!.GetValue<string>(), "sha256:" + Convert.ToHexStringLower(SHA256.HashData(compressed)));
        using var tarBytes = new MemoryStream();
        using (var gz = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress))
        {
            gz.CopyTo(tarBytes);
        }

        var diffIds = config["rootfs"]!["diff_ids"]!.AsArray();
        Assert.Equal(2, diffIds.Count);
        Assert.Equal(diffIds[1]!.GetValue<string>(), "sha256:" + Convert.ToHexStringLower(SHA256.HashData(tarBytes.ToArray())));

        tarBytes.Position = 0;
        var entries = new Dictionary<string, TarEntry>(StringComparer.Ordinal);
        using (var reader = new TarReader(tarBytes))
        {
            while (reader.GetNextEntry() is { } e)
            {
                entries[e.Name] = e;
            }
        }

        Assert.Equal(TarEntryType.RegularFile, entries["etc/.wh.motd"].EntryType);
        Assert.Equal(0, entries["etc/.wh.motd"].Length);
        Assert.True(entries.ContainsKey("opt/d/.wh..wh..opq"));
        Assert.Equal(TarEntryType.Directory, entries["opt/d/"].EntryType);
        Assert.True(entries.ContainsKey("opt/d/b"));
        Assert.True(entries.ContainsKey("opt/"));
        Assert.True(entries.ContainsKey("etc/"));
        Assert.Equal(TarEntryType.RegularFile, entries["root/f"].EntryType);
        Assert.Equal(TarEntryType.HardLink, entries["root/hard"].EntryType);
        Assert.DoesNotContain(entries.Keys, k => k is "etc/hosts" or "etc/hostname" or "etc/resolv.conf" or "run/.containerenv");
        Assert.DoesNotContain(entries.Keys, k => k.StartsWith("proc", StringComparison.Ordinal) || k.StartsWith("dev", StringComparison.Ordinal));

        var run = config["config"]!;
        Assert.Equal("[\"cat\",\"/root/f\"]", run["Cmd"]!.ToJsonString());
        Assert.Contains("FOO=bar", run["Env"]!.AsArray().Select(e => e!.GetValue<string>()));
        Assert.Equal("/opt", run["WorkingDir"]!.GetValue<string>());
        Assert.Equal("hpc", run["Labels"]!["team"]!.GetValue<string>());
        Assert.Equal("Jane <j@x>", config["author"]!.GetValue<string>());
        var history = config["history"]!.AsArray()[^1]!;
        Assert.Equal("/bin/sh", history["created_by"]!.GetValue<string>());
        Assert.Equal($"FROM {fixture.Image}", history["comment"]!.GetValue<string>());

        Assert.Equal("new\n", _wharf.Check("run", "--rm", "changed:1"));
        Assert.Equal(1, _wharf.Run("run", "--rm", "changed:1", "test", "-e", "/etc/motd").ExitCode);
        Assert.Equal(1, _wharf.Run("run", "--rm", "changed:1", "test", "-e", "/opt/d/a").ExitCode);
    }

    [Fact]
    public void Commit_DockerFormatWithMessage_DockerManifestAndComment()
    {
        _wharf.Check("run", "--name", "d", "--tls-verify=false", fixture.Image, "touch", "/opt/x");
        string id = _wharf.Check("commit", "-q", "--format", "docker", "-m", "added x", "d").Trim();
        var (manifest, config) = Image(id);
        Assert.Equal("application/vnd.docker.distribution.manifest.v2+json", manifest["mediaType"]!.GetValue<string>());
        Assert.All(manifest["layers"]!.AsArray(), l => Assert.Equal("application/vnd.docker.image.rootfs.diff.tar.gzip", l!["mediaType"]!.GetValue<string>()));
        Assert.Equal("added x", config["comment"]!.GetValue<string>());
        Assert.Contains("<none>", _wharf.Check("images"), StringComparison.Ordinal);
    }

    [Fact]
    public void Commit_EnvChangeOfExistingVariable_ReplacedInPlaceLikeBuild()
    {
        _wharf.Check("run", "--name", "envs", "--tls-verify=false", fixture.Image, "true");
        string plainId = _wharf.Check("commit", "-q", "envs").Trim();
        string changedId = _wharf.Check("commit", "-q", "-c", "ENV=PATH=/opt/bin:/bin", "-c", "ENV NEWVAR=1", "envs").Trim();

        static List<string> Env(JsonObject config) => [.. config["config"]!["Env"]!.AsArray().Select(e => e!.GetValue<string>())];
        var before = Env(Image(plainId).Config);
        var after = Env(Image(changedId).Config);

        // Same order as without the change: PATH keeps its place with the new value; a new variable goes last.
        Assert.Contains(before, e => e.StartsWith("PATH=", StringComparison.Ordinal));
        Assert.Equal([.. before.Select(e => e.StartsWith("PATH=", StringComparison.Ordinal) ? "PATH=/opt/bin:/bin" : e), "NEWVAR=1"], after);
    }

    [Fact]
    public void Commit_OciWithMessage_PodmanWarningUnlessQuiet()
    {
        _wharf.Check("run", "--name", "m", "--tls-verify=false", fixture.Image, "true");

        var (code, stdout, stderr) = _wharf.Run("commit", "-m", "note", "m");
        Assert.Equal(0, code);
        Assert.StartsWith(
            "WARN[0000] COMMENT is not supported for OCI image format, comment note will be ignored. Must use `docker` format\nGetting image source signatures\n",
            stderr.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.EndsWith("Writing manifest to image destination\nStoring signatures\n", stderr.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Matches("^[0-9a-f]{64}\n$", stdout.ReplaceLineEndings("\n"));

        var quiet = _wharf.Run("commit", "-q", "-m", "note", "m");
        Assert.Equal(0, quiet.ExitCode);
        Assert.Empty(quiet.Stderr);
        Assert.Matches("^[0-9a-f]{64}\n$", quiet.Stdout.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Commit_UnknownChange_Fails125()
    {
        _wharf.Check("run", "--name", "u", "--tls-verify=false", fixture.Image, "true");
        var (code, _, stderr) = _wharf.Run("commit", "-c", "FROBNICATE x", "u", "bad:1");
        Assert.Equal(125, code);
        Assert.Contains("FROBNICATE", stderr, StringComparison.Ordinal);
    }
}
