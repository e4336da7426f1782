using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Wharf.Cli.Tests.Containers;

/// <summary>
/// <c>exec -d</c>, <c>exec --env-file</c> and <c>--latest</c> on exec, inspect, wait, top, port,
/// diff, mount, unmount and restart, on real runc containers, compared with podman 4.3 where
/// podman's output and exit codes are the reference.
/// </summary>
[Collection("containers")]
public sealed partial class ExecLatestTests(ContainerFixture fixture) : IDisposable
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

    [GeneratedRegex("^[0-9a-f]{64}\n$")]
    private static partial Regex SessionId();

    private static void Eventually(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), what);
            Thread.Sleep(100);
        }
    }

    [Fact]
    public void ExecDetach_RunningContainer_PrintsSessionIdAsPodmanAndTheCommandRunsOn()
    {
        string p = _podman.Unique("xd");
        _podman.Check(["run", "-d", "--name", p, .. PodmanBeside.Limits, "localhost/bb:1", "sleep", "120"]);
        _wharf.Check("run", "-d", "--name", "xd", fixture.Image, "sleep", "120");

        var podman = _podman.Run("exec", "-d", p, "sh", "-c", "echo out; echo err >&2; sleep 1; echo done > /tmp/mark");
        var wharf = _wharf.Run("exec", "-d", "xd", "sh", "-c", "echo out; echo err >&2; sleep 1; echo done > /tmp/mark");
        Assert.Equal(0, podman.ExitCode);
        Assert.Matches(SessionId(), podman.Stdout);
        Assert.Equal((0, string.Empty), (wharf.ExitCode, wharf.Stderr));
        Assert.Matches(SessionId(), wharf.Stdout);

        // wharf returned while the command still runs: it finishes on its own, its output not on wharf's stdio.
        Eventually(() => _wharf.Run("exec", "xd", "cat", "/tmp/mark").Stdout == "done\n", "the detached command never wrote its mark");
        Eventually(() => _wharf.Check("events", "--stream=false", "--filter", "event=exec_died", "--format", "{{.Name}}").Contains("xd\n", StringComparison.Ordinal), "no exec_died event for the detached session");
        Assert.Contains("xd\n", _wharf.Check("events", "--stream=false", "--filter", "event=exec", "--format", "{{.Name}}"), StringComparison.Ordinal);

        // A detached command's exit code is not wharf's: podman exits 0 too.
        Assert.Equal(_podman.Run("exec", "-d", p, "sh", "-c", "exit 3").ExitCode, _wharf.Run("exec", "-d", "xd", "sh", "-c", "exit 3").ExitCode);
    }

    [Fact]
    public void ExecDetach_InspectListsTheSession_AsPodman()
    {
        string p = _podman.Unique("xi");
        _podman.Check(["run", "-d", "--name", p, .. PodmanBeside.Limits, "localhost/bb:1", "sleep", "120"]);
        _wharf.Check("run", "-d", "--name", "xi", fixture.Image, "sleep", "120");
        Assert.Equal(_podman.Check("inspect", "--format", "{{.ExecIDs}}", p), _wharf.Check("inspect", "--format", "{{.ExecIDs}}", "xi"));

        string podmanId = _podman.Check("exec", "-d", p, "sh", "-c", "sleep 3; touch /tmp/ended").Trim();
        string wharfId = _wharf.Check("exec", "-d", "xi", "sh", "-c", "sleep 3; touch /tmp/ended").Trim();
        string Listed(Func<string, string> inspect, string id, string name) => inspect(name).Replace(id, "ID", StringComparison.Ordinal);
        string podmanListed = Listed(n => _podman.Check("inspect", "--format", "{{.ExecIDs}}", n), podmanId, p);
        Assert.Equal(podmanListed, Listed(n => _wharf.Check("inspect", "--format", "{{.ExecIDs}}", n), wharfId, "xi"));
        Assert.Contains("ID", podmanListed, StringComparison.Ordinal);

        // Once the command has ended (podman keeps listing the session).
        Eventually(() => _podman.Run("exec", p, "test", "-e", "/tmp/ended").ExitCode == 0, "podman's detached command never ended");
        Eventually(() => _wharf.Run("exec", "xi", "test", "-e", "/tmp/ended").ExitCode == 0, "wharf's detached command never ended");
        Eventually(
            () => Listed(n => _podman.Check("inspect", "--format", "{{.ExecIDs}}", n), podmanId, p) == Listed(n => _wharf.Check("inspect", "--format", "{{.ExecIDs}}", n), wharfId, "xi"),
            "inspect's ExecIDs after the session ended differ from podman's: " + _podman.Check("inspect", "--format", "{{.ExecIDs}}", p) + " / " + _wharf.Check("inspect", "--format", "{{.ExecIDs}}", "xi"));

        // Stopped, and a new run of the container.
        _podman.Check("stop", "-t", "0", p);
        _wharf.Check("stop", "-t", "0", "xi");
        Assert.Equal(
            Listed(n => _podman.Check("inspect", "--format", "{{.ExecIDs}}", n), podmanId, p),
            Listed(n => _wharf.Check("inspect", "--format", "{{.ExecIDs}}", n), wharfId, "xi"));
        _podman.Check("start", p);
        _wharf.Check("start", "xi");
        Assert.Equal(
            Listed(n => _podman.Check("inspect", "--format", "{{.ExecIDs}}", n), podmanId, p),
            Listed(n => _wharf.Check("inspect", "--format", "{{.ExecIDs}}", n), wharfId, "xi"));
    }

    [Fact]
    public void ExecDetach_CommandThatCannotStart_ExitCodesAndMessagesAsPodman()
    {
        string p = _podman.Unique("xe");
        string pc = _podman.Unique("xc");
        _podman.Check(["run", "-d", "--name", p, .. PodmanBeside.Limits, "localhost/bb:1", "sleep", "120"]);
        _podman.Check(["create", "--name", pc, .. PodmanBeside.Limits, "localhost/bb:1", "true"]);
        _wharf.Check("run", "-d", "--name", "xe", fixture.Image, "sleep", "120");
        _wharf.Check("create", "--name", "xc", fixture.Image, "true");

        string[][] cases =
        [
            ["exec", "-d", "{r}", "/nonexistent"],
            ["exec", "-d", "{r}", "nosuchcmd"],
            ["exec", "-d", "-w", "/nodir", "{r}", "true"],
            ["exec", "-d", "{c}", "true"],
            ["exec", "-d", "{c}"],
            ["exec", "{r}", "/nonexistent"],
            ["exec", "-w", "/nodir", "{r}", "true"],
            ["exec", "{c}", "true"],
            ["exec", "{r}"],
            ["exec"],
        ];
        foreach (string[] c in cases)
        {
            var podman = _podman.Run([.. c.Select(a => a.Replace("{r}", p, StringComparison.Ordinal).Replace("{c}", pc, StringComparison.Ordinal))]);
            var wharf = _wharf.Run([.. c.Select(a => a.Replace("{r}", "xe", StringComparison.Ordinal).Replace("{c}", "xc", StringComparison.Ordinal))]);
            string line = string.Join(' ', c);
            Assert.True(podman.ExitCode == wharf.ExitCode, $"{line}: podman exited {podman.ExitCode}, wharf {wharf.ExitCode} ({wharf.Stderr})");
            Assert.True(podman.Stdout == wharf.Stdout, $"{line}: stdout {podman.Stdout} vs {wharf.Stdout}");
            Assert.True(podman.Stderr.Trim() == wharf.Stderr.Trim(), $"{line}: stderr\n{podman.Stderr}\nvs\n{wharf.Stderr}");
        }
    }

    [Fact]
    public void ExecEnvFile_PodmansFormat_SameEnvironmentAsPodman()
    {
        string tag = _podman.Suffix.ToUpperInvariant();
        string fromHost = "WHARF_EF_" + tag;

        // Both children inherit these; the names are this test's own.
        Environment.SetEnvironmentVariable(fromHost, "from host");
        Environment.SetEnvironmentVariable(fromHost + "_PA", "pa");
        Environment.SetEnvironmentVariable(fromHost + "_PB", "pb");
        string file = Path.Combine(_podman.Directory, "env");
        File.WriteAllText(file, $"# comment\n\n  LEAD=1\nTRAIL=a b  \nQUOTED=\"q\"\nEMPTY=\n{fromHost}\nWHARF_EF_NOT_SET_{tag}\n\tTAB=t\nEQ=a=b\n{fromHost}_P*\n  # indented\nOVER=file\nSECOND=one\n");
        string second = Path.Combine(_podman.Directory, "env2");
        File.WriteAllText(second, "SECOND=two\n");

        string p = _podman.Unique("xf");
        _podman.Check(["run", "-d", "--name", p, .. PodmanBeside.Limits, "localhost/bb:1", "sleep", "120"]);
        _wharf.Check("run", "-d", "--name", "xf", fixture.Image, "sleep", "120");

        string[] flags = ["--env-file", file, "--env-file", second, "-e", "OVER=flag"];
        static string Sorted(string env) => string.Join('\n', env.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith("HOSTNAME=", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        string podman = Sorted(_podman.Check(["exec", .. flags, p, "env"]));
        string wharf = Sorted(_wharf.Check(["exec", .. flags, "xf", "env"]));
        Assert.Equal(podman, wharf);
        Assert.Contains("TRAIL=a b  ", wharf, StringComparison.Ordinal);
        Assert.Contains($"{fromHost}_PB=pb", wharf, StringComparison.Ordinal);
        Assert.Contains("OVER=flag", wharf, StringComparison.Ordinal);
        Assert.Contains("SECOND=two", wharf, StringComparison.Ordinal);

        // The same file with -d: the detached command sees it too.
        _wharf.Check(["exec", "-d", .. flags, "xf", "sh", "-c", "env > /tmp/env.out"]);
        Eventually(() => _wharf.Run("exec", "xf", "cat", "/tmp/env.out").Stdout.Contains("TRAIL=a b  \n", StringComparison.Ordinal), "the detached command did not get the env file");
    }

    [Fact]
    public void ExecEnvFile_BadFiles_RefusedAsPodmanBeforeAnythingRuns()
    {
        string p = _podman.Unique("xb");
        _podman.Check(["run", "-d", "--name", p, .. PodmanBeside.Limits, "localhost/bb:1", "sleep", "120"]);
        _wharf.Check("run", "-d", "--name", "xb", fixture.Image, "sleep", "120");
        string invalid = Path.Combine(_podman.Directory, "invalid");
        File.WriteAllText(invalid, "A=1\n=foo\n");
        string missing = Path.Combine(_podman.Directory, "missing");

        string[][] cases =
        [
            ["exec", "--env-file", missing, "{r}", "touch", "/tmp/ran"],
            ["exec", "-d", "--env-file", missing, "{r}", "touch", "/tmp/ran"],
            ["exec", "--env-file", _podman.Directory, "{r}", "touch", "/tmp/ran"],
            ["exec", "--env-file", invalid, "{r}", "touch", "/tmp/ran"],
            ["exec", "--env-file", missing, "nosuch", "true"],
            ["run", "--rm", "--env-file", missing, "{i}", "true"],
        ];
        foreach (string[] args in cases)
        {
            var podman = _podman.Run([.. args.Select(a => a.Replace("{r}", p, StringComparison.Ordinal).Replace("{i}", "localhost/bb:1", StringComparison.Ordinal))]);
            var wharf = _wharf.Run([.. args.Select(a => a.Replace("{r}", "xb", StringComparison.Ordinal).Replace("{i}", fixture.Image, StringComparison.Ordinal))]);
            Assert.Equal((podman.ExitCode, podman.Stdout, podman.Stderr.Trim()), (wharf.ExitCode, wharf.Stdout, wharf.Stderr.Trim()));
        }

        Assert.Equal(1, _wharf.Run("exec", "xb", "test", "-e", "/tmp/ran").ExitCode);
    }

    [Fact]
    public void Latest_EachVerb_ActsOnTheContainerCreatedLastAsPodman()
    {
        string pr = _podman.Unique("lr");
        string pc = _podman.Unique("lc");
        _podman.Check(["run", "-d", "--name", pr, .. PodmanBeside.Limits, "localhost/bb:1", "sleep", "120"]);
        _podman.Check(["create", "--name", pc, .. PodmanBeside.Limits, "localhost/bb:1", "sh", "-c", "exit 4"]);
        string running = _wharf.Check("run", "-d", "--name", "lr", fixture.Image, "sleep", "120").Trim();
        string created = _wharf.Check("create", "--name", "lc", fixture.Image, "sh", "-c", "exit 4").Trim();

        // The latest is the container created last, even one that never ran.
        Assert.Equal("lc\n", _wharf.Check("inspect", "-l", "--format", "{{.Name}}"));
        Assert.Equal("lc\n", _wharf.Check("container", "inspect", "--latest", "--format", "{{.Name}}"));
        Assert.Equal(_podman.Check("inspect", "-l", "--format", "{{.State.Status}}"), _wharf.Check("inspect", "-l", "--format", "{{.State.Status}}"));
        Assert.Equal(_podman.Check("wait", "-l"), _wharf.Check("wait", "-l"));
        Assert.Equal(_podman.Check("diff", "-l"), _wharf.Check("diff", "-l"));
        Assert.Equal(_podman.Check("port", "-l"), _wharf.Check("port", "-l"));
        Assert.Equal(_podman.Check("port", "-l", "80"), _wharf.Check("port", "-l", "80"));
        string[][] sameAsPodman = [["top", "-l"], ["exec", "-l", "true"], ["exec", "-d", "-l", "true"], ["inspect", "-l", "--type", "volume"]];
        foreach (string[] args in sameAsPodman)
        {
            var podman = _podman.Run(args);
            var wharf = _wharf.Run(args);
            Assert.Equal((podman.ExitCode, podman.Stdout, podman.Stderr.Trim()), (wharf.ExitCode, wharf.Stdout, wharf.Stderr.Trim()));
        }

        // mount -l mounts it (and prints the path), unmount -l gives its ID back.
        string path = _wharf.Check("mount", "-l").Trim();
        Assert.Contains(path, _wharf.Check("mount", "--no-trunc"), StringComparison.Ordinal);
        Assert.Equal(created + "\n", _wharf.Check("unmount", "-l"));
        Assert.DoesNotContain(created[..12], _wharf.Check("mount"), StringComparison.Ordinal);

        // restart -l starts the created one (podman prints its full ID), which then exits 4.
        Assert.Equal(created + "\n", _wharf.Check("restart", "-l"));
        Assert.Equal("4\n", _wharf.Check("wait", "-l"));

        // A newer running container becomes the latest for exec, exec -d and top.
        string newest = _wharf.Check("run", "-d", "--name", "ln", fixture.Image, "sleep", "120").Trim();
        Assert.Equal("a b\n", _wharf.Check("exec", "-l", "sh", "-c", "echo $0 $1", "a", "b"));
        Assert.Matches(SessionId(), _wharf.Check("exec", "-dl", "touch", "/tmp/latest"));
        Eventually(() => _wharf.Run("exec", "ln", "test", "-e", "/tmp/latest").ExitCode == 0, "exec -d -l did not run in the latest container");
        Assert.Contains("sleep 120", _wharf.Check("top", "-l"), StringComparison.Ordinal);
        Assert.Equal("PID\n1\n", _wharf.Check("top", "-l", "pid").Replace(" ", string.Empty, StringComparison.Ordinal));
        Assert.Equal(newest + "\n", _wharf.Check("inspect", "-l", "--format", "{{.Id}}"));
        Assert.Equal("-1\n", _wharf.Check("wait", "-l", "--condition", "running"));
        Assert.NotEqual(running, newest);
    }

    [Theory]
    [InlineData("inspect", "-l")]
    [InlineData("container", "inspect", "-l")]
    [InlineData("inspect", "-l", "--format", "{{.Id}}")]
    [InlineData("wait", "-l")]
    [InlineData("top", "-l")]
    [InlineData("port", "-l")]
    [InlineData("diff", "-l")]
    [InlineData("container", "diff", "-l")]
    [InlineData("exec", "-l", "true")]
    [InlineData("exec", "-d", "-l", "true")]
    [InlineData("mount", "-l")]
    [InlineData("unmount", "-l")]
    [InlineData("restart", "-l")]
    public void Latest_NoContainers_ErrorAsPodman(params string[] args)
    {
        var podman = _podman.RunEmpty(args);
        var wharf = _wharf.Run(args);
        Assert.Equal((podman.ExitCode, podman.Stdout, podman.Stderr.Trim()), (wharf.ExitCode, wharf.Stdout, wharf.Stderr.Trim()));
    }

    [Theory]
    [InlineData("inspect", "-l", "x")]
    [InlineData("inspect", "-l", "--type", "image")]
    [InlineData("inspect")]
    [InlineData("wait", "-l", "x")]
    [InlineData("wait")]
    [InlineData("container", "wait")]
    [InlineData("diff", "-l", "x")]
    [InlineData("diff")]
    [InlineData("mount", "-l", "x")]
    [InlineData("unmount", "-l", "x")]
    [InlineData("restart", "-l", "x")]
    [InlineData("restart", "-a", "-l")]
    [InlineData("port", "-a", "-l")]
    [InlineData("port", "-l", "x")]
    [InlineData("port", "-l", "99999")]
    [InlineData("port", "-l", "80/udp/x")]
    [InlineData("top")]
    public void Latest_WithNamesOrContradictions_RefusedAsPodman(params string[] args)
    {
        // podman's checks come before any lookup, so its empty store answers as the fixture's would;
        // where podman names its command ("podman wait"), wharf names its own.
        var podman = _podman.RunEmpty(args);
        var wharf = _wharf.Run(args);
        Assert.Equal((podman.ExitCode, podman.Stdout, podman.Stderr.Trim().Replace("\"podman ", "\"wharf ", StringComparison.Ordinal)), (wharf.ExitCode, wharf.Stdout, wharf.Stderr.Trim()));
    }
}
