using Wharf.Cli.Tests.Containers;

namespace Wharf.Cli.Tests.SystemVerbs;

/// <summary>ps and images listing options, global flags, log levels, version/info keys and refused verbs, compared with podman 4.3.</summary>
[Collection("containers")]
public sealed class SurfaceTests(ContainerFixture fixture) : IDisposable
{
    private static readonly string[] Limits = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

    private readonly WharfProcess _wharf = Pulled(fixture);

    private readonly string _podmanDir = Directory.CreateTempSubdirectory("wharf-surface-podman-").FullName;

    private bool _podmanUsed;

    private static WharfProcess Pulled(ContainerFixture fixture)
    {
        var w = new WharfProcess();
        w.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        return w;
    }

    private string[] PodmanGlobal => ["--root", Path.Combine(_podmanDir, "storage"), "--runroot", Path.Combine(_podmanDir, "run"), "--tmpdir", Path.Combine(_podmanDir, "tmp"), "--storage-driver", "vfs", "--runtime", "runc"];

    /// <summary>podman on its own store holding the fixture's image as localhost/bb:1.</summary>
    private (int ExitCode, string Stdout, string Stderr) Podman(params string[] args)
    {
        if (!_podmanUsed)
        {
            _podmanUsed = true;
            string archive = Path.Combine(_podmanDir, "bb.tar");
            fixture.Podman("save", "-o", archive, "localhost/bb:1");
            Tools.Check("podman", [.. PodmanGlobal, "load", "-q", "-i", archive]);
        }

        return Tools.Run("podman", [.. PodmanGlobal, .. args]);
    }

    private string PodmanCheck(params string[] args)
    {
        var r = Podman(args);
        Assert.True(r.ExitCode == 0, $"podman {string.Join(' ', args)} exited {r.ExitCode}: {r.Stderr}");
        return r.Stdout;
    }

    public void Dispose()
    {
        _wharf.Dispose();
        if (_podmanUsed)
        {
            Podman("system", "reset", "-f");
        }

        Directory.Delete(_podmanDir, recursive: true);
    }

    private static string Wharfish(string podmanText) => podmanText.Replace("podman", "wharf", StringComparison.Ordinal);

    [Fact]
    public void Ps_FilterSortLastNoheading_AsPodman()
    {
        foreach (string n in new[] { "c2", "c1", "c3" })
        {
            PodmanCheck(["create", "--name", n, "--label", "k=" + n, .. Limits, "localhost/bb:1", "true"]);
            _wharf.Check("create", "--name", n, "--label", "k=" + n, fixture.Image, "true");
        }

        foreach (string[] args in new[]
        {
            new[] { "ps", "--format", "{{.Names}}" },
            ["ps", "-a", "--format", "{{.Names}}"],
            ["ps", "-a", "--sort", "names", "--format", "{{.Names}}"],
            ["ps", "-a", "--sort", "created", "--format", "{{.Names}}"],
            ["ps", "--filter", "status=created", "--format", "{{.Names}}"],
            ["ps", "-a", "--filter", "label=k=c1", "--format", "{{.Names}}"],
            ["ps", "-a", "--filter", "name=c[12]", "--filter", "label=k=c2", "--format", "{{.Names}}"],
            ["ps", "-a", "--filter", "before=c1", "--format", "{{.Names}}"],
            ["ps", "-a", "--filter", "since=c1", "--format", "{{.Names}}"],
            ["ps", "--last", "2", "--format", "{{.Names}}"],
            ["ps", "-n", "1", "--format", "{{.Names}}"],
            ["ps", "-l", "--format", "{{.Names}}"],
            ["ps", "-a", "--external", "--format", "{{.Names}}"],
            ["ps", "-a", "--noheading", "--format", "table {{.Names}}"],
            ["ps", "--noheading"],
            ["ps", "--sort", "bogus"],
            ["ps", "-a", "--filter", "since=nosuch"],
            ["ps", "-a", "--filter", "bogus=1"],
        })
        {
            var p = Podman(args);
            var w = _wharf.Run(args);
            Assert.Equal((p.ExitCode, p.Stdout, Wharfish(p.Stderr)), (w.ExitCode, w.Stdout, w.Stderr));
        }

        string sized = _wharf.Check("ps", "-a", "--size", "--sort", "names");
        Assert.EndsWith("NAMES       SIZE", sized.Split('\n')[0], StringComparison.Ordinal);
        Assert.Matches(@"c1\s+\d+(\.\d+)?[kMG]?B \(virtual \d+(\.\d+)?[kMG]?B\)$", sized.Split('\n')[1]);
    }

    [Fact]
    public void Images_SortFilterNoheading_AsPodman()
    {
        // The same names on both sides: localhost/bb:1 and localhost/aa:2 on one image.
        PodmanCheck("tag", "localhost/bb:1", "localhost/aa:2");
        _wharf.Check("tag", fixture.Image, "localhost/bb:1", "localhost/aa:2");
        _wharf.Check("untag", "localhost/bb:1", fixture.Image);

        foreach (string[] args in new[]
        {
            new[] { "images", "--sort", "repository", "--format", "{{.Repository}}:{{.Tag}}" },
            ["images", "--sort", "tag", "--format", "{{.Tag}}"],
            ["images", "--filter", "readonly=false", "--format", "{{.Tag}}", "--sort", "tag"],
            ["images", "--filter", "readonly=true"],
            ["images", "--filter", "label=nosuch"],
            ["images", "--filter", "before=localhost/aa:2"],
            ["images", "--filter", "since=nosuch"],
            ["images", "--sort", "bogus"],
            ["images", "--noheading", "--format", "table {{.Tag}}", "--sort", "tag"],
        })
        {
            var p = Podman(args);
            var w = _wharf.Run(args);
            // podman lists the sort fields from a Go map: their order changes from run to run.
            static string Fields(string e) => global::System.Text.RegularExpressions.Regex.Replace(e, "Choose from: .*", "Choose from: …");
            Assert.Equal((p.ExitCode, p.Stdout, Fields(p.Stderr)), (w.ExitCode, w.Stdout, Fields(w.Stderr)));
        }
    }

    [Fact]
    public void GlobalFlags_NooutRefusedAndCheckedValues()
    {
        Assert.Equal((0, string.Empty), (_wharf.Run("--noout", "images").ExitCode, _wharf.Run("--noout", "images").Stdout));
        Assert.NotEqual(string.Empty, _wharf.Check("images"));

        foreach (var (args, message) in new[]
        {
            (new[] { "--runtime-flag", "--debug", "ps" }, "Error: --runtime-flag \"--debug\": give the runtime's flag without its leading -- (--runtime-flag debug, --runtime-flag log=FILE)\n"),
            (["--storage-opt", "overlay.mountopt=nodev", "images"], "Error: --storage-opt overlay.mountopt=nodev is not supported by wharf: of the storage driver's options it understands overlay.mount_program (fuse-overlayfs) only\n"),
            (["--storage-opt", "overlay.mount_program=/usr/bin/true", "images"], "Error: --storage-opt overlay.mount_program=/usr/bin/true is not supported by wharf: the only mount program it drives is fuse-overlayfs\n"),
            (["--events-backend", "journald", "ps"], "Error: --events-backend journald is not supported by wharf: events are kept in a file (file, none)\n"),
        })
        {
            var r = _wharf.Run(args);
            Assert.Equal((125, message), (r.ExitCode, r.Stderr));
        }

        foreach (string[] args in new[] { new[] { "--cgroup-manager", "bogus", "ps" }, ["--events-backend", "bogus", "ps"], ["--log-level", "bogus", "images"] })
        {
            var p = Podman(args);
            var w = _wharf.Run(args);
            Assert.Equal((p.ExitCode, p.Stderr), (w.ExitCode, w.Stderr));
        }

        Assert.Equal(0, _wharf.Run("--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", _wharf.Dir, "--runtime", "runc", "ps").ExitCode);
    }

    [Fact]
    public void RuntimeFlag_ReachesEveryRuntimeCall()
    {
        // runc's own --debug and --log=FILE: the debug lines of run, kill and delete land in the file.
        string log = Path.Combine(_wharf.Dir, "runc.log");
        var run = _wharf.Run("--runtime-flag", "debug", "--runtime-flag", $"log={log}", "run", "--rm", fixture.Image, "true");
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("level=debug", File.ReadAllText(log), StringComparison.Ordinal);

        var debug = _wharf.Run("--log-level", "debug", "--runtime-flag", "debug", "run", "--rm", fixture.Image, "true");
        Assert.Equal(0, debug.ExitCode);
        Assert.Matches("level=debug msg=\"running runtime: \\S*run[c] --root \\S+ --debug run --bundle", debug.Stderr);

        // A flag runc does not know fails the run as runc says, never silently.
        var bogus = _wharf.Run("--runtime-flag", "no-such-flag", "run", "--rm", fixture.Image, "true");
        Assert.NotEqual(0, bogus.ExitCode);
    }

    [Fact]
    public void VolumePath_VolumesLiveThere()
    {
        string dir = Path.Combine(_wharf.Dir, "vols");
        Assert.Equal("v1\n", _wharf.Check("--volumepath", dir, "volume", "create", "v1"));
        Assert.True(Directory.Exists(Path.Combine(dir, "v1", "_data")));
        Assert.Equal("v1\n", _wharf.Check("--volumepath", dir, "volume", "ls", "-q"));
        Assert.Equal(string.Empty, _wharf.Check("volume", "ls", "-q"));
        Assert.Contains($"\"Mountpoint\": \"{Path.Combine(dir, "v1", "_data")}\"", _wharf.Check("--volumepath", dir, "volume", "inspect", "v1"), StringComparison.Ordinal);

        _wharf.Check("--volumepath", dir, "run", "--rm", "-v", "v1:/data", fixture.Image, "sh", "-c", "echo hi > /data/f");
        Assert.Equal("hi\n", File.ReadAllText(Path.Combine(dir, "v1", "_data", "f")));
        Assert.Equal("v1\n", _wharf.Check("--volumepath", dir, "volume", "rm", "v1"));
        Assert.False(Directory.Exists(Path.Combine(dir, "v1")));
    }

    [Fact]
    public void StorageOptMountProgram_RootIsFuseOverlayfs()
    {
        Tools.EnsureTool("fuse-overlayfs", "fuse-overlayfs");
        string program = Tools.Check("sh", "-c", "command -v fuse-overlayfs").Trim();
        var fuse = _wharf.Run("--storage-opt", $"overlay.mount_program={program}", "run", "--rm", fixture.Image, "cat", "/proc/self/mountinfo");
        Assert.True(fuse.ExitCode == 0, fuse.Stderr);
        static string RootFsType(string mountinfo) =>
            global::System.Text.RegularExpressions.Regex.Match(mountinfo, @"^\d+ \d+ \S+ \S+ / .* - (\S+) ", global::System.Text.RegularExpressions.RegexOptions.Multiline).Groups[1].Value;
        Assert.Equal("fuse.fuse-overlayfs", RootFsType(fuse.Stdout));
        Assert.Equal("overlay", RootFsType(_wharf.Check("run", "--rm", fixture.Image, "cat", "/proc/self/mountinfo")));
    }

    [Fact]
    public void LogLevelDebug_SaysWhatPullAndTheRuntimeDo()
    {
        var pull = _wharf.Run("--log-level", "debug", "pull", "-q", "--tls-verify=false", fixture.Image);
        Assert.Equal(0, pull.ExitCode);
        Assert.Contains("level=info msg=\"wharf filtering at log level debug\"", pull.Stderr, StringComparison.Ordinal);
        Assert.Contains($"level=debug msg=\"Attempting to pull candidate {fixture.Image} for {fixture.Image}\"", pull.Stderr, StringComparison.Ordinal);

        var run = _wharf.Run("--log-level", "debug", "run", "--rm", fixture.Image, "true");
        Assert.Equal(0, run.ExitCode);
        Assert.Matches("level=debug msg=\"running runtime: \\S*run[c] --root \\S+ run --bundle", run.Stderr);

        var quiet = _wharf.Run("--log-level", "warn", "images");
        Assert.Equal(string.Empty, quiet.Stderr);
    }

    [Fact]
    public void VersionAndInfo_PodmansKeys()
    {
        static IEnumerable<string> Keys(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(':')[0]);
        Assert.Equal(Keys(PodmanCheck("version")), Keys(_wharf.Check("version")));
        Assert.Equal(PodmanCheck("version", "--format", "{{.Client.Os}}"), _wharf.Check("version", "--format", "{{.Client.Os}}"));

        string t = "{{.Host.Arch}} {{.Host.OS}} {{.Host.EventLogger}} {{.Store.ContainerStore.Number}} {{.Store.ImageStore.Number}}";
        Assert.Equal(PodmanCheck("--events-backend", "file", "info", "--format", t), _wharf.Check("info", "--format", t));
        Assert.Equal(_wharf.GraphRoot + "\n", _wharf.Check("info", "--format", "{{.Store.GraphRoot}}"));
    }

    [Theory]
    [InlineData("pod", "ps")]
    [InlineData("network", "ls")]
    [InlineData("generate", "systemd", "--new", "x")]
    [InlineData("container", "checkpoint", "--all")]
    [InlineData("image", "sign", "--sign-by", "me", "x")]
    [InlineData("volume", "export", "v")]
    [InlineData("system", "service")]
    [InlineData("stats", "--no-stream")]
    public void UnsupportedVerb_RefusedWithReasonAndExit125(params string[] args)
    {
        var r = _wharf.Run(args);

        Assert.Equal(125, r.ExitCode);
        string verb = args[0] is "container" or "image" or "volume" or "system" ? args[0] + " " + args[1] : args[0];
        Assert.StartsWith($"Error: {verb} is not supported by wharf: ", r.Stderr, StringComparison.Ordinal);
        Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void RmMissingAndLoadOfNonArchive_AsScriptsExpect()
    {
        var p = Podman("container", "rm", "nosuch");
        var w = _wharf.Run("container", "rm", "nosuch");
        Assert.Equal((p.ExitCode, p.Stderr), (w.ExitCode, w.Stderr));

        string notTar = Path.Combine(_wharf.Dir, "notar.txt");
        File.WriteAllText(notTar, "hello\n");
        var load = _wharf.Run("load", "-i", notTar);
        Assert.Equal(125, load.ExitCode);
        Assert.Single(load.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("Error: ", load.Stderr, StringComparison.Ordinal);
    }
}
