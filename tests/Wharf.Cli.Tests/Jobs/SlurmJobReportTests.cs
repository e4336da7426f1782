using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Wharf.Cli.Tests.Containers;
using Xunit.Abstractions;

namespace Wharf.Cli.Tests.Jobs;

/// <summary>
/// What <c>wharf job</c> reports of a Slurm job, checked against what the real one-node Slurm
/// itself says (scontrol, sacct -c): times, states, exit codes, log files, refusals, the step's view.
/// </summary>
[Collection("containers")]
public sealed class SlurmJobReportTests : IClassFixture<SlurmFixture>, IDisposable
{
    private readonly ContainerFixture _images;
    private readonly SlurmFixture _slurm;
    private readonly ITestOutputHelper _output;
    private readonly WharfProcess _wharf;

    public SlurmJobReportTests(ContainerFixture images, SlurmFixture slurm, ITestOutputHelper output)
    {
        _images = images;
        _slurm = slurm;
        _output = output;
        _wharf = new WharfProcess();
        Assert.True(slurm.Conf is not null, "Slurm did not start for the job tests: " + slurm.Reason);
        _wharf.Env["SLURM_CONF"] = slurm.Conf!;
        _wharf.Check("pull", "-q", "--tls-verify=false", images.Image);
    }

    public void Dispose()
    {
        JobHelpers.CancelAll(_wharf);
        _wharf.Dispose();
    }

    [Fact]
    public void Status_ShortJobLookedAtLate_StartEndAndElapsedAreSlurms()
    {
        string id = JobHelpers.Submit(_wharf, _images.Image, "--executor", "slurm", "--name", "short", "--", "sh", "-c", "echo begun; sleep 2");
        JobHelpers.WaitLog(_wharf, id, "begun");
        string slurmId = (string)JobHelpers.Status(_wharf, id)["slurmJobId"]!;

        // Let the job end, and look only some seconds later: wharf must not take its own clock for Slurm's.
        var record = WaitSlurmFinal(slurmId);
        Thread.Sleep(TimeSpan.FromSeconds(4));
        var job = JobHelpers.WaitFinal(_wharf, id);
        Assert.Equal("completed", (string?)job["state"]);
        Assert.Equal(SlurmTime(record["StartTime"]), DateTimeOffset.Parse((string)job["started"]!, CultureInfo.InvariantCulture));
        Assert.Equal(SlurmTime(record["EndTime"]), DateTimeOffset.Parse((string)job["ended"]!, CultureInfo.InvariantCulture));

        // ls shows Slurm's run time (H:MM:SS), not the time between wharf's looks.
        var runTime = TimeSpan.Parse(record["RunTime"], CultureInfo.InvariantCulture);
        string elapsed = $"{(int)runTime.TotalHours}:{runTime.Minutes:00}:{runTime.Seconds:00}";
        Assert.Matches($@"(?m)^{id}\s+short\s+\S+\s+completed\s+.*\s{elapsed}\s+0\s*$", _wharf.Check("job", "ls"));
    }

    [Fact]
    public void Cancel_RunningSlurmJob_CancelledWithSlurmsCodeNotZero()
    {
        string id = JobHelpers.Submit(_wharf, _images.Image, "--executor", "slurm", "--", "sh", "-c", "echo started; exec sleep 300");
        JobHelpers.WaitLog(_wharf, id, "started");
        _wharf.Check("job", "cancel", id);
        var job = JobHelpers.WaitFinal(_wharf, id);
        Assert.Equal("cancelled", (string?)job["state"]);
        var record = WaitSlurmFinal((string)job["slurmJobId"]!);
        int? slurmCode = ExitCode(record["ExitCode"]);
        Assert.Equal(slurmCode is null or 0 ? 143 : slurmCode, (int?)job["exitCode"]);
        Assert.NotEqual(0, (int?)job["exitCode"]);
        Assert.Contains("State:      cancelled", _wharf.Check("job", "status", id), StringComparison.Ordinal);
    }

    [Fact]
    public void Status_TimeLimitReached_TimeoutStateWithTheStepsExitCode()
    {
        // Slurm counts limits in minutes and checks them periodically: this job ends about a minute in.
        string id = JobHelpers.Submit(_wharf, _images.Image, "--executor", "slurm", "--time", "00:00:05", "--", "sh", "-c", "echo started; exec sleep 600");
        string slurmId = (string)JobHelpers.Status(_wharf, id)["slurmJobId"]!;
        var record = WaitSlurmFinal(slurmId, TimeSpan.FromMinutes(4));
        Assert.Equal("TIMEOUT", record["JobState"]);
        var job = JobHelpers.WaitFinal(_wharf, id);
        Assert.Equal("timeout", (string?)job["state"]);
        Assert.Equal(ExitCode(record["ExitCode"]), (int?)job["exitCode"]);
        Assert.Contains("timeout", _wharf.Check("job", "ls"), StringComparison.Ordinal);
    }

    [Fact]
    public void Status_SlurmHasNoRecord_UnknownNotQueuedForever()
    {
        string id = JobHelpers.Submit(_wharf, _images.Image, "--executor", "slurm", "--", "true");
        JobHelpers.WaitFinal(_wharf, id);

        // A record whose Slurm job is gone from squeue, scontrol and the completion log (purged,
        // or a controller without accounting that was restarted): wharf says so.
        string path = Path.Combine(_wharf.GraphRoot, "wharf", "jobs", id, "job.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        json["state"] = "queued";
        json["slurmJobId"] = "987654";
        json.Remove("ended");
        json.Remove("exitCode");
        File.WriteAllText(path, json.ToJsonString());
        var job = JobHelpers.Status(_wharf, id);
        Assert.Equal("unknown", (string?)job["state"]);
        Assert.Contains("987654", (string?)job["message"], StringComparison.Ordinal);
        Assert.Matches($@"(?m)^{id}\s+\S+\s+\S+\s+unknown\s", _wharf.Check("job", "ls"));
    }

    [Fact]
    public void Logs_OutputPatternWithSbatchSymbols_FindsTheFileSbatchWrote()
    {
        string dir = Path.Combine(_wharf.Dir, "logs");
        Directory.CreateDirectory(dir);
        string id = JobHelpers.Submit(_wharf, _images.Image, "--executor", "slurm", "--name", "pat", "--output", Path.Combine(dir, "o-%x-%j-%u-%N-%%-%A-%a.log"), "--", "sh", "-c", "echo in-the-pattern-file");
        var job = JobHelpers.WaitFinal(_wharf, id);
        Assert.Equal("completed", (string?)job["state"]);
        string written = Assert.Single(Directory.GetFiles(dir));
        Assert.Equal($"o-pat-{(string)job["slurmJobId"]!}-{Environment.UserName}-{Tools.Check("hostname", "-s").Trim()}-%-{(string)job["slurmJobId"]!}-4294967294.log", Path.GetFileName(written));
        Assert.Equal("in-the-pattern-file\n", _wharf.Check("job", "logs", id));
        Assert.Contains("Log:        " + written + "\n", _wharf.Check("job", "status", id), StringComparison.Ordinal);
    }

    [Fact]
    public void Submit_MoreCpusThanThePartitionHas_Exits125WithSlurmsReason()
    {
        var (code, _, stderr) = _wharf.Run("job", "submit", "--executor", "slurm", "--cpus", "64", "--image", _images.Image, "--", "true");
        Assert.Equal(125, code);
        Assert.Contains("PartitionConfig", stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, _wharf.Check("job", "ls", "-q"));
        var (_, squeue, _) = _slurm.Tool("squeue", "-h", "-o", "%i %T");
        Assert.DoesNotContain("PENDING", squeue, StringComparison.Ordinal);
    }

    [Fact]
    public void SubmitSlurm_StepEnvironment_EverySlurmVariableAndTheUsersReachTheContainer()
    {
        string id = JobHelpers.Submit(_wharf, _images.Image, "--executor", "slurm", "--partition", "debug", "--", "env");
        var job = JobHelpers.WaitFinal(_wharf, id);
        string env = _wharf.Check("job", "logs", id);
        Assert.True((string?)job["state"] == "completed", env);
        var names = env.Split('\n').Where(l => l.Contains('=', StringComparison.Ordinal)).Select(l => l[..l.IndexOf('=', StringComparison.Ordinal)]).ToHashSet(StringComparer.Ordinal);
        foreach (string name in new[] { "SLURM_JOB_ID", "SLURM_JOB_PARTITION", "SLURM_JOB_NUM_NODES", "SLURM_JOB_CPUS_PER_NODE", "SLURM_JOB_USER", "SLURM_LOCALID", "SLURM_NODEID", "SLURM_STEP_ID", "SLURM_TASKS_PER_NODE", "SLURMD_NODENAME", "USER", "LOGNAME", "HOME", "WHARF_IMAGE" })
        {
            Assert.True(names.Contains(name), $"{name} missing inside; env:\n{env}");
        }

        _output.WriteLine($"{names.Count(n => n.StartsWith("SLURM", StringComparison.Ordinal))} SLURM variables inside");
        Assert.Contains("SLURM_JOB_PARTITION=debug\n", env, StringComparison.Ordinal);
    }

    [Fact]
    public void SubmitSlurm_TwoTasks_OneContainerEachWithItsRankHostIpcAndThePmiSockets()
    {
        // The step's PMIx server directory, as slurmstepd names it in the environment, holding a
        // listening socket (a stand-in for the PMIx server's: the test cluster has no PMIx).
        string pmix = Path.Combine(_wharf.Dir, "pmix.1.0");
        Directory.CreateDirectory(pmix);
        string socketPath = Path.Combine(pmix, "pmix-server");
        using var server = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        server.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(socketPath));
        server.Listen();
        _wharf.Env["PMIX_SERVER_TMPDIR"] = pmix;
        _wharf.Env["PMIX_NAMESPACE"] = "slurm.pmix.test";
        string hostIpc = Tools.Check("readlink", "/proc/self/ns/ipc").Trim();

        string id = JobHelpers.Submit(_wharf, _images.Image, "--executor", "slurm", "--ntasks", "2", "--", "sh", "-c",
            $"echo \"task=$SLURM_PROCID of=$SLURM_NTASKS ns=$PMIX_NAMESPACE ipc=$(readlink /proc/self/ns/ipc) sock=$(test -S {socketPath} && echo yes) host=$(hostname)\"");
        var job = JobHelpers.WaitFinal(_wharf, id);
        string log = _wharf.Check("job", "logs", id);
        Assert.True((string?)job["state"] == "completed", log);
        Assert.Contains("#SBATCH --ntasks=2\n", File.ReadAllText(Path.Combine(_wharf.GraphRoot, "wharf", "jobs", id, "job.sbatch")), StringComparison.Ordinal);
        var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(2, lines.Count);
        for (int rank = 0; rank < 2; rank++)
        {
            Assert.StartsWith($"task={rank} of=2 ns=slurm.pmix.test ipc={hostIpc} sock=yes host=", lines[rank], StringComparison.Ordinal);
        }

        Assert.Empty(_wharf.ContainerDirs);
    }

    private Dictionary<string, string> WaitSlurmFinal(string slurmId, TimeSpan? limit = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var (code, stdout, stderr) = _slurm.Tool("scontrol", "show", "job", "-o", slurmId);
            Assert.True(code == 0, stderr);
            var fields = stdout.Trim().Split(' ').Where(w => w.Contains('=', StringComparison.Ordinal))
                .Select(w => w.Split('=', 2)).GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.First()[1], StringComparer.Ordinal);
            if (fields["JobState"] is not ("PENDING" or "RUNNING" or "COMPLETING" or "CONFIGURING"))
            {
                return fields;
            }

            Assert.True(clock.Elapsed < (limit ?? TimeSpan.FromMinutes(2)), $"Slurm job {slurmId} still {fields["JobState"]}");
            Thread.Sleep(300);
        }
    }

    private static DateTimeOffset SlurmTime(string value) =>
        new(DateTime.ParseExact(value, "yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal));

    private static int? ExitCode(string value)
    {
        var parts = value.Split(':');
        int code = int.Parse(parts[0], CultureInfo.InvariantCulture);
        int signal = int.Parse(parts[1], CultureInfo.InvariantCulture);
        return code == 0 && signal > 0 ? 128 + signal : code;
    }
}
