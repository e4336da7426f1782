using Wharf.Engine;
using Wharf.Engine.Containers;

namespace Wharf.Cli.Tests.Containers;

/// <summary>rm/start/stop/kill: --all, --latest, --filter, --ignore, rm -t, signals by number and name, podman's exit codes.</summary>
[Collection("containers")]
public sealed class SelectAndSignalTests(ContainerFixture fixture) : IDisposable
{
    private readonly WharfProcess _wharf = CreatePulled(fixture);

    private readonly PodmanBeside _podman = new(fixture);

    private static WharfProcess CreatePulled(ContainerFixture fixture)
    {
        var w = new WharfProcess();
        w.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        return w;
    }

    public void Dispose()
    {
        _wharf.Dispose();
        _podman.Dispose();
    }

    private string Id(string name) => _wharf.Check("container", "inspect", "--format", "{{.Id}}", name).Trim();

    private static void WaitFor(Func<bool> condition)
    {
        for (int i = 0; i < 300 && !condition(); i++)
        {
            Thread.Sleep(100);
        }

        Assert.True(condition(), "condition not met within 30 seconds");
    }

    [Theory]
    [InlineData("SIGTERM", 15)]
    [InlineData("term", 15)]
    [InlineData("USR1", 10)]
    [InlineData("SIGUSR1", 10)]
    [InlineData("22", 22)]
    [InlineData("TTOU", 22)]
    [InlineData("RTMIN+2", 36)]
    [InlineData("RTMAX-1", 63)]
    [InlineData("64", 64)]
    public void SignalsParse_NamesAndNumbers_LinuxNumbering(string text, int expected) => Assert.Equal(expected, Signals.Parse(text));

    [Theory]
    [InlineData("BOGUS", "invalid signal: BOGUS")]
    [InlineData("0", "invalid signal: 0")]
    [InlineData("65", "valid signals are 1 through 64")]
    [InlineData("RTMIN+40", "invalid signal: RTMIN+40")]
    public void SignalsParse_BadSignal_PodmansError(string text, string message) =>
        Assert.Equal(message, Assert.Throws<WharfException>(() => Signals.Parse(text)).Message);

    [Fact]
    public void RmDependAndVolumes_RemoveLikePodman()
    {
        // rm --depend prints the removed container's full ID (podman lists what it removed), rm -v the name as given.
        string id = _wharf.Check("create", "--name", "dep", fixture.Image, "true").Trim();
        _wharf.Check("create", "--name", "vol", "-v", "depvol:/data", fixture.Image, "true");
        Assert.Equal(id + "\n", _wharf.Check("rm", "--depend", "dep"));
        Assert.Equal("vol\n", _wharf.Check("rm", "-v", "vol"));
        Assert.Equal(string.Empty, _wharf.Check("ps", "-a", "-q"));

        string pdep = _podman.Unique("pdep"), pvol = _podman.Unique("pvol");
        string pid = _podman.Check("create", "--name", pdep, "localhost/bb:1", "true").Trim();
        _podman.Check("create", "--name", pvol, "localhost/bb:1", "true");
        Assert.Equal((0, pid + "\n"), Pick(_podman.Run("rm", "--depend", pdep)));
        Assert.Equal((0, pvol + "\n"), Pick(_podman.Run("rm", "-v", pvol)));

        static (int, string) Pick((int ExitCode, string Stdout, string Stderr) r) => (r.ExitCode, r.Stdout);
    }

    [Fact]
    public void Kill_NumericAndNamedSignals_ReachTheContainersProcess()
    {
        _wharf.Check("run", "-d", "--name", "sig", fixture.Image, "sh", "-c",
            "trap 'echo got-usr1' USR1; trap 'echo got-usr2' USR2; trap 'echo got-ttou' TTOU; echo ready; while true; do sleep 0.1; done");
        WaitFor(() => _wharf.Check("logs", "sig").Contains("ready", StringComparison.Ordinal));

        int expected = 0;
        foreach (string[] args in new[] { new[] { "-s", "22" }, ["-s", "SIGUSR1"], ["-s", "USR1"], ["--signal", "usr2"], ["-s", "10"] })
        {
            Assert.Equal("sig\n", _wharf.Check(["kill", .. args, "sig"]));
            expected++;
            WaitFor(() => _wharf.Check("logs", "sig").Split('\n').Count(l => l.StartsWith("got-", StringComparison.Ordinal)) == expected);
        }

        Assert.Equal(["got-ttou", "got-usr1", "got-usr1", "got-usr2", "got-usr1"],
            _wharf.Check("logs", "sig").Split('\n').Where(l => l.StartsWith("got-", StringComparison.Ordinal)));
        Assert.Equal("running\n", _wharf.Check("container", "inspect", "--format", "{{.State.Status}}", "sig"));
    }

    [Theory]
    [InlineData("kill", "-s", "BOGUS", "nosuch")]
    [InlineData("kill", "-s", "0", "nosuch")]
    [InlineData("kill", "-s", "99", "nosuch")]
    [InlineData("kill", "nosuch")]
    [InlineData("rm", "nosuch")]
    [InlineData("rm", "--ignore", "nosuch")]
    [InlineData("container", "rm", "-i", "nosuch")]
    [InlineData("stop", "nosuch")]
    [InlineData("stop", "--ignore", "nosuch")]
    [InlineData("start", "nosuch")]
    [InlineData("stop", "-a", "-l")]
    [InlineData("rm", "-l", "zz")]
    [InlineData("rm", "-a", "zz")]
    [InlineData("stop", "--filter", "name=x", "zz")]
    [InlineData("start", "--filter", "bogus=1")]
    [InlineData("stop", "--filter", "status=bogus")]
    [InlineData("rm", "--filter", "name")]
    [InlineData("rm")]
    public void Verb_BadInput_ExitCodeAndMessageAsPodman(params string[] args)
    {
        var podman = _podman.Run(args);
        var wharf = _wharf.Run(args);
        Assert.Equal((podman.ExitCode, podman.Stdout, podman.Stderr.Trim()), (wharf.ExitCode, wharf.Stdout, wharf.Stderr.Trim()));
    }

    [Fact]
    public void Rm_OneMissingName_Exits1AndRemovesNothing()
    {
        _wharf.Check("create", "--name", "keep", fixture.Image, "true");
        var r = _wharf.Run("rm", "keep", "nosuch");
        Assert.Equal((1, string.Empty, "Error: no container with name or ID \"nosuch\" found: no such container\n"), (r.ExitCode, r.Stdout, r.Stderr));
        Assert.Equal(0, _wharf.Run("container", "exists", "keep").ExitCode);

        Assert.Equal("keep\n", _wharf.Check("rm", "--ignore", "nosuch", "keep"));
        Assert.Equal(1, _wharf.Run("container", "exists", "keep").ExitCode);
    }

    [Fact]
    public void AllLatestFilter_ChooseContainersAsPodman_AndPrintFullIds()
    {
        _wharf.Check("run", "-d", "--name", "s1", fixture.Image, "sleep", "60");
        _wharf.Check("run", "-d", "--name", "s2", fixture.Image, "sleep", "60");
        _wharf.Check("create", "--name", "c3", fixture.Image, "true");
        string s1 = Id("s1"), s2 = Id("s2"), c3 = Id("c3");

        // kill -a signals the running ones only. KILL, not TERM: sleep is the container's PID 1, and a
        // namespace's init ignores TERM without a handler (runc's init, still in place right after
        // a start, dies of it) — so TERM stops the container or not depending on timing.
        Assert.Equal(new[] { s1, s2 }.Order(), _wharf.Check("kill", "-a", "-s", "KILL").Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
        WaitFor(() => _wharf.Check("ps", "-q").Length == 0);

        // start --filter: by name (a regular expression), by ID prefix and status.
        Assert.Equal(s1 + "\n", _wharf.Check("start", "--filter", "name=^s1$"));
        Assert.Equal("running\n", _wharf.Check("container", "inspect", "--format", "{{.State.Status}}", "s1"));
        Assert.Equal(c3 + "\n", _wharf.Check("start", "--filter", "id=" + c3[..10], "--filter", "status=created"));

        // stop -l: the newest container (c3, already exited: a no-op that still prints it).
        Assert.Equal(c3 + "\n", _wharf.Check("stop", "-l"));
        Assert.Equal(new[] { s1, s2, c3 }.Order(), _wharf.Check("stop", "-a", "-t", "0").Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());

        // rm --filter status=exited, then -a.
        Assert.Equal(s2 + "\n", _wharf.Check("rm", "--filter", "name=s2", "--filter", "status=exited"));
        Assert.Equal(new[] { s1, c3 }.Order(), _wharf.Check("rm", "-a").Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
        Assert.Empty(_wharf.ContainerDirs);
    }

    [Fact]
    public void RmForceWithTime_GivesTheStopSignalFirst_WithoutTimeKillsAtOnce()
    {
        string outDir = Path.Combine(_wharf.Dir, "out");
        Directory.CreateDirectory(outDir);
        const string Script = "trap 'echo term > /out/$0; exit 0' TERM; echo ready > /out/ready-$0; while true; do sleep 0.1; done";
        _wharf.Check("run", "-d", "--name", "graceful", "-v", $"{outDir}:/out", fixture.Image, "sh", "-c", Script, "graceful");
        _wharf.Check("run", "-d", "--name", "killed", "-v", $"{outDir}:/out", fixture.Image, "sh", "-c", Script, "killed");
        WaitFor(() => File.Exists(Path.Combine(outDir, "ready-graceful")) && File.Exists(Path.Combine(outDir, "ready-killed")));

        Assert.Equal("graceful\n", _wharf.Check("rm", "-f", "-t", "20", "graceful"));
        Assert.Equal("killed\n", _wharf.Check("rm", "-f", "killed"));
        Assert.Equal("term\n", File.ReadAllText(Path.Combine(outDir, "graceful")));
        Assert.False(File.Exists(Path.Combine(outDir, "killed")));
        Assert.Empty(_wharf.ContainerDirs);
    }
}
