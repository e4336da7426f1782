namespace Wharf.Cli.Tests.Containers;

/// <summary>wait, exists, rename, restart, top and port, each compared with podman 4.3 where podman's output is the reference.</summary>
[Collection("containers")]
public sealed class WaitTopRenameTests(ContainerFixture fixture) : IDisposable
{
    private static readonly string[] Limits = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

    private readonly WharfProcess _wharf = CreatePulled(fixture);

    private readonly string _podmanDir = Directory.CreateTempSubdirectory("wharf-verbs-podman-").FullName;

    private static WharfProcess CreatePulled(ContainerFixture fixture)
    {
        var w = new WharfProcess();
        w.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        return w;
    }

    /// <summary>podman on the fixture's store (which holds localhost/bb:1) but its own run root and container names.</summary>
    private (int ExitCode, string Stdout, string Stderr) Podman(params string[] args) =>
        Tools.Run("podman", ["--root", Path.Combine(fixture.Root, "podman", "storage"), "--runroot", Path.Combine(fixture.Root, "podman", "run"), "--tmpdir", Path.Combine(fixture.Root, "podman", "tmp"),
            "--storage-driver", "vfs", "--runtime", "runc", .. args]);

    private string PodmanCheck(params string[] args)
    {
        var r = Podman(args);
        Assert.True(r.ExitCode == 0, $"podman {string.Join(' ', args)} exited {r.ExitCode}: {r.Stderr}");
        return r.Stdout;
    }

    private string Unique(string name) => name + "-" + Path.GetFileName(_podmanDir).Replace("wharf-verbs-podman-", string.Empty, StringComparison.Ordinal).ToLowerInvariant();

    public void Dispose()
    {
        _wharf.Dispose();
        foreach (string line in Podman("ps", "-a", "--format", "{{.Names}}").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.EndsWith(Unique(string.Empty), StringComparison.Ordinal))
            {
                Podman("rm", "-f", "-t", "0", line);
            }
        }

        Directory.Delete(_podmanDir, recursive: true);
    }

    [Fact]
    public void Wait_ExitedContainer_PrintsItsExitCodeAsPodman()
    {
        string p = Unique("w");
        PodmanCheck(["run", "-d", "--name", p, .. Limits, "localhost/bb:1", "sh", "-c", "exit 3"]);
        _wharf.Check("run", "-d", "--name", "w", fixture.Image, "sh", "-c", "sleep 1; exit 3");

        Assert.Equal("3\n", _wharf.Check("wait", "w"));
        Assert.Equal(PodmanCheck("wait", p), _wharf.Check("wait", "w"));
        Assert.Equal(PodmanCheck("wait", "--condition", "stopped", p), _wharf.Check("container", "wait", "--condition", "stopped", "w"));
    }

    [Fact]
    public void Wait_RunningConditionAndCreatedContainer_PrintAsPodman()
    {
        string p = Unique("wr");
        string pc = Unique("wc");
        PodmanCheck(["run", "-d", "--name", p, .. Limits, "localhost/bb:1", "sleep", "60"]);
        PodmanCheck(["create", "--name", pc, .. Limits, "localhost/bb:1", "true"]);
        _wharf.Check("run", "-d", "--name", "wr", fixture.Image, "sleep", "60");
        _wharf.Check("create", "--name", "wc", fixture.Image, "true");

        Assert.Equal("-1\n", _wharf.Check("wait", "--condition", "running", "wr"));
        Assert.Equal(PodmanCheck("wait", "--condition", "running", p), _wharf.Check("wait", "--condition", "running", "wr"));

        // A container that never ran counts as stopped, exit code 0.
        Assert.Equal(PodmanCheck("wait", pc), _wharf.Check("wait", "wc"));
        Assert.Equal(PodmanCheck("wait", "--condition", "created", pc), _wharf.Check("wait", "--condition", "created", "wc"));
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
        var podman = Podman(args);
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
        string p = Unique("rn");
        PodmanCheck(["create", "--name", p, .. Limits, "localhost/bb:1", "true"]);
        var podman = Podman("rename", p, "bad name");
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
        string p = Unique("tp");
        PodmanCheck(["run", "-d", "--name", p, .. Limits, "localhost/bb:1", "sleep", "60"]);
        _wharf.Check("run", "-d", "--name", "tp", fixture.Image, "sleep", "60");

        string[] podman = PodmanCheck("top", p).Split('\n', StringSplitOptions.RemoveEmptyEntries);
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
        string p = Unique("pt");
        PodmanCheck(["create", "--name", p, .. Limits, "localhost/bb:1", "true"]);
        _wharf.Check("create", "--name", "pt", fixture.Image, "true");
        Assert.Equal(PodmanCheck("port", p), _wharf.Check("port", "pt"));
        Assert.Equal(string.Empty, _wharf.Check("port", "--all"));
    }
}
