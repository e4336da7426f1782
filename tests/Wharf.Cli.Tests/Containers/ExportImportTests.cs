namespace Wharf.Cli.Tests.Containers;

/// <summary>export, import, mount and unmount, with podman reading wharf's export and importing the same tarball.</summary>
[Collection("containers")]
public sealed class ExportImportTests(ContainerFixture fixture) : IDisposable
{
    private static readonly string[] Limits = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

    private readonly WharfProcess _wharf = CreatePulled(fixture);

    private readonly string _tag = "localhost/exported:" + Guid.NewGuid().ToString("N")[..8];

    private static WharfProcess CreatePulled(ContainerFixture fixture)
    {
        var w = new WharfProcess();
        w.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        return w;
    }

    private (int ExitCode, string Stdout, string Stderr) Podman(params string[] args) =>
        Tools.Run("podman", ["--root", Path.Combine(fixture.Root, "podman", "storage"), "--runroot", Path.Combine(fixture.Root, "podman", "run"), "--tmpdir", Path.Combine(fixture.Root, "podman", "tmp"),
            "--storage-driver", "vfs", "--runtime", "runc", .. args]);

    public void Dispose()
    {
        _wharf.Dispose();
        Podman("rmi", "-f", _tag);
    }

    private static string[] TarNames(string tar) =>
        [.. Tools.Check("tar", "-tf", tar).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(n => n.TrimEnd('/'))];

    [Fact]
    public void Export_StoppedContainer_IsTheImagePlusItsChanges_AndPodmanRunsIt()
    {
        _wharf.Check("run", "--name", "ex", fixture.Image, "sh", "-c", "echo changed > /opt/x; rm /etc/motd");
        string tar = Path.Combine(_wharf.Dir, "ex.tar");
        Assert.Equal(string.Empty, _wharf.Check("export", "-o", tar, "ex"));

        string[] names = TarNames(tar);
        Assert.Contains("opt/x", names);
        Assert.Contains("bin/busybox", names);
        Assert.DoesNotContain("etc/motd", names);
        Assert.Contains("sh -> busybox", Tools.Check("tar", "-tvf", tar), StringComparison.Ordinal);
        Assert.False(_wharf.AnyMountUnder());

        // To stdout, the same archive.
        string viaStdout = Path.Combine(_wharf.Dir, "stdout.tar");
        Tools.Check("sh", "-c", _wharf.ShellCommand("container", "export", "ex") + " > " + viaStdout);
        Assert.Equal(names, TarNames(viaStdout));

        Assert.Equal(0, Podman("import", "-q", "-c", "CMD [\"sh\"]", tar, _tag).ExitCode);
        Assert.Equal("changed\nmotd-gone\n", Podman(["run", "--rm", .. Limits, _tag, "sh", "-c", "cat /opt/x; test -e /etc/motd || echo motd-gone"]).Stdout);
    }

    [Fact]
    public void Import_Tarball_RunsWithItsChangesAndPodmansHistory()
    {
        string tar = Path.Combine(fixture.Root, "rootfs.tar");
        string stdout = _wharf.Check("import", "-q", "-c", "CMD [\"cat\", \"/etc/motd\"]", "-c", "ENV FROM_IMPORT=1", "-m", "hello", tar, "localhost/imp:1");
        Assert.Matches("^sha256:[0-9a-f]{64}\n$", stdout);
        Assert.Equal("from the image\n", _wharf.Check("run", "--rm", "localhost/imp:1"));
        Assert.Equal("1\n", _wharf.Check("run", "--rm", "localhost/imp:1", "sh", "-c", "echo $FROM_IMPORT"));

        // podman imports the same tarball with the same history entry.
        Assert.Equal(0, Podman("import", "-q", "-m", "hello", tar, _tag).ExitCode);
        const string Format = "{{.CreatedBy}}|{{.Comment}}|{{.Size}}";
        Assert.Equal(Podman("history", "--no-trunc", "--format", Format, _tag).Stdout, _wharf.Check("history", "--no-trunc", "--format", Format, "localhost/imp:1"));

        // From stdin.
        string fromStdin = Tools.Check("sh", "-c", _wharf.ShellCommand("import", "-q", "-", "localhost/imp:2") + " < " + tar);
        Assert.Matches("^sha256:[0-9a-f]{64}\n$", fromStdin);
        Assert.Equal(0, _wharf.Run("image", "exists", "localhost/imp:2").ExitCode);
    }

    [Fact]
    public void Import_MissingFile_ErrorAsPodmanAndNoImage()
    {
        string before = _wharf.Check("images", "-q");
        var p = Podman("import", "nosuchfile");
        var w = _wharf.Run("import", "nosuchfile");
        Assert.Equal((p.ExitCode, p.Stderr.Trim()), (w.ExitCode, w.Stderr.Trim()));
        Assert.Equal(before, _wharf.Check("images", "-q"));
    }

    [Fact]
    public void MountUnmount_StoppedContainer_PrintsTheMergedRootAndReleasesIt()
    {
        _wharf.Check("run", "--name", "mt", fixture.Image, "sh", "-c", "echo mine > /opt/y");
        string id = _wharf.Check("container", "inspect", "--format", "{{.Id}}", "mt").Trim();
        string path = _wharf.Check("mount", "mt").Trim();
        Assert.Equal(Path.Combine(_wharf.GraphRoot, "wharf", "containers", id, "merged"), path);
        Assert.Equal("mine\n", File.ReadAllText(Path.Combine(path, "opt", "y")));
        Assert.Equal("from the image\n", File.ReadAllText(Path.Combine(path, "etc", "motd")));
        Assert.Contains(path, _wharf.Check("mount", "--no-trunc"), StringComparison.Ordinal);

        Assert.Equal("mt\n", _wharf.Check("unmount", "mt"));
        Assert.False(_wharf.AnyMountUnder());
        Assert.Equal(string.Empty, _wharf.Check("mount"));
    }
}
