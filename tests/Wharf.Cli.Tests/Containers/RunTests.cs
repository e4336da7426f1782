using System.Text.Json.Nodes;

namespace Wharf.Cli.Tests.Containers;

/// <summary>run, ps, logs, stop, kill, rm and exec against real runc and a kernel overlay.</summary>
[Collection("containers")]
public sealed class RunTests(ContainerFixture fixture) : IDisposable
{
    private readonly WharfProcess _wharf = CreatePulled(fixture);

    private static WharfProcess CreatePulled(ContainerFixture fixture)
    {
        var w = new WharfProcess();
        w.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        return w;
    }

    public void Dispose() => _wharf.Dispose();

    [Theory]
    [InlineData("exit 0", 0)]
    [InlineData("exit 3", 3)]
    public void Run_ShellExit_IsWharfsExitCode(string script, int expected)
    {
        var (code, _, _) = _wharf.Run("run", "--rm", fixture.Image, "sh", "-c", script);
        Assert.Equal(expected, code);
    }

    [Fact]
    public void Run_CommandOnABindMount_RunsLikeAnyCommand()
    {
        // A job script on a mounted data directory, at the same path inside as outside.
        string data = Path.Combine(_wharf.Dir, "data");
        Directory.CreateDirectory(data);
        File.WriteAllText(Path.Combine(data, "job.sh"), "#!/bin/sh\necho job-ran \"$@\"\n");
        File.SetUnixFileMode(Path.Combine(data, "job.sh"), (UnixFileMode)0x1ED);

        Assert.Equal("job-ran a\n", _wharf.Check("run", "--rm", "-v", $"{data}:{data}", fixture.Image, $"{data}/job.sh", "a"));
        string id = Jobs.JobHelpers.Submit(_wharf, fixture.Image, "-v", $"{data}:{data}", "--", $"{data}/job.sh", "b");
        var job = Jobs.JobHelpers.WaitFinal(_wharf, id);
        Assert.True((string?)job["state"] == "completed", $"job {id}: {(string?)job["state"]} {(string?)job["message"]}");
        Assert.Equal("job-ran b\n", _wharf.Check("job", "logs", id));

        // Not on any mount, it is still not found: 127 as before.
        Assert.Equal(127, _wharf.Run("run", "--rm", fixture.Image, $"{data}/job.sh").ExitCode);
    }

    [Fact]
    public void Run_CommandNotFound_Exits127WithPodmansMessage()
    {
        var (code, _, stderr) = _wharf.Run("run", "--rm", fixture.Image, "no-such-command");
        Assert.Equal(127, code);
        Assert.Contains("executable file not found in $PATH", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_FileNotExecutable_Exits126()
    {
        var (code, _, stderr) = _wharf.Run("run", "--rm", fixture.Image, "/opt/notexec");
        Assert.Equal(126, code);
        Assert.Contains("permission denied", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_UnknownImageWithPullNever_Exits125()
    {
        var (code, _, stderr) = _wharf.Run("run", "--pull", "never", "--rm", "localhost/absent:1", "true");
        Assert.Equal(125, code);
        Assert.StartsWith("Error: ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_Rm_LeavesNoContainerMountOrRuntimeState()
    {
        Assert.Equal("hi\n", _wharf.Check("run", "--rm", fixture.Image, "echo", "hi"));
        Assert.Empty(_wharf.ContainerDirs);
        Assert.Empty(_wharf.RuncStates);
        Assert.False(_wharf.AnyMountUnder());
        Assert.Equal(string.Empty, _wharf.Check("ps", "-a", "-q"));
    }

    [Theory]
    [InlineData("fuse-overlayfs", "fuse.fuse-overlayfs")]
    [InlineData("copy", "")]
    public void Run_FallbackRootfsDrivers_RunTheImageAndLeaveItUnchanged(string driver, string rootFsType)
    {
        if (driver == "fuse-overlayfs")
        {
            Tools.EnsureTool("fuse-overlayfs", "fuse-overlayfs");
        }

        _wharf.Env["WHARF_ROOTFS_DRIVER"] = driver;
        string output = _wharf.Check("run", "--name", "fb", fixture.Image, "sh", "-c", "rm /etc/motd; echo changed > /opt/x; cat /proc/mounts");
        string rootLine = output.Split('\n').First(l => l.Split(' ') is [_, "/", ..]);
        Assert.Equal(rootFsType.Length > 0 ? rootFsType : rootLine.Split(' ')[2], rootLine.Split(' ')[2]);
        Assert.NotEqual("overlay", rootLine.Split(' ')[2]);
        Assert.Equal(driver, JsonNode.Parse(_wharf.Check("container", "inspect", "fb"))!.AsArray()[0]!["Driver"]!.GetValue<string>());
        _wharf.Check("rm", "fb");
        _wharf.Env.Remove("WHARF_ROOTFS_DRIVER");
        Assert.Equal("from the image\n", _wharf.Check("run", "--rm", fixture.Image, "cat", "/etc/motd"));
        Assert.False(_wharf.AnyMountUnder());
    }

    [Fact]
    public void Run_FlagsAfterImage_BelongToTheCommand()
    {
        // -e after the image is the command's argument ($0 of the script), not wharf's flag.
        Assert.Equal("got:-e\n", _wharf.Check("run", "--rm", fixture.Image, "sh", "-c", "echo got:$0", "-e"));
    }

    [Fact]
    public void Run_EnvUserWorkdirHostname_ReachTheProcess()
    {
        string envFile = Path.Combine(_wharf.Dir, "env");
        File.WriteAllText(envFile, "# comment\nFROM_FILE=1\n");
        string output = _wharf.Check("run", "--rm", "-e", "A=b c", "--env-file", envFile, "-u", "job", "-w", "/tmp", "--hostname", "box",
            fixture.Image, "sh", "-c", "echo $A; echo $FROM_FILE; id; pwd; hostname; echo $container; echo $HOME");
        Assert.Equal("b c\n1\nuid=1000(job) gid=1000(job) groups=44(video)\n/tmp\nbox\npodman\n/home/job\n", output);
    }

    [Fact]
    public void Run_UlimitAboveHostHardLimit_IsClampedAndRuns()
    {
        string hard = Tools.Check("sh", "-c", "ulimit -Hn").Trim();
        string output = _wharf.Check("run", "--rm", "--ulimit", "nofile=99999999:99999999", "--ulimit", "nproc=1024:1024", fixture.Image, "sh", "-c", "ulimit -n; ulimit -u");
        Assert.Equal($"{hard}\n1024\n", output);
    }

    [Fact]
    public void Run_VolumeReadOnly_ReadableNotWritable()
    {
        string data = Path.Combine(_wharf.Dir, "data");
        Directory.CreateDirectory(data);
        File.WriteAllText(Path.Combine(data, "in.txt"), "host data\n");
        var (code, stdout, _) = _wharf.Run("run", "--rm", "-v", $"{data}:/data:ro", fixture.Image, "sh", "-c", "cat /data/in.txt; touch /data/new");
        Assert.NotEqual(0, code);
        Assert.Equal("host data\n", stdout);
        Assert.False(File.Exists(Path.Combine(data, "new")));

        _wharf.Check("run", "--rm", "-v", $"{data}:/data", fixture.Image, "touch", "/data/new");
        Assert.True(File.Exists(Path.Combine(data, "new")));
    }

    [Fact]
    public void RunDetached_LogsThenStop_ExitRecorded()
    {
        string id = _wharf.Check("run", "-d", "--name", "svc", fixture.Image, "sh", "-c", "echo ready; trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done").Trim();
        Assert.Matches("^[0-9a-f]{64}$", id);
        WaitFor(() => _wharf.Check("logs", "svc").Contains("ready", StringComparison.Ordinal));
        Assert.Matches(@"Up .* ago\s+svc\n$", _wharf.Check("ps"));

        Assert.Equal("svc\n", _wharf.Check("stop", "svc"));
        Assert.Equal("ready\nbye\n", _wharf.Check("logs", "svc"));
        string status = _wharf.Check("ps", "-a", "--format", "{{.Names}} {{.Status}}");
        Assert.StartsWith("svc Exited (0) ", status, StringComparison.Ordinal);
        Assert.Equal(string.Empty, _wharf.Check("ps", "-q"));
        Assert.False(_wharf.AnyMountUnder());
    }

    [Fact]
    public void Stop_ProcessIgnoresTerm_KilledAfterTimeoutWith137()
    {
        _wharf.Check("run", "-d", "--name", "stubborn", fixture.Image, "sleep", "300");
        _wharf.Check("stop", "-t", "1", "stubborn");
        Assert.StartsWith("stubborn Exited (137) ", _wharf.Check("ps", "-a", "--format", "{{.Names}} {{.Status}}"), StringComparison.Ordinal);
    }

    [Fact]
    public void RunDetachedRm_AfterExit_LeavesNothing()
    {
        _wharf.Check("run", "-d", "--rm", fixture.Image, "sleep", "1");
        WaitFor(() => !_wharf.ContainerDirs.Any());
        Assert.Empty(_wharf.RuncStates);
        Assert.False(_wharf.AnyMountUnder());
    }

    [Fact]
    public void RunAttached_WharfKilled_ContainerStillRunningThenRemovable()
    {
        using var attached = System.Diagnostics.Process.Start(_wharf.StartInfo("run", "--name", "orphan", fixture.Image, "sleep", "300"))!;
        try
        {
            // Listed is not enough: the record says running as soon as the runtime is started, and a
            // wharf killed before the runtime has made the container leaves nothing to find. Wait
            // until the runtime reports the container's process.
            WaitFor(() => _wharf.Check("ps", "--format", "{{.Names}}") == "orphan\n"
                && _wharf.Check("container", "inspect", "--format", "{{.State.Pid}}", "orphan").Trim() is not ("0" or ""));
        }
        finally
        {
            attached.Kill();
            attached.WaitForExit();
        }

        Assert.StartsWith("orphan Up ", _wharf.Check("ps", "-a", "--format", "{{.Names}} {{.Status}}"), StringComparison.Ordinal);
        _wharf.Check("rm", "-f", "orphan");
        Assert.Empty(_wharf.ContainerDirs);
        Assert.False(_wharf.AnyMountUnder());
    }

    [Fact]
    public void Kill_RunningContainer_ShowsExited137()
    {
        _wharf.Check("run", "-d", "--name", "victim", fixture.Image, "sleep", "300");
        Assert.Equal("victim\n", _wharf.Check("kill", "victim"));
        WaitFor(() => _wharf.Check("ps", "-a", "--format", "{{.Status}}").StartsWith("Exited (137)", StringComparison.Ordinal));
    }

    [Fact]
    public void RmForce_RunningContainer_RemovesEverything()
    {
        string id = _wharf.Check("run", "-d", fixture.Image, "sleep", "300").Trim();
        var (code, _, stderr) = _wharf.Run("rm", id[..12]);
        Assert.Equal(2, code);
        Assert.Contains("running or paused containers cannot be removed without force", stderr, StringComparison.Ordinal);

        // podman 4.3 prints the container as it was named on the command line.
        Assert.Equal(id[..12] + "\n", _wharf.Check("rm", "-f", id[..12]));
        Assert.Empty(_wharf.ContainerDirs);
        Assert.Empty(_wharf.RuncStates);
        Assert.False(_wharf.AnyMountUnder());
    }

    [Fact]
    public void TwoContainersOfOneImage_RunAtOnce_EachSeesOnlyItsOwnChanges()
    {
        _wharf.Check("run", "-d", "--name", "one", fixture.Image, "sh", "-c", "echo 1 > /opt/who; sleep 300");
        _wharf.Check("run", "-d", "--name", "two", fixture.Image, "sh", "-c", "echo 2 > /opt/who; sleep 300");
        WaitFor(() => _wharf.Run("exec", "one", "cat", "/opt/who").Stdout == "1\n" && _wharf.Run("exec", "two", "cat", "/opt/who").Stdout == "2\n");
        Assert.Equal(2, _wharf.Check("ps", "-q").Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(3, _wharf.Run("exec", "one", "sh", "-c", "exit 3").ExitCode);
        Assert.Equal(127, _wharf.Run("exec", "one", "no-such").ExitCode);
        Assert.Equal(1, _wharf.Run("run", "--rm", fixture.Image, "test", "-e", "/opt/who").ExitCode);
        _wharf.Check("rm", "-f", "one", "two");
    }

    [Fact]
    public async Task ExecIt_ThroughATerminal_GetsATtyAndExitCode()
    {
        _wharf.Check("run", "-d", "--name", "host", fixture.Image, "sleep", "300");
        var psi = new System.Diagnostics.ProcessStartInfo("script") { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { "-qec", _wharf.ShellCommand("exec", "-it", "host", "sh", "-c", "test -t 0 && test -t 1 && echo exec-tty; exit 7"), "/dev/null" })
        {
            psi.ArgumentList.Add(a);
        }

        using var script = System.Diagnostics.Process.Start(psi)!;
        try
        {
            var output = script.StandardOutput.ReadToEndAsync();
            Assert.True(script.WaitForExit(TimeSpan.FromSeconds(60)), "exec -it did not finish");
            script.StandardInput.Close();
            Assert.Equal(7, script.ExitCode);
            Assert.Contains("exec-tty", await output, StringComparison.Ordinal);
        }
        finally
        {
            if (!script.HasExited)
            {
                script.Kill(entireProcessTree: true);
                script.WaitForExit();
            }
        }
    }

    [Fact]
    public void CreateThenStartAttached_ReturnsExitCode()
    {
        string id = _wharf.Check("create", "--name", "later", fixture.Image, "sh", "-c", "echo ran; exit 4").Trim();
        Assert.StartsWith("later Created", _wharf.Check("ps", "-a", "--format", "{{.Names}} {{.Status}}"), StringComparison.Ordinal);
        var (code, stdout, _) = _wharf.Run("start", "-a", "later");
        Assert.Equal(4, code);
        Assert.Equal("ran\n", stdout);

        var inspect = JsonNode.Parse(_wharf.Check("container", "inspect", id[..12]))!.AsArray()[0]!;
        Assert.Equal("exited", inspect["State"]!["Status"]!.GetValue<string>());
        Assert.Equal(4, inspect["State"]!["ExitCode"]!.GetValue<int>());

        Assert.Equal(id + "\n", _wharf.Check("container", "prune", "-f"));
        Assert.Empty(_wharf.ContainerDirs);
    }

    [Fact]
    public void Ps_JsonAndNames_MatchPodmansShape()
    {
        _wharf.Check("create", fixture.Image, "true");
        var entry = JsonNode.Parse(_wharf.Check("ps", "-a", "--format", "json"))!.AsArray()[0]!;
        Assert.Equal("created", entry["State"]!.GetValue<string>());
        Assert.Equal("Created", entry["Status"]!.GetValue<string>());
        Assert.Matches("^[a-z]+_[a-z]+$", entry["Names"]![0]!.GetValue<string>());
        Assert.Equal(64, entry["Id"]!.GetValue<string>().Length);
    }

    [Fact]
    public void Run_NameInUse_Fails()
    {
        _wharf.Check("create", "--name", "dup", fixture.Image, "true");
        var (code, _, stderr) = _wharf.Run("create", "--name", "dup", fixture.Image, "true");
        Assert.Equal(125, code);
        Assert.Contains("the container name \"dup\" is already in use", stderr, StringComparison.Ordinal);
    }

    private static void WaitFor(Func<bool> condition)
    {
        for (int i = 0; i < 200; i++)
        {
            if (condition())
            {
                return;
            }

            Thread.Sleep(100);
        }

        Assert.Fail("condition not met within 20 seconds");
    }
}

