using System.Text.Json.Nodes;

namespace Wharf.Cli.Tests.Volumes;

/// <summary>volume create/ls/inspect/rm/prune against podman 4.3 with its own private store.</summary>
public sealed class VolumeTests : IDisposable
{
    private readonly WharfRunner _wharf = new();

    private readonly string _podmanDir = Directory.CreateTempSubdirectory("wharf-vol-podman-").FullName;

    public VolumeTests() => Tools.EnsureTool("podman", "podman");

    private (int ExitCode, string Stdout, string Stderr) Podman(params string[] args) =>
        Tools.Run("podman", ["--root", Path.Combine(_podmanDir, "storage"), "--runroot", Path.Combine(_podmanDir, "run"), "--tmpdir", Path.Combine(_podmanDir, "tmp"), "--storage-driver", "vfs", .. args]);

    public void Dispose()
    {
        _wharf.Dispose();
        Tools.Run("podman", "--root", Path.Combine(_podmanDir, "storage"), "--runroot", Path.Combine(_podmanDir, "run"), "--tmpdir", Path.Combine(_podmanDir, "tmp"), "--storage-driver", "vfs", "system", "reset", "-f");
        Directory.Delete(_podmanDir, recursive: true);
    }

    private void Same(params string[] args)
    {
        var p = Podman(args);
        var w = _wharf.Run(args);
        Assert.Equal((p.ExitCode, p.Stdout, p.Stderr.Trim()), (w.ExitCode, w.Stdout, w.Stderr.Trim()));
    }

    [Fact]
    public void Volume_Lifecycle_PrintsAndExitsAsPodman()
    {
        Same("volume", "ls");
        Same("volume", "create", "v1");
        Same("volume", "create", "v1");
        Same("volume", "create", "bad name");
        Same("volume", "create", "v2");
        Same("volume", "ls");
        Same("volume", "ls", "-q");
        Same("volume", "rm", "nosuch");
        Same("volume", "rm", "v1", "nosuch");
        Same("volume", "inspect", "nosuch");
        Same("volume", "rm", "v1");
        Same("volume", "prune", "-f");
        Same("volume", "ls");
    }

    [Fact]
    public void VolumeInspect_PodmansKeys_DataDirectoryUnderTheStore()
    {
        _wharf.Run("volume", "create", "data");
        Podman("volume", "create", "data");
        var w = JsonNode.Parse(_wharf.Run("volume", "inspect", "data").Stdout)!.AsArray()[0]!.AsObject();
        var p = JsonNode.Parse(Podman("volume", "inspect", "data").Stdout)!.AsArray()[0]!.AsObject();
        foreach (string key in new[] { "Name", "Driver", "Scope" })
        {
            Assert.Equal(p[key]!.ToJsonString(), w[key]!.ToJsonString());
        }

        Assert.Equal(Path.Combine(_wharf.GraphRoot, "wharf", "volumes", "data", "_data"), (string?)w["Mountpoint"]);
        Assert.True(Directory.Exists((string?)w["Mountpoint"]));
        Assert.Equal(0, _wharf.Run("volume", "rm", "data").ExitCode);
        Assert.False(Directory.Exists(Path.Combine(_wharf.GraphRoot, "wharf", "volumes", "data")));
    }
}

/// <summary>Named volumes in run: created on first use, shared between containers, kept from removal while used.</summary>
[Collection("containers")]
public sealed class VolumeRunTests(Containers.ContainerFixture fixture) : IDisposable
{
    private readonly Containers.WharfProcess _wharf = CreatePulled(fixture);

    private static Containers.WharfProcess CreatePulled(Containers.ContainerFixture fixture)
    {
        var w = new Containers.WharfProcess();
        w.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        return w;
    }

    public void Dispose() => _wharf.Dispose();

    [Fact]
    public void RunWithNamedVolume_DataOutlivesTheContainer_AndInUseVolumeNeedsForce()
    {
        _wharf.Check("run", "--rm", "-v", "shared:/data", fixture.Image, "sh", "-c", "echo kept > /data/f");
        Assert.Equal("shared\n", _wharf.Check("volume", "ls", "-q"));
        _wharf.Check("run", "--name", "user", "-v", "shared:/data:ro", fixture.Image, "cat", "/data/f");
        Assert.Equal("kept\n", _wharf.Check("start", "-a", "user"));

        var refused = _wharf.Run("volume", "rm", "shared");
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("volume shared is being used by the following container(s)", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, _wharf.Check("volume", "prune", "-f"));

        Assert.Equal("shared\n", _wharf.Check("volume", "rm", "-f", "shared"));
        Assert.Equal(1, _wharf.Run("container", "exists", "user").ExitCode);
        Assert.Equal(string.Empty, _wharf.Check("volume", "ls", "-q"));
    }

    [Fact]
    public void SystemPruneVolumes_RemovesUnusedVolumesOnly_AsPodman()
    {
        _wharf.Check("volume", "create", "unused");
        _wharf.Check("create", "--name", "holder", "-v", "held:/data", fixture.Image, "true");
        string plain = _wharf.Check("system", "prune", "-f");
        Assert.DoesNotContain("Deleted Volumes", plain, StringComparison.Ordinal);
        Assert.Equal("held\nunused\n", _wharf.Check("volume", "ls", "-q"));

        // The stopped holder goes first (system prune removes stopped containers), so its volume is
        // unused by then and goes too, as podman prunes containers before volumes.
        string withVolumes = _wharf.Check("system", "prune", "-f", "--volumes");
        Assert.Contains("Deleted Volumes\n", withVolumes, StringComparison.Ordinal);
        Assert.Contains("unused\n", withVolumes, StringComparison.Ordinal);
        Assert.Equal(string.Empty, _wharf.Check("volume", "ls", "-q"));
    }
}
