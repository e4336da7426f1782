using System.Diagnostics;

namespace Wharf.Cli.Tests.Containers;

/// <summary>
/// An attached <c>wharf run</c> killed between recording the container as running and the runtime
/// creating it: the record and the runtime agree afterwards. The test hook
/// <c>_WHARF_TEST_PAUSE_AFTER_RUNTIME_START</c> stops runc before it creates anything and holds
/// wharf there, so the kill lands at that instant every time.
/// </summary>
[Collection("containers")]
public sealed class StateSyncTests(ContainerFixture fixture) : IDisposable
{
    private readonly WharfProcess _wharf = CreatePulled(fixture);

    private static WharfProcess CreatePulled(ContainerFixture fixture)
    {
        var w = new WharfProcess();
        w.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        return w;
    }

    private string RuncRoot => Path.Combine(_wharf.RunRoot, "wharf", "runc");

    public void Dispose() => _wharf.Dispose();

    /// <summary>Starts an attached run that pauses at the hook, kills wharf there, and returns runc's PID (stopped).</summary>
    private int KilledBetweenRecordAndRuntime(string name)
    {
        var psi = _wharf.StartInfo("run", "--name", name, fixture.Image, "sleep", "300");
        psi.Environment["_WHARF_TEST_PAUSE_AFTER_RUNTIME_START"] = "1";
        using var run = Process.Start(psi)!;
        run.StandardInput.Close();
        try
        {
            var line = run.StandardError.ReadLineAsync();
            Assert.True(line.Wait(TimeSpan.FromMinutes(2)), "wharf run never reached the hook");
            string said = line.Result ?? string.Empty;
            Assert.StartsWith("paused: runtime ", said, StringComparison.Ordinal);
            return int.Parse(said["paused: runtime ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        }
        finally
        {
            run.Kill();
            run.WaitForExit();
        }
    }

    private static bool Alive(int pid) =>
        File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Split(')')[^1].TrimStart().StartsWith('Z');

    private static void WaitFor(Func<bool> condition, string what)
    {
        for (int i = 0; i < 600 && !condition(); i++)
        {
            Thread.Sleep(100);
        }

        Assert.True(condition(), what);
    }

    private string RuncStatus(string id)
    {
        var (code, stdout, _) = Tools.Run("runc", "--root", RuncRoot, "state", id);
        return code != 0 ? "none" : System.Text.Json.Nodes.JsonNode.Parse(stdout)!["status"]!.GetValue<string>();
    }

    private void CleanUp(int runcPid, string id)
    {
        if (Alive(runcPid))
        {
            Tools.Run("kill", "-KILL", runcPid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        Tools.Run("runc", "--root", RuncRoot, "delete", "--force", id);
    }

    [Fact]
    public void KilledBeforeRuntimeCreates_RecordStaysRunning_AndFollowsTheRuntime()
    {
        int runc = KilledBetweenRecordAndRuntime("sync1");
        string id = _wharf.Check("container", "inspect", "--format", "{{.Id}}", "sync1").Trim();
        try
        {
            // The runtime has not created the container, but it will: the record must not say it exited.
            Assert.Equal("none", RuncStatus(id));
            Assert.Equal("running true", _wharf.Check("container", "inspect", "--format", "{{.State.Status}} {{.State.Running}}", "sync1").Trim());
            Assert.StartsWith("Up", _wharf.Check("ps", "-a", "--format", "{{.Status}}").Trim(), StringComparison.Ordinal);

            Tools.Check("kill", "-CONT", runc.ToString(System.Globalization.CultureInfo.InvariantCulture));
            WaitFor(() => RuncStatus(id) == "running", "runc never created the container after it was continued");
            Assert.Equal("running", _wharf.Check("container", "inspect", "--format", "{{.State.Status}}", "sync1").Trim());

            // Once the runtime's container is gone the record says so, and rm -f leaves nothing in runc.
            _wharf.Check("stop", "-t", "0", "sync1");
            Assert.Equal("exited", _wharf.Check("container", "inspect", "--format", "{{.State.Status}}", "sync1").Trim());
            _wharf.Check("rm", "-f", "sync1");
            Assert.Equal("none", RuncStatus(id));
            WaitFor(() => !Alive(runc), "runc outlived its container");
        }
        finally
        {
            CleanUp(runc, id);
        }
    }

    [Fact]
    public void KilledBeforeRuntimeCreates_RmForce_EndsTheRuntimeSoNoContainerAppearsLater()
    {
        int runc = KilledBetweenRecordAndRuntime("sync2");
        string id = _wharf.Check("container", "inspect", "--format", "{{.Id}}", "sync2").Trim();
        try
        {
            _wharf.Check("rm", "-f", "sync2");

            Assert.False(Alive(runc), "rm -f left the runtime that was creating the container");
            Assert.Equal("none", RuncStatus(id));
            Assert.Equal(string.Empty, _wharf.Check("ps", "-a", "-q").Trim());
        }
        finally
        {
            CleanUp(runc, id);
        }
    }
}
