namespace Wharf.Cli.Tests.Containers;

/// <summary>wait, exists, rename, restart, top and port, each compared with podman 4.3 where podman's output is the reference.</summary>
[Collection("containers")]
public sealed class WaitTopRenameTests(ContainerFixture fixture) : IDisposable
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

    [Fact]
    public void Wait_ExitedContainer_PrintsItsExitCodeAsPodman()
    {
        string p = _podman.Unique("w");
        _podman.Check(["run", "-d", "--name", p, .. PodmanBeside.Limits, "localhost/bb:1", "sh", "-c", "exit 3"]);
        _wharf.Check("run", "-d", "--name", "w", fixture.Image, "sh", "-c", "sleep 1; exit 3");

        Assert.Equal("3\n", _wharf.Check("wait", "w"));
        Assert.Equal(_podman.Check("wait", p), _wharf.Check("wait", "w"));
        Assert.Equal(_podman.Check("wait", "--condition", "stopped", p), _wharf.Check("container", "wait", "--condition", "stopped", "w"));
    }

    [Fact]
    public void Wait_RunningConditionAndCreatedContainer_PrintAsPodman()
    {
        string p = _podman.Unique("wr");
        string pc = _podman.Unique("wc");
        _podman.Check(["run", "-d", "--name", p, .. PodmanBeside.Limits, "localhost/bb:1", "sleep", "60"]);
        _podman.Check(["create", "--name", pc, .. PodmanBeside.Limits, "localhost/bb:1", "true"]);
        _wharf.Check("run", "-d", "--name", "wr", fixture.Image, "sleep", "60");
        _wharf.Check("create", "--name", "wc", fixture.Image, "true");

        Assert.Equal("-1\n", _wharf.Check("wait", "--condition", "running", "wr"));
        Assert.Equal(_podman.Check("wait", "--condition", "running", p), _wharf.Check("wait", "--condition", "running", "wr"));

        // A container that never ran counts as stopped, exit code 0.
        Assert.Equal(_podman.Check("wait", pc), _wharf.Check("wait", "wc"));
        Assert.Equal(_podman.Check("wait", "--condition", "created", pc), _wharf.Check("wait", "--condition", "created", "wc"));
    }

    [Theory]
    [InlineData("wait", "--condition", "bogus", "nosuch")]
    [InlineData("wait", "nosuch")]
    [InlineData("rename", "nosuch", "other")]
    [InlineData("port", "nosuch")]
    [InlineData("port")]
    [InlineData("restart", "nosuch")]
    [InlineData("container", "exists", "nosuch")]
    [InlineData("image", "exists", "localhost/nosuch:1")]
    public void Verb_BadInput_ExitCodeAndMessageAsPodman(params string[] args)
    {
        var podman = _podman.Run(args);
        var wharf = _wharf.Run(args);
        Assert.Equal(podman.ExitCode, wharf.ExitCode);
        Assert.Equal(podman.Stdout, wharf.Stdout);
        Assert.Equal(podman.Stderr.Trim(), wharf.Stderr.Trim());
    }

    [Fact]
    public void Exists_ContainerAndImage_ExitZeroOrOneWithoutOutput()
    {
        _wharf.Check("create", "--name", "ex", fixture.Image, "true");
        Assert.Equal((0, "", ""), _wharf.Run("container", "exists", "ex"));
        Assert.Equal((1, "", ""), _wharf.Run("container", "exists", "ex2"));
        Assert.Equal((0, "", ""), _wharf.Run("image", "exists", fixture.Image));
        Assert.Equal((1, "", ""), _wharf.Run("image", "exists", fixture.Registry + "/lab/none:1"));
        _wharf.Check("rm", "ex");
        Assert.Equal(1, _wharf.Run("container", "exists", "ex").ExitCode);
    }

    [Fact]
    public void Rename_NewNameIsUsedAndOldIsFree_ClashesRefusedAsPodman()
    {
        string id = _wharf.Check("create", "--name", "old", fixture.Image, "true").Trim();
        _wharf.Check("create", "--name", "taken", fixture.Image, "true");

        Assert.Equal(string.Empty, _wharf.Check("rename", "old", "new"));
        Assert.Equal(id, _wharf.Check("container", "inspect", "--format", "{{.Id}}", "new").Trim());
        Assert.Equal(1, _wharf.Run("container", "exists", "old").ExitCode);

        var clash = _wharf.Run("rename", "new", "taken");
        Assert.Equal(125, clash.ExitCode);
        Assert.Equal($"Error: renaming container {id}: name taken already in use, cannot rename container {id}: container already exists\n", clash.Stderr);

        // podman's rule for names; the container keeps its name.
        string p = _podman.Unique("rn");
        _podman.Check(["create", "--name", p, .. PodmanBeside.Limits, "localhost/bb:1", "true"]);
        var podman = _podman.Run("rename", p, "bad name");
        var bad = _wharf.Run("rename", "new", "bad name");
        Assert.Equal((podman.ExitCode, podman.Stderr), (bad.ExitCode, bad.Stderr));
        Assert.Equal(0, _wharf.Run("container", "exists", "new").ExitCode);
    }

    [Fact]
    public void Restart_RunningContainer_RunsAgainWithANewProcess()
    {
        _wharf.Check("run", "-d", "--name", "rs", fixture.Image, "sh", "-c", "echo started; sleep 60");
        string before = _wharf.Check("container", "inspect", "--format", "{{.State.Pid}}", "rs").Trim();

        Assert.Equal("rs\n", _wharf.Check("restart", "-t", "0", "rs"));
        Assert.Equal("-1\n", _wharf.Check("wait", "--condition", "running", "rs"));
        string after = _wharf.Check("container", "inspect", "--format", "{{.State.Pid}}", "rs").Trim();
        Assert.NotEqual(before, after);
        Assert.NotEqual("0", after);

        // An exited container is just started.
        _wharf.Check("run", "--name", "once", fixture.Image, "true");
        Assert.Equal("once\n", _wharf.Check("restart", "once"));
        Assert.Equal("0\n", _wharf.Check("wait", "once"));
    }

    [Fact]
    public void Top_RunningContainer_PrintsPodmansTable()
    {
        string p = _podman.Unique("tp");
        _podman.Check(["run", "-d", "--name", p, .. PodmanBeside.Limits, "localhost/bb:1", "sleep", "60"]);
        _wharf.Check("run", "-d", "--name", "tp", fixture.Image, "sleep", "60");

        string[] podman = _podman.Check("top", p).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string[] wharf = _wharf.Check("top", "tp").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // Column widths follow the longest cell, and ELAPSED differs by the clock: compare the words.
        Assert.Equal(podman[0].Split(' ', StringSplitOptions.RemoveEmptyEntries), wharf[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("USER        PID         PPID        %CPU        ELAPSED", wharf[0], StringComparison.Ordinal);
        Assert.Equal(podman.Length, wharf.Length);

        // USER PID PPID TTY COMMAND are the same; %CPU, ELAPSED and TIME are the clock's.
        string[] Stable(string row)
        {
            string[] cells = row.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return [cells[0], cells[1], cells[2], cells[5], string.Join(' ', cells[7..])];
        }

        Assert.Equal(Stable(podman[1]), Stable(wharf[1]));
        Assert.Equal(["root", "1", "0", "?", "sleep 60"], Stable(wharf[1]));

        _wharf.Check("stop", "-t", "0", "tp");
        var stopped = _wharf.Run("top", "tp");
        Assert.Equal((125, "Error: top can only be used on running containers\n"), (stopped.ExitCode, stopped.Stderr));
    }

    [Fact]
    public void Port_ContainerWithoutPublishedPorts_PrintsNothingAsPodman()
    {
        string p = _podman.Unique("pt");
        _podman.Check(["create", "--name", p, .. PodmanBeside.Limits, "localhost/bb:1", "true"]);
        _wharf.Check("create", "--name", "pt", fixture.Image, "true");
        Assert.Equal(_podman.Check("port", p), _wharf.Check("port", "pt"));
        Assert.Equal(string.Empty, _wharf.Check("port", "--all"));
    }
}
