using Wharf.Cli.Tests.Containers;

namespace Wharf.Cli.Tests.Images;

/// <summary>
/// rmi of an image a container was created from, side by side with real podman on the same image:
/// refused (exit 2) without -f, containers removed first with -f, untag-only when other names stay.
/// </summary>
[Collection("containers")]
public sealed class RmiInUseTests : IDisposable
{
    private readonly ContainerFixture _fixture;
    private readonly WharfProcess _wharf = new();
    private readonly string _podmanDir = Directory.CreateTempSubdirectory("wharf-rmi-podman-").FullName;

    public RmiInUseTests(ContainerFixture fixture)
    {
        _fixture = fixture;
        _wharf.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        Podman("pull", "-q", "--tls-verify=false", fixture.Image);
        ImageId = _wharf.Check("images", "-q", "--no-trunc").Trim().Replace("sha256:", "", StringComparison.Ordinal);
    }

    private string ImageId { get; }

    public void Dispose()
    {
        _wharf.Dispose();
        Tools.Run("podman", [.. PodmanGlobals, "system", "reset", "-f"]);
        try
        {
            Directory.Delete(_podmanDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private string[] PodmanGlobals =>
        ["--root", Path.Combine(_podmanDir, "storage"), "--runroot", Path.Combine(_podmanDir, "run"), "--tmpdir", Path.Combine(_podmanDir, "tmp"), "--storage-driver", "vfs", "--runtime", "runc"];

    private (int ExitCode, string Stdout, string Stderr) Podman(params string[] args) => Tools.Run("podman", [.. PodmanGlobals, .. args]);

    /// <summary>Container IDs differ between the two tools; everything else must match.</summary>
    private static string WithoutId(string text, string containerId) => text.Replace(containerId, "<ctr>", StringComparison.Ordinal);

    [Fact]
    public void Rmi_ImageAStoppedContainerUses_RefusedAsPodmanAndImageKept()
    {
        string wharfCtr = _wharf.Check("create", "--name", "c", _fixture.Image, "true").Trim();
        string podmanCtr = Podman("create", "--name", "c", _fixture.Image, "true").Stdout.Trim();
        Assert.Equal(64, podmanCtr.Length);

        foreach (string[] args in new[] { new[] { "rmi", _fixture.Image }, ["rmi", ImageId[..12]], ["image", "rm", _fixture.Image], ["rmi", "-a"] })
        {
            var fromWharf = _wharf.Run(args);
            var fromPodman = Podman(args);

            Assert.Equal(2, fromPodman.ExitCode);
            Assert.Equal(fromPodman.ExitCode, fromWharf.ExitCode);
            Assert.Equal(
                "Error: image used by <ctr>: image is in use by a container: consider listing external containers and force-removing image\n",
                WithoutId(fromWharf.Stderr, wharfCtr));
            Assert.Equal(WithoutId(fromPodman.Stderr, podmanCtr), WithoutId(fromWharf.Stderr, wharfCtr));
            Assert.Empty(fromWharf.Stdout);
        }

        Assert.Equal(ImageId + "\n", _wharf.Check("images", "-q", "--no-trunc").Replace("sha256:", "", StringComparison.Ordinal));
        Assert.Equal(wharfCtr + "\n", _wharf.Check("ps", "-a", "-q", "--no-trunc"));
    }

    [Fact]
    public void Rmi_UnknownAndInUse_BothErrorsJoinedExit2AsPodman()
    {
        string wharfCtr = _wharf.Check("create", _fixture.Image, "true").Trim();
        string podmanCtr = Podman("create", _fixture.Image, "true").Stdout.Trim();

        var fromWharf = _wharf.Run("rmi", _fixture.Image, "nosuch:1");
        var fromPodman = Podman("rmi", _fixture.Image, "nosuch:1");

        Assert.Equal(2, fromWharf.ExitCode);
        Assert.Equal(fromPodman.ExitCode, fromWharf.ExitCode);
        Assert.StartsWith("Error: 2 errors occurred:\n\t* nosuch:1: image not known\n\t* image used by ", fromWharf.Stderr, StringComparison.Ordinal);
        Assert.Equal(WithoutId(fromPodman.Stderr, podmanCtr), WithoutId(fromWharf.Stderr, wharfCtr));

        // -i drops the unknown name, not the refusal.
        var ignoring = _wharf.Run("rmi", "-i", _fixture.Image, "nosuch:1");
        Assert.Equal(2, ignoring.ExitCode);
        Assert.Equal(WithoutId(Podman("rmi", "-i", _fixture.Image, "nosuch:1").Stderr, podmanCtr), WithoutId(ignoring.Stderr, wharfCtr));
    }

    [Fact]
    public void Rmi_OneOfSeveralNamesInUse_OnlyUntagsAsPodman()
    {
        _wharf.Check("tag", _fixture.Image, "second:1");
        Podman("tag", _fixture.Image, "second:1");
        string wharfCtr = _wharf.Check("create", "second:1", "true").Trim();
        Podman("create", "second:1", "true");

        var fromWharf = _wharf.Run("rmi", "second:1");
        var fromPodman = Podman("rmi", "second:1");

        Assert.Equal(0, fromWharf.ExitCode);
        Assert.Equal("Untagged: localhost/second:1\n", fromWharf.Stdout);
        Assert.Equal(fromPodman.Stdout, fromWharf.Stdout);
        Assert.Equal(wharfCtr + "\n", _wharf.Check("ps", "-a", "-q", "--no-trunc"));

        // By ID with two names is refused for that reason first (125), in use or not; the names are
        // listed in tagging order by both.
        _wharf.Check("tag", _fixture.Image, "third:1");
        Podman("tag", _fixture.Image, "third:1");
        var byId = _wharf.Run("rmi", ImageId[..12]);
        var byIdPodman = Podman("rmi", ImageId[..12]);
        Assert.Equal(125, byId.ExitCode);
        Assert.Equal(byIdPodman.ExitCode, byId.ExitCode);
        string refusal = $"Error: unable to delete image \"{ImageId}\" by ID with more than one tag (";
        Assert.StartsWith(refusal, byIdPodman.Stderr, StringComparison.Ordinal);
        Assert.StartsWith(refusal, byId.Stderr, StringComparison.Ordinal);
        Assert.Equal(byIdPodman.Stderr, byId.Stderr);
    }

    [Fact]
    public void Rmi_Force_RemovesStoppedAndRunningContainersThenImage()
    {
        _wharf.Check("create", "--name", "stopped", _fixture.Image, "true");
        _wharf.Check("run", "-d", "--name", "running", _fixture.Image, "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done");
        Podman("create", "--name", "stopped", _fixture.Image, "true");

        var fromWharf = _wharf.Run("rmi", "-f", _fixture.Image);
        var fromPodman = Podman("rmi", "-f", _fixture.Image);

        Assert.Equal(0, fromWharf.ExitCode);
        Assert.Equal($"Untagged: {_fixture.Image}\nDeleted: {ImageId}\n", fromWharf.Stdout);
        Assert.Equal(fromPodman.Stdout, fromWharf.Stdout);
        Assert.Empty(_wharf.Check("ps", "-a", "-q"));
        Assert.Empty(_wharf.Check("images", "-q"));
        Assert.Empty(_wharf.ContainerDirs);
        Assert.Empty(_wharf.RuncStates);
        Assert.Empty(Podman("ps", "-a", "-q").Stdout);
    }

    [Fact]
    public void RmiAllForce_PrintsEveryUntaggedThenEveryDeletedAsPodman()
    {
        _wharf.Check("tag", _fixture.Image, "other:1");
        _wharf.Check("create", _fixture.Image, "true");
        string tar = Path.Combine(_fixture.Root, "rootfs.tar");
        _wharf.Check("import", "-q", "-c", "CMD [\"true\"]", tar, "imported:1");
        Podman("tag", _fixture.Image, "other:1");
        Podman("create", _fixture.Image, "true");
        Podman("import", "-q", "-c", "CMD [\"true\"]", tar, "imported:1");

        var fromWharf = _wharf.Run("rmi", "-a", "-f");
        var fromPodman = Podman("rmi", "-a", "-f");

        Assert.Equal(0, fromWharf.ExitCode);
        Assert.Equal(0, fromPodman.ExitCode);
        var lines = fromWharf.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, lines.Length);
        Assert.All(lines[..3], l => Assert.StartsWith("Untagged: ", l, StringComparison.Ordinal));
        Assert.All(lines[3..], l => Assert.StartsWith("Deleted: ", l, StringComparison.Ordinal));
        Assert.Equal(
            fromPodman.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]),
            lines.Select(l => l.Split(' ')[0]));
        Assert.Empty(_wharf.Check("ps", "-a", "-q"));
    }

    [Fact]
    public void Prune_ImageAStoppedContainerUses_KeptByImagePruneAll()
    {
        string ctr = _wharf.Check("create", _fixture.Image, "true").Trim();
        Podman("create", _fixture.Image, "true");

        var fromWharf = _wharf.Run("image", "prune", "-a", "-f");
        var fromPodman = Podman("image", "prune", "-a", "-f");

        Assert.Equal(0, fromWharf.ExitCode);
        Assert.Equal(fromPodman.Stdout, fromWharf.Stdout);
        Assert.Contains(ImageId[..12], Podman("images", "-q").Stdout, StringComparison.Ordinal);
        Assert.Contains(ImageId[..12], _wharf.Check("images", "-q"), StringComparison.Ordinal);
        Assert.Equal(ctr + "\n", _wharf.Check("ps", "-a", "-q", "--no-trunc"));
    }
}
