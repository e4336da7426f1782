using System.Text.Json.Nodes;
using Wharf.Cli.Tests.Containers;
using Xunit.Abstractions;

namespace Wharf.Cli.Tests.Jobs;

/// <summary>A one-node Slurm on loopback, started by tests/slurm/start-slurm.sh and stopped by PID.</summary>
public sealed class SlurmFixture : IDisposable
{
    private readonly string? _scripts;

    public SlurmFixture()
    {
        Dir = Directory.CreateTempSubdirectory("wharf-slurm-").FullName;
        _scripts = FindScripts();
        if (_scripts is null)
        {
            Reason = "tests/slurm/start-slurm.sh not found above " + AppContext.BaseDirectory;
            return;
        }

        var (code, stdout, stderr) = Tools.Run("bash", Path.Combine(_scripts, "start-slurm.sh"), Dir);

        // Whatever it started, even when it then failed, dies with the test host if Dispose never runs.
        foreach (var (name, pid) in Pids())
        {
            Wharf.Testing.Daemons.Track(name, pid);
        }

        string last = stdout.Trim().Split('\n')[^1];
        if (code != 0 || !last.StartsWith("SLURM_CONF=", StringComparison.Ordinal))
        {
            Reason = $"Slurm did not start (exit {code}): {stderr.Trim()} {stdout.Trim()}";
            return;
        }

        Conf = last["SLURM_CONF=".Length..];
    }

    public string Dir { get; }

    public string? Conf { get; }

    /// <summary>Why Slurm is not available; null when it runs.</summary>
    public string? Reason { get; }

    public (int ExitCode, string Stdout, string Stderr) Tool(string tool, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(tool) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["SLURM_CONF"] = Conf;
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }

        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The daemons start-slurm.sh recorded in DIR/pids ("name pid" lines).</summary>
    private List<(string Name, int Pid)> Pids()
    {
        string file = Path.Combine(Dir, "pids");
        var pids = new List<(string, int)>();
        foreach (string line in File.Exists(file) ? File.ReadAllLines(file) : [])
        {
            string[] words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 2 && int.TryParse(words[1], System.Globalization.CultureInfo.InvariantCulture, out int pid))
            {
                pids.Add((words[0], pid));
            }
        }

        return pids;
    }

    private static string? FindScripts()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "tests", "slurm");
            if (File.Exists(Path.Combine(candidate, "start-slurm.sh")))
            {
                return candidate;
            }
        }

        return null;
    }

    public void Dispose()
    {
        var pids = Pids();
        if (_scripts is not null)
        {
            Tools.Run("bash", Path.Combine(_scripts, "stop-slurm.sh"), Dir);
        }

        foreach (var (_, pid) in pids)
        {
            Wharf.Testing.Daemons.Forget(pid);
        }

        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>wharf job submit --executor slurm against a real slurmctld and slurmd, with an image from wharfd.</summary>
[Collection("containers")]
public sealed class SlurmJobTests : IClassFixture<SlurmFixture>, IDisposable
{
    private readonly ContainerFixture _images;
    private readonly SlurmFixture _slurm;
    private readonly ITestOutputHelper _output;
    private readonly WharfProcess _wharf;

    public SlurmJobTests(ContainerFixture images, SlurmFixture slurm, ITestOutputHelper output)
    {
        _images = images;
        _slurm = slurm;
        _output = output;
        _wharf = new WharfProcess();
        if (slurm.Conf is not null)
        {
            _wharf.Env["SLURM_CONF"] = slurm.Conf;
        }
    }

    public void Dispose()
    {
        if (_slurm.Conf is not null)
        {
            JobHelpers.CancelAll(_wharf);
        }

        _wharf.Dispose();
    }

    /// <summary>
    /// Slurm is installed and started by the fixture (tests/slurm/start-slurm.sh, as root): when it did
    /// not come up, the test fails with why, never passes without checking.
    /// </summary>
    private bool Unavailable()
    {
        if (_slurm.Reason is { } reason)
        {
            _output.WriteLine("Slurm unavailable: " + reason);
            Assert.Fail("Slurm did not start for the job tests: " + reason);
        }

        return false;
    }

    [Fact]
    public void SubmitSlurm_FailingJob_OutputInLogAndExitCodeInStatusAndSacct()
    {
        if (Unavailable())
        {
            return;
        }

        // The image is not in the store yet: job exec on the node pulls it.
        string data = Path.Combine(_wharf.Dir, "data");
        Directory.CreateDirectory(data);
        Tools.Check("chgrp", "44", data);
        _wharf.Env["WHARF_DATA_VOLUME"] = data;
        string id = JobHelpers.Submit(_wharf, _images.Image, "--executor", "slurm", "--name", "slurm-it", "--cpus", "1", "--mem", "64M", "--time", "00:05:00", "--partition", "debug", "-e", "WHO=inside",
            "--", "sh", "-c", $"echo out-$WHO; id -g; echo kept > {data}/result; exit 4");
        string script = File.ReadAllText(Path.Combine(_wharf.GraphRoot, "wharf", "jobs", id, "job.sbatch"));
        Assert.Contains("#SBATCH --cpus-per-task=1\n", script, StringComparison.Ordinal);
        Assert.Contains("#SBATCH --mem=64M\n", script, StringComparison.Ordinal);
        Assert.Contains("#SBATCH --partition=debug\n", script, StringComparison.Ordinal);
        Assert.Contains(" job exec ", script, StringComparison.Ordinal);

        var job = JobHelpers.WaitFinal(_wharf, id);
        string log = _wharf.Check("job", "logs", id);
        Assert.True((string?)job["state"] == "failed", log);
        Assert.Equal(4, (int?)job["exitCode"]);
        Assert.Contains("out-inside\n", log, StringComparison.Ordinal);
        Assert.Contains("44\n", log, StringComparison.Ordinal);
        Assert.Equal("kept\n", File.ReadAllText(Path.Combine(data, "result")));
        Assert.Contains("Exit code:  4", _wharf.Check("job", "status", id), StringComparison.Ordinal);

        string slurmId = (string)job["slurmJobId"]!;
        var (code, sacct, _) = _slurm.Tool("sacct", "-c", "-j", slurmId, "-n", "-P", "-o", "State,ExitCode");
        Assert.Equal(0, code);
        Assert.Contains("FAILED|4:0", sacct, StringComparison.Ordinal);
        Assert.Empty(_wharf.ContainerDirs);
    }

    [Fact]
    public void SubmitSlurm_AsUnprivilegedUser_StepRunsRootlessAndFilesAreTheUsers()
    {
        if (Unavailable())
        {
            return;
        }

        // The cluster's case: an ordinary user submits; the step on the node pulls and runs the
        // container rootless (keep-id), writing into the user's data directory.
        using var user = new Rootless.RootlessUser.Session(Rootless.RootlessUser.WithRanges);
        Tools.Check("chmod", "a+rx", _slurm.Dir, Path.Combine(_slurm.Dir, "munge"));
        Tools.Check("chmod", "a+r", _slurm.Conf!);

        // Without slurmdbd, sacct -c reads the job-completion log, and its plugin opens it for appending.
        string jobcomp = Path.Combine(_slurm.Dir, "jobcomp.log");
        Tools.Check("sh", "-c", $"touch '{jobcomp}' && chmod a+rw '{jobcomp}'");
        user.Extra["SLURM_CONF"] = _slurm.Conf!;
        string stdout = user.Check("job", "submit", "--tls-verify=false", "--image", _images.Image, "--executor", "slurm", "--name", "rootless-slurm",
            "-v", $"{user.Data}:{user.Data}", "--", "sh", "-c", $"id -u; echo from-slurm > {user.Data}/out");
        string id = stdout.Trim().Split('\n')[^1].Trim();

        var clock = System.Diagnostics.Stopwatch.StartNew();
        JsonObject job;
        while (true)
        {
            job = JsonNode.Parse(user.Check("job", "status", "--format", "json", id))!.AsObject();
            if ((string?)job["state"] is "completed" or "failed" or "cancelled" || clock.Elapsed > TimeSpan.FromMinutes(3))
            {
                break;
            }

            Thread.Sleep(300);
        }

        string log = user.Check("job", "logs", id);
        Assert.True((string?)job["state"] == "completed", $"state {(string?)job["state"]}; log:\n{log}");
        Assert.Contains($"{user.Uid}\n", log, StringComparison.Ordinal);
        Assert.Equal("from-slurm\n", File.ReadAllText(Path.Combine(user.Data, "out")));
        Assert.Equal(user.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture), Tools.Check("stat", "-c", "%u", Path.Combine(user.Data, "out")).Trim());
        var (_, sacct, _) = _slurm.Tool("sacct", "-c", "-j", (string)job["slurmJobId"]!, "-n", "-P", "-o", "User,State");
        Assert.StartsWith($"{user.Name}({user.Uid})|COMPLETED", sacct.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public void CancelSlurm_RunningJob_LeavesNoContainerMountOrRuntimeState()
    {
        if (Unavailable())
        {
            return;
        }

        _wharf.Check("pull", "-q", "--tls-verify=false", _images.Image);
        string id = JobHelpers.Submit(_wharf, _images.Image, "--executor", "slurm", "--", "sh", "-c", "echo started; exec sleep 300");
        JobHelpers.WaitLog(_wharf, id, "started");
        Assert.NotEmpty(_wharf.ContainerDirs);
        _wharf.Check("job", "cancel", id);
        var job = JobHelpers.WaitFinal(_wharf, id);
        Assert.Equal("cancelled", (string?)job["state"]);

        // The wrapper removes the container while the step ends: a bounded wait for it.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (_wharf.ContainerDirs.Any() && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            Thread.Sleep(200);
        }

        Assert.True(!_wharf.ContainerDirs.Any(), "container left; job log:\n" + _wharf.Check("job", "logs", id) + "\nstatus:\n" + _wharf.Check("job", "status", id));
        Assert.Empty(_wharf.RuncStates);
        Assert.False(_wharf.AnyMountUnder());
        var (_, sacct, _) = _slurm.Tool("sacct", "-c", "-j", (string)job["slurmJobId"]!, "-n", "-P", "-o", "State");
        Assert.StartsWith("CANCELLED", sacct.Trim(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--partition", "no-such-partition", "invalid partition")]
    [InlineData("--partition", "short", "PartitionTimeLimit")]
    public void SubmitSlurm_RefusedBySlurm_Exits125WithSlurmsWords(string flag, string value, string expected)
    {
        if (Unavailable())
        {
            return;
        }

        var (code, _, stderr) = _wharf.Run("job", "submit", "--tls-verify=false", "--executor", "slurm", flag, value, "--time", "01:00:00", "--image", _images.Image, "--", "true");
        Assert.Equal(125, code);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, _wharf.Check("job", "ls", "-q"));
    }
}
