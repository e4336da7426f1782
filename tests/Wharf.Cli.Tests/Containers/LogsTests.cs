using System.Text.RegularExpressions;

namespace Wharf.Cli.Tests.Containers;

/// <summary>
/// Container logs in podman's k8s-file format and <c>logs</c>' options, each compared with what
/// real podman writes and prints for the same command; .containerenv and <c>container=</c> as podman's.
/// </summary>
[Collection("containers")]
public sealed partial class LogsTests(ContainerFixture fixture) : IDisposable
{
    private static readonly string[] Limits = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

    /// <summary>Output on both streams, a line left open (a partial record) and an empty line.</summary>
    private const string Script = "echo out1; echo err1 >&2; printf partial; sleep 0.3; echo; echo last";

    private readonly WharfProcess _wharf = CreatePulled(fixture);
    private readonly List<string> _podmanContainers = [];

    private static WharfProcess CreatePulled(ContainerFixture fixture)
    {
        var w = new WharfProcess();
        w.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        return w;
    }

    public void Dispose()
    {
        foreach (string id in _podmanContainers)
        {
            Podman("rm", "-f", id);
        }

        _wharf.Run("rm", "-a", "-f");
        _wharf.Dispose();
    }

    private (int ExitCode, string Stdout, string Stderr) Podman(params string[] args)
    {
        string dir = Path.Combine(fixture.Root, "podman");
        return Tools.Run("podman", ["--root", Path.Combine(dir, "storage"), "--runroot", Path.Combine(dir, "run"), "--tmpdir", Path.Combine(dir, "tmp"), "--storage-driver", "vfs", "--runtime", "runc", .. args]);
    }

    /// <summary>podman run with the machine's limits, the container remembered for cleanup; returns its ID.</summary>
    private string PodmanRun(string name, params string[] args)
    {
        var (code, _, stderr) = Podman(["run", "--name", name, .. Limits, .. args]);
        Assert.True(code == 0, $"podman run: {stderr}");
        string id = Podman("container", "inspect", "--format", "{{.Id}}", name).Stdout.Trim();
        _podmanContainers.Add(id);
        return id;
    }

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}[+-]\d\d:\d\d (stdout|stderr) [FP] ")]
    private static partial Regex RecordLine();

    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d) ")]
    private static partial Regex DisplayTime();

    /// <summary>A k8s-file log without its times: "stdout F out1" per record, stdout's and stderr's records each in their order.</summary>
    private static LogRecords Records(string path)
    {
        // Split on \n alone: a terminal's records end in \r, which ReadAllLines would take as part of the line end.
        string[] lines = File.ReadAllText(path).Split('\n')[..^1];
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.Matches(RecordLine(), l));
        string[] bare = [.. lines.Select(l => l[(l.IndexOf(' ', StringComparison.Ordinal) + 1)..])];
        return new(string.Join('\n', bare.Where(l => l.StartsWith("stdout", StringComparison.Ordinal))), string.Join('\n', bare.Where(l => l.StartsWith("stderr", StringComparison.Ordinal))));
    }

    private sealed record LogRecords(string Stdout, string Stderr);

    private string WharfLogPath(string name) => _wharf.Check("container", "inspect", "--format", "{{.HostConfig.LogConfig.Path}}", name).Trim();

    private string PodmanLogPath(string name) => Podman("container", "inspect", "--format", "{{.HostConfig.LogConfig.Path}}", name).Stdout.Trim();

    [Fact]
    public void RunAttached_BothStreams_LogHasPodmansRecords()
    {
        string name = Unique("att");
        var (code, stdout, stderr) = _wharf.Run(["run", "--name", name, fixture.Image, "sh", "-c", Script]);
        Assert.Equal(0, code);
        Assert.Equal("out1\npartial\nlast\n", stdout);
        Assert.Equal("err1\n", stderr);
        PodmanRun(name, "localhost/bb:1", "sh", "-c", Script);

        var wharf = Records(WharfLogPath(name));
        var podman = Records(PodmanLogPath(name));
        Assert.Equal("stdout F out1\nstdout P partial\nstdout F \nstdout F last", wharf.Stdout);
        Assert.Equal(podman.Stdout, wharf.Stdout);
        Assert.Equal(podman.Stderr, wharf.Stderr);
    }

    [Fact]
    public void Logs_DetachedContainer_PrintsAsPodman()
    {
        string name = Unique("det");
        _wharf.Check("run", "-d", "--name", name, fixture.Image, "sh", "-c", Script);
        Assert.Equal("0\n", _wharf.Check("wait", name));
        PodmanRun(name, "localhost/bb:1", "sh", "-c", Script);

        Assert.Equal(Records(PodmanLogPath(name)), Records(WharfLogPath(name)));
        foreach (string[] args in new[] { Array.Empty<string>(), ["--tail", "1"], ["--tail", "2"], ["--tail", "0"], ["--tail", "-1"], ["--since", "2099-01-01"], ["--until", "2099-01-01T00:00:00Z"], ["--since", "10m"], ["--until", "10m"] })
        {
            var wharf = _wharf.Run(["logs", .. args, name]);
            var podman = Podman(["logs", .. args, name]);
            Assert.Equal((podman.ExitCode, podman.Stdout, podman.Stderr), (wharf.ExitCode, wharf.Stdout, wharf.Stderr));
        }

        // -t: each record starts with its time as podman prints it; without the times the text is the same.
        var stamped = _wharf.Run("logs", "-t", name);
        var podmanStamped = Podman("logs", "-t", name);
        string[] lines = stamped.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines, l => Assert.Matches(DisplayTime(), l));
        Assert.Equal(StripTimes(podmanStamped.Stdout), StripTimes(stamped.Stdout));
        Assert.Equal(StripTimes(podmanStamped.Stderr), StripTimes(stamped.Stderr));
    }

    private static string StripTimes(string text) => Regex.Replace(text, @"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d) ", "T ");

    [Fact]
    public void Logs_SeveralContainers_PrefixedByShortIdOrName()
    {
        string a = Unique("la");
        string b = Unique("lb");
        string idA = _wharf.Check("run", "--name", a, fixture.Image, "echo", "from-a");
        _wharf.Check("run", "--name", b, fixture.Image, "echo", "from-b");
        string fullA = _wharf.Check("container", "inspect", "--format", "{{.Id}}", a).Trim();
        string fullB = _wharf.Check("container", "inspect", "--format", "{{.Id}}", b).Trim();
        Assert.Equal("from-a\n", idA);

        Assert.Equal($"{fullA[..12]} from-a\n{fullB[..12]} from-b\n", _wharf.Check("logs", a, b));
        Assert.Equal($"{a} from-a\n{b} from-b\n", _wharf.Check("logs", "--names", a, b));
        Assert.Equal($"{a} from-a\n{b} from-b\n", _wharf.Check("logs", "-n", a, b));
        // One container: no prefix, even with --names (as podman).
        Assert.Equal("from-a\n", _wharf.Check("logs", "--names", a));
        Assert.Equal("from-b\n", _wharf.Check("logs", "-l"));
    }

    [Fact]
    public void LogsFollow_RunningContainer_ReturnsWhenItExitsWithEverything()
    {
        string name = Unique("fol");
        _wharf.Check("run", "-d", "--name", name, fixture.Image, "sh", "-c", "echo first; sleep 1; echo second >&2; echo third");
        var (code, stdout, stderr) = _wharf.Run("logs", "-f", name);
        Assert.Equal(0, code);
        Assert.Equal("first\nthird\n", stdout);
        Assert.Equal("second\n", stderr);
    }

    [Fact]
    public void RunDetachedTerminal_EverythingIsStdoutWithCarriageReturns()
    {
        string name = Unique("tty");
        _wharf.Check("run", "-dt", "--name", name, fixture.Image, "sh", "-c", "echo a; echo b >&2");
        Assert.Equal("0\n", _wharf.Check("wait", name));
        PodmanRun(name, "-t", "localhost/bb:1", "sh", "-c", "echo a; echo b >&2");

        var wharf = Records(WharfLogPath(name));
        Assert.Equal("stdout F a\r\nstdout F b\r", wharf.Stdout);
        Assert.Equal(Records(PodmanLogPath(name)), wharf);
    }

    [Fact]
    public async Task RunAttachedTerminal_LogHasWhatTheTerminalShowed()
    {
        // Attached -t (on a terminal, as a user types it): the log has the terminal's output, one
        // stream (stdout) with \r\n, a line left open as a partial record, as podman's conmon writes it.
        const string script = "echo a; echo b >&2; printf part; sleep 0.3; printf 'rest\\n'";
        string name = Unique("att-tty");
        var (code, shown) = await Terminal.RunAsync(_wharf.ShellCommand("run", "-t", "--name", name, fixture.Image, "sh", "-c", script), string.Empty, TimeSpan.FromMilliseconds(100));
        Assert.True(code == 0, shown);
        Assert.Contains("a\r\nb\r\npartrest\r\n", shown, StringComparison.Ordinal);
        PodmanRun(name, "-t", "localhost/bb:1", "sh", "-c", script);

        var wharf = Records(WharfLogPath(name));
        Assert.Equal("stdout F a\r\nstdout F b\r\nstdout P part\nstdout F rest\r", wharf.Stdout);
        Assert.Equal(string.Empty, wharf.Stderr);
        Assert.Equal(Records(PodmanLogPath(name)), wharf);
        Assert.Equal(Podman("logs", name).Stdout, _wharf.Check("logs", name));
    }

    [Fact]
    public void LogDriverNone_Logs_FailsAsPodman()
    {
        string name = Unique("none");
        Assert.Equal("hi\n", _wharf.Check("run", "--log-driver", "none", "--name", name, fixture.Image, "echo", "hi"));
        PodmanRun(name, "--log-driver", "none", "localhost/bb:1", "echo", "hi");

        var wharf = _wharf.Run("logs", name);
        var podman = Podman("logs", name);
        Assert.Equal(125, wharf.ExitCode);
        Assert.Equal((podman.ExitCode, podman.Stderr), (wharf.ExitCode, wharf.Stderr));
        Assert.Equal("none\n", _wharf.Check("container", "inspect", "--format", "{{.HostConfig.LogConfig.Type}}", name));
    }

    [Fact]
    public void LogDriverJsonFile_WrittenAsK8sFile_InspectSaysJsonFile()
    {
        string name = Unique("json");
        _wharf.Check("run", "--log-driver", "json-file", "--name", name, fixture.Image, "echo", "hi");
        PodmanRun(name, "--log-driver", "json-file", "localhost/bb:1", "echo", "hi");

        Assert.Equal(Records(PodmanLogPath(name)), Records(WharfLogPath(name)));
        Assert.Equal("json-file\n", _wharf.Check("container", "inspect", "--format", "{{.HostConfig.LogConfig.Type}}", name));
        Assert.Equal("hi\n", _wharf.Check("logs", name));
    }

    [Fact]
    public void LogOptPath_LogWrittenThere()
    {
        string path = Path.Combine(_wharf.Dir, "logs", "mine.log");
        string name = Unique("path");
        _wharf.Check("run", "-d", "--log-opt", "path=" + path, "--log-opt", "max-size=10mb", "--log-opt", "tag=x", "--name", name, fixture.Image, "echo", "hi");
        Assert.Equal("0\n", _wharf.Check("wait", name));

        Assert.Equal("stdout F hi", Records(path).Stdout);
        Assert.Equal(path + "\n", _wharf.Check("container", "inspect", "--format", "{{.HostConfig.LogConfig.Path}}", name));
        Assert.Equal("hi\n", _wharf.Check("logs", name));
    }

    [Fact]
    public void LogOptMaxSize_LogStartsAgainWhenFull()
    {
        string name = Unique("max");
        _wharf.Check("run", "--log-opt", "max-size=200b", "--name", name, fixture.Image, "sh", "-c", "for i in 1 2 3 4 5 6 7 8; do echo line$i; sleep 0.05; done");

        string[] lines = File.ReadAllText(WharfLogPath(name)).Split('\n')[..^1];
        Assert.InRange(File.ReadAllBytes(WharfLogPath(name)).Length, 1, 200);
        Assert.EndsWith("stdout F line8", lines[^1], StringComparison.Ordinal);
        Assert.DoesNotContain(lines, l => l.EndsWith(" line1", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("--log-driver", "bogus")]
    [InlineData("--log-opt", "foo")]
    [InlineData("--log-opt", "max-size=abc")]
    public void Create_BadLogFlag_FailsAsPodman(string flag, string value)
    {
        var wharf = _wharf.Run("create", flag, value, fixture.Image, "true");
        var podman = Podman("create", flag, value, "localhost/bb:1", "true");
        Assert.Equal(125, wharf.ExitCode);
        Assert.Equal((podman.ExitCode, podman.Stderr), (wharf.ExitCode, wharf.Stderr));
        Assert.Equal(string.Empty, _wharf.Check("ps", "-a", "-q"));
    }

    [Theory]
    [InlineData("--since", "bogus")]
    [InlineData("--until", "bogus")]
    [InlineData("--tail", "x")]
    public void Logs_BadOption_FailsAsPodman(string flag, string value)
    {
        string name = Unique("bad");
        _wharf.Check("create", "--name", name, fixture.Image, "true");
        string podmanId = Podman(["create", .. Limits, "--name", name, "localhost/bb:1", "true"]).Stdout.Trim();
        _podmanContainers.Add(podmanId);

        var wharf = _wharf.Run("logs", flag, value, name);
        var podman = Podman("logs", flag, value, name);
        Assert.Equal(125, wharf.ExitCode);
        Assert.Equal(podman.ExitCode, wharf.ExitCode);
        Assert.Equal(podman.Stderr.Split('\n')[0], wharf.Stderr.Split('\n')[0]);
    }

    [Fact]
    public void Logs_NoContainerOrMissing_FailsAsPodman()
    {
        var wharf = _wharf.Run("logs");
        var podman = Podman("logs");
        Assert.Equal((podman.ExitCode, podman.Stderr), (wharf.ExitCode, wharf.Stderr));
        wharf = _wharf.Run("logs", "nope-missing");
        podman = Podman("logs", "nope-missing");
        Assert.Equal((podman.ExitCode, podman.Stderr), (wharf.ExitCode, wharf.Stderr));
    }

    [Fact]
    public void Logs_RawLogOfAnOlderWharf_PrintedAsItIs()
    {
        string name = Unique("raw");
        _wharf.Check("create", "--name", name, fixture.Image, "true");
        File.WriteAllText(WharfLogPath(name), "plain line\nno newline");

        Assert.Equal("plain line\nno newline", _wharf.Check("logs", name));
    }

    [Fact]
    public void ContainerEnv_AsPodmanWritesIt()
    {
        string name = Unique("env");
        const string Show = "cat /run/.containerenv; echo =; env | grep ^container=";
        string wharf = _wharf.Check("run", "--rm", "--name", name, fixture.Image, "sh", "-c", Show);
        string podman = Podman(["run", "--rm", .. Limits, "localhost/bb:1", "sh", "-c", Show]).Stdout;
        Assert.Equal("=\ncontainer=podman\n", podman);
        Assert.Equal(podman, wharf);

        // --privileged: podman fills it; the same keys in the same order (engine says wharf).
        string wharfPriv = _wharf.Check("run", "--rm", "--privileged", "--name", name, fixture.Image, "cat", "/run/.containerenv");
        string podmanPriv = Podman(["run", "--rm", "--privileged", .. Limits, "--name", name, "localhost/bb:1", "cat", "/run/.containerenv"]).Stdout;
        static string[] Keys(string text) => [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('=')[0])];
        Assert.Equal(["engine", "name", "id", "image", "imageid", "rootless"], Keys(podmanPriv));
        Assert.Equal(Keys(podmanPriv), Keys(wharfPriv));
        Assert.Contains($"name=\"{name}\"\n", wharfPriv, StringComparison.Ordinal);
        Assert.Contains("engine=\"wharf-", wharfPriv, StringComparison.Ordinal);
        Assert.Equal(podmanPriv.Split('\n').Single(l => l.StartsWith("rootless=", StringComparison.Ordinal)), wharfPriv.Split('\n').Single(l => l.StartsWith("rootless=", StringComparison.Ordinal)));
    }
}
