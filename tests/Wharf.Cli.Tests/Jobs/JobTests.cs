using System.Diagnostics;
using System.Text.Json.Nodes;
using Wharf.Cli.Tests.Containers;

namespace Wharf.Cli.Tests.Jobs;

/// <summary>The local executor: real supervisor processes running real containers (runc, overlay).</summary>
[Collection("containers")]
public sealed class JobTests(ContainerFixture fixture) : IDisposable
{
    private readonly WharfProcess _wharf = JobHelpers.Pulled(fixture);

    public void Dispose()
    {
        JobHelpers.CancelAll(_wharf);
        _wharf.Dispose();
    }

    [Fact]
    public void Submit_SuccessfulCommand_CompletedWithOutputInLogs()
    {
        string id = JobHelpers.Submit(_wharf, fixture.Image, "--name", "hello", "--", "sh", "-c", "echo hello from the job");
        var job = JobHelpers.WaitFinal(_wharf, id);
        Assert.Equal("completed", (string?)job["state"]);
        Assert.Equal(0, (int?)job["exitCode"]);
        Assert.Equal("hello from the job\n", _wharf.Check("job", "logs", id));
        string ls = _wharf.Check("job", "ls");
        Assert.Contains("EXIT CODE", ls, StringComparison.Ordinal);
        Assert.Matches($@"(?m)^{id}\s+hello\s+\S+\s+completed\s", ls);
        Assert.Empty(_wharf.ContainerDirs);
    }

    [Fact]
    public void Submit_FailingCommand_FailedWithItsExitCode()
    {
        string id = JobHelpers.Submit(_wharf, fixture.Image, "--", "sh", "-c", "echo to-err >&2; exit 7");
        var job = JobHelpers.WaitFinal(_wharf, id);
        Assert.Equal("failed", (string?)job["state"]);
        Assert.Equal(7, (int?)job["exitCode"]);
        Assert.Contains("Exit code:  7", _wharf.Check("job", "status", id), StringComparison.Ordinal);
        Assert.Contains("to-err", _wharf.Check("job", "logs", id), StringComparison.Ordinal);
    }

    [Fact]
    public void Submit_OutputAndErrorFiles_WrittenWhereAsked()
    {
        string output = Path.Combine(_wharf.Dir, "out.txt");
        string error = Path.Combine(_wharf.Dir, "err.txt");
        string id = JobHelpers.Submit(_wharf, fixture.Image, "--output", output, "--error", error, "-e", "WHO=env-value", "--", "sh", "-c", "echo $WHO; echo oops >&2");
        JobHelpers.WaitFinal(_wharf, id);
        Assert.Equal("env-value\n", File.ReadAllText(output));
        Assert.Equal("oops\n", File.ReadAllText(error));
    }

    [Fact]
    public void Cancel_RunningJob_CancelledAndNoContainerLeft()
    {
        string id = JobHelpers.Submit(_wharf, fixture.Image, "--", "sh", "-c", "echo started; exec sleep 300");
        JobHelpers.WaitState(_wharf, id, "running");
        JobHelpers.WaitLog(_wharf, id, "started");
        _wharf.Check("job", "cancel", id);
        var job = JobHelpers.WaitFinal(_wharf, id);
        Assert.Equal("cancelled", (string?)job["state"]);
        Assert.Empty(_wharf.ContainerDirs);
        Assert.Empty(_wharf.RuncStates);
        Assert.False(_wharf.AnyMountUnder());
    }

    [Fact]
    public void Submit_ConcurrencyLimit_QueuesInOrderAndCancelOfQueuedJobNeverRunsIt()
    {
        _wharf.Env["WHARF_JOBS_MAX"] = "1";
        string marker = Path.Combine(_wharf.Dir, "ran");
        Directory.CreateDirectory(marker);
        string first = JobHelpers.Submit(_wharf, fixture.Image, "-v", marker + ":/m", "--", "sh", "-c", "touch /m/first; exec sleep 300");
        string second = JobHelpers.Submit(_wharf, fixture.Image, "-v", marker + ":/m", "--", "touch", "/m/second");
        string third = JobHelpers.Submit(_wharf, fixture.Image, "-v", marker + ":/m", "--", "touch", "/m/third");
        JobHelpers.WaitState(_wharf, first, "running");

        // One slot: the first holds it, the others wait in order.
        Assert.Equal("queued", (string?)JobHelpers.Status(_wharf, second)["state"]);
        Assert.Equal("queued", (string?)JobHelpers.Status(_wharf, third)["state"]);

        _wharf.Check("job", "cancel", second);
        Assert.Equal("cancelled", (string?)JobHelpers.Status(_wharf, second)["state"]);
        _wharf.Check("job", "cancel", first);

        Assert.Equal("completed", (string?)JobHelpers.WaitFinal(_wharf, third)["state"]);
        Assert.True(File.Exists(Path.Combine(marker, "first")));
        Assert.True(File.Exists(Path.Combine(marker, "third")));
        Assert.False(File.Exists(Path.Combine(marker, "second")));
        Assert.Null(JobHelpers.Status(_wharf, second)["started"]);
    }

    [Fact]
    public void Logs_Follow_StreamsUntilTheJobEnds()
    {
        string id = JobHelpers.Submit(_wharf, fixture.Image, "--", "sh", "-c", "echo one; sleep 2; echo two");
        JobHelpers.WaitState(_wharf, id, "running");
        string followed = _wharf.Check("job", "logs", "-f", id);
        Assert.Equal("one\ntwo\n", followed);
        Assert.Equal("completed", (string?)JobHelpers.Status(_wharf, id)["state"]);
    }

    [Fact]
    public void Status_SupervisorKilled_JobMarkedFailedAndContainerRemoved()
    {
        string id = JobHelpers.Submit(_wharf, fixture.Image, "--", "sh", "-c", "echo started; exec sleep 300");
        JobHelpers.WaitState(_wharf, id, "running");
        JobHelpers.WaitLog(_wharf, id, "started");
        int pid = (int)JobHelpers.Status(_wharf, id)["supervisorPid"]!;
        Assert.True(pid > 0);
        using (var supervisor = Process.GetProcessById(pid))
        {
            supervisor.Kill();
            supervisor.WaitForExit(TimeSpan.FromSeconds(30));
        }

        var job = JobHelpers.Status(_wharf, id);
        Assert.Equal("failed", (string?)job["state"]);
        Assert.Contains("gone", (string?)job["message"], StringComparison.Ordinal);
        Assert.Empty(_wharf.ContainerDirs);
        Assert.Empty(_wharf.RuncStates);
        Assert.False(_wharf.AnyMountUnder());
    }

    [Fact]
    public void Exec_KubeVariables_RunsTheScriptWithTheDataVolumeGroupAndReturnsItsExitCode()
    {
        string data = Path.Combine(_wharf.Dir, "briefcase");
        Directory.CreateDirectory(data);
        Tools.Check("chgrp", "44", data);
        string script = Path.Combine(data, "job.sh");
        File.WriteAllText(script, "#!/bin/sh\necho \"args $*\"; id -g; pwd; exit 5\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        _wharf.Env["KUBE_IMAGE"] = fixture.Image;
        _wharf.Env["KUBE_SCRIPT"] = script;
        _wharf.Env["KUBE_SCRIPT_VARS"] = "one two";
        _wharf.Env["KUBE_DATA_VOLUME"] = data;
        _wharf.Env["SLURM_SUBMIT_DIR"] = data;
        _wharf.Env["HOME"] = data;
        var (code, stdout, stderr) = _wharf.Run("job", "exec", "--tls-verify=false");
        Assert.True(code == 5, $"exit {code}: {stderr}");
        Assert.Equal($"args one two\n44\n{data}\n", stdout);
        Assert.Empty(_wharf.ContainerDirs);
        Assert.Empty(_wharf.RuncStates);
    }

    [Fact]
    public void Exec_ImageNeverArrives_GivesUpAfterInitTimeoutWithExit2()
    {
        // A registry that accepts connections and never answers.
        var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        try
        {
            int port = ((System.Net.IPEndPoint)silent.LocalEndpoint).Port;
            _wharf.Env["WHARF_INIT_TIMEOUT"] = "2";
            var (code, _, stderr) = _wharf.Run("job", "exec", "--tls-verify=false", "--image", $"127.0.0.1:{port}/lab/never:1", "--", "true");
            Assert.Equal(2, code);
            Assert.Contains("did not start within 2 seconds (WHARF_INIT_TIMEOUT)", stderr, StringComparison.Ordinal);
            Assert.Empty(_wharf.ContainerDirs);
        }
        finally
        {
            silent.Stop();
        }
    }

    [Fact]
    public void Cancel_UnknownJob_Exits125()
    {
        var (code, _, stderr) = _wharf.Run("job", "cancel", "999");
        Assert.Equal(125, code);
        Assert.Contains("no such job", stderr, StringComparison.Ordinal);
    }
}

internal static class JobHelpers
{
    public static WharfProcess Pulled(ContainerFixture fixture)
    {
        var w = new WharfProcess();
        w.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        return w;
    }

    /// <summary>Submits and returns the ID printed on the last line.</summary>
    public static string Submit(WharfProcess wharf, string image, params string[] args)
    {
        string stdout = wharf.Check(["job", "submit", "--tls-verify=false", "--image", image, .. args]);
        return stdout.Trim().Split('\n')[^1].Trim();
    }

    public static JsonObject Status(WharfProcess wharf, string id) =>
        JsonNode.Parse(wharf.Check("job", "status", "--format", "json", id))!.AsObject();

    public static JsonObject WaitState(WharfProcess wharf, string id, string state)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var job = Status(wharf, id);
            if ((string?)job["state"] == state || clock.Elapsed > TimeSpan.FromSeconds(90))
            {
                Assert.Equal(state, (string?)job["state"]);
                return job;
            }

            Thread.Sleep(200);
        }
    }

    public static JsonObject WaitFinal(WharfProcess wharf, string id)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var job = Status(wharf, id);
            if ((string?)job["state"] is "completed" or "failed" or "cancelled" or "timeout")
            {
                return job;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(120), $"job {id} still {(string?)job["state"]}");
            Thread.Sleep(200);
        }
    }

    public static void WaitLog(WharfProcess wharf, string id, string text)
    {
        var clock = Stopwatch.StartNew();
        while (!wharf.Check("job", "logs", id).Contains(text, StringComparison.Ordinal))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"job {id} never wrote {text}");
            Thread.Sleep(200);
        }
    }

    /// <summary>Best effort: no job outlives its test.</summary>
    public static void CancelAll(WharfProcess wharf)
    {
        try
        {
            foreach (string id in wharf.Run("job", "ls", "-q").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                wharf.Run("job", "cancel", id.Trim());
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
        }
    }
}
