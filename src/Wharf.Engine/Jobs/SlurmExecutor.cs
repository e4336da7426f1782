using System.Globalization;
using System.Text;
using Wharf.Client;
using Wharf.Client.Processes;

namespace Wharf.Engine.Jobs;

/// <summary>
/// Slurm through its commands: <c>sbatch --parsable</c>, <c>squeue</c>, <c>sacct</c> (or
/// <c>sacct -c</c>, the job-completion log, when accounting storage is disabled), <c>scancel</c>.
/// </summary>
public sealed class SlurmExecutor
{
    private readonly HostEnvironment _env;

    public SlurmExecutor(HostEnvironment env)
    {
        _env = env ?? throw new ArgumentNullException(nameof(env));
    }

    /// <summary>The script: #SBATCH lines for the resources, the image in the environment, and one srun step.</summary>
    public static string Script(JobRecord job, IReadOnlyList<string> wharf)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(wharf);
        var s = job.Spec;
        var sb = new StringBuilder("#!/bin/sh\n");
        void Line(string flag, string? value)
        {
            if (value is { Length: > 0 })
            {
                sb.Append("#SBATCH --").Append(flag).Append('=').Append(value).Append('\n');
            }
        }

        Line("job-name", job.Name);
        Line("cpus-per-task", s.Cpus?.ToString(CultureInfo.InvariantCulture));
        Line("mem", s.Memory);
        Line("gpus", s.Gpus?.ToString(CultureInfo.InvariantCulture));
        Line("time", s.Time);
        Line("partition", s.Partition);
        Line("ntasks", s.Tasks?.ToString(CultureInfo.InvariantCulture));
        Line("nodes", s.Nodes?.ToString(CultureInfo.InvariantCulture));
        Line("output", job.LogPath);
        Line("error", job.ErrorPath);
        sb.Append("export WHARF_IMAGE=").Append(Quote(s.RunImage)).Append('\n');
        var step = new List<string> { "srun" };
        step.AddRange(wharf);
        step.AddRange(["job", "exec"]);
        if (s.TlsVerify is { } tls)
        {
            step.Add("--tls-verify=" + (tls ? "true" : "false"));
        }

        foreach (string e in s.Env)
        {
            step.AddRange(["-e", e]);
        }

        foreach (string v in s.Volumes)
        {
            step.AddRange(["-v", v]);
        }

        if (s.Workdir is { } w)
        {
            step.AddRange(["--workdir", w]);
        }

        if (s.Command.Count > 0)
        {
            step.Add("--");
            step.AddRange(s.Command);
        }

        sb.Append("exec ").AppendJoin(' ', step.Select(Quote)).Append('\n');
        return sb.ToString();
    }

    public static string Quote(string word)
    {
        ArgumentNullException.ThrowIfNull(word);
        return word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,@%+".Contains(c, StringComparison.Ordinal))
            ? word
            : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }

    /// <summary>sbatch --parsable; Slurm's own message (exit 125) when it refuses the job.</summary>
    public async Task<string> SubmitAsync(JobRecord job, string scriptPath, string workingDirectory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        var (code, stdout, stderr) = Run("sbatch", workingDirectory, "--parsable", scriptPath);
        if (code != 0)
        {
            throw new WharfException(stderr.Trim().Length > 0 ? stderr.Trim() : $"sbatch exited {code}");
        }

        string id = stdout.Trim().Split('\n')[^1].Split(';')[0].Trim();
        if (id.Length == 0)
        {
            throw new WharfException("sbatch printed no job ID");
        }

        // Without EnforcePartLimits, sbatch accepts a job that can never run (over the partition's
        // limits, on nodes that are not there) and it pends for ever: one look at its pending
        // reason refuses it with Slurm's own word. Any other reason (None, Priority, Resources…)
        // returns at once. PartitionConfig is the scheduler's first word for several limits; a
        // bounded wait (10 s: the scheduler is slow to settle on a loaded node, and only a refusal
        // waits) lets it name the one (PartitionTimeLimit…).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string? reason = PendingReason(id);
        while (reason == "PartitionConfig" && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            try
            {
                await Task.Delay(200, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The caller forgets the job when this throws: Slurm must forget it too.
                Run("scancel", null, id);
                throw;
            }

            reason = PendingReason(id);
        }

        if (reason is not null && NeverRuns(reason))
        {
            Run("scancel", null, id);
            throw new WharfException($"Slurm job {id} can never run: {reason} (the request does not fit the partition or its nodes); cancelled");
        }

        return id;
    }

    /// <summary>Pending reasons that say the job will not run as submitted (squeue(1) "JOB REASON CODES").</summary>
    public static bool NeverRuns(string reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        return reason is "PartitionConfig" or "ReqNodeNotAvail" or "BadConstraints" or "PartitionDown" or "PartitionInactive"
                or "InvalidAccount" or "InvalidQOS" or "AccountNotAllowed" or "QOSNotAllowed" or "PartitionNotAvail" or "NodeDown"
            || reason.StartsWith("ReqNodeNotAvail", StringComparison.Ordinal)
            || (reason.StartsWith("Partition", StringComparison.Ordinal) && reason.EndsWith("Limit", StringComparison.Ordinal));
    }

    private string? PendingReason(string id)
    {
        var (code, stdout, _) = Run("squeue", null, "-h", "-j", id, "-o", "%T|%r");
        return code == 0 && stdout.Trim().Split('|') is ["PENDING", var r] ? r.Trim() : null;
    }

    /// <summary>
    /// What Slurm says of these jobs, batched: one <c>squeue -t all</c> for every job; for those
    /// that ended (or squeue forgot), one <c>scontrol show job -o</c> (the controller's records:
    /// the batch step's exit code, start and end); for those it forgot too, one <c>sacct</c>, else
    /// one <c>sacct -c</c> (the completion log). A job none of them knows is missing from the answer;
    /// when both sacct runs fail it is <c>unknown</c>, with sacct's error as the reason.
    /// </summary>
    public Dictionary<string, SlurmJobInfo> QueryMany(IReadOnlyCollection<string> slurmIds)
    {
        ArgumentNullException.ThrowIfNull(slurmIds);
        var found = new Dictionary<string, SlurmJobInfo>(StringComparer.Ordinal);
        if (slurmIds.Count == 0)
        {
            return found;
        }

        string list = string.Join(',', slurmIds);
        var (code, stdout, _) = Run("squeue", null, "-h", "-t", "all", "-j", list, "-o", "%i|%T|%r|%S|%e|%B");
        if (code == 0)
        {
            foreach (string line in Lines(stdout))
            {
                if (line.Split('|') is [var id, var state, var reason, var start, var end, var node] && slurmIds.Contains(id))
                {
                    var (wharfState, _) = Parse(state, null);
                    bool started = wharfState is not (null or JobStates.Queued);
                    found[id] = new SlurmJobInfo
                    {
                        SlurmState = state,
                        State = wharfState,
                        Reason = Known(reason),
                        Start = started ? Time(start) : null,
                        End = wharfState is { } w && JobStates.IsFinal(w) ? Time(end) : null,
                        Node = Known(node),
                    };
                }
            }
        }

        var ended = slurmIds.Where(id => !found.TryGetValue(id, out var info) || info.State is null || JobStates.IsFinal(info.State)).ToList();
        if (ended.Count == 0)
        {
            return found;
        }

        var (scode, sout, _) = Run("scontrol", null, "show", "job", "-o");
        if (scode == 0)
        {
            foreach (string line in Lines(sout))
            {
                var f = Fields(line);
                if (f.TryGetValue("JobId", out string? id) && ended.Contains(id) && f.TryGetValue("JobState", out string? state))
                {
                    var (wharfState, exit) = Parse(state, f.GetValueOrDefault("ExitCode"));
                    found[id] = new SlurmJobInfo
                    {
                        SlurmState = state,
                        State = wharfState,
                        ExitCode = exit,
                        Reason = Known(f.GetValueOrDefault("Reason")),
                        Start = wharfState is JobStates.Queued ? null : Time(f.GetValueOrDefault("StartTime")),
                        End = wharfState is { } w && JobStates.IsFinal(w) ? Time(f.GetValueOrDefault("EndTime")) : null,
                        Node = Known(f.GetValueOrDefault("BatchHost")),
                    };
                    ended.Remove(id);
                }
            }
        }

        if (ended.Count == 0)
        {
            return found;
        }

        // The controller forgot them (MinJobAge): accounting, else the job-completion log.
        string forgotten = string.Join(',', ended);
        var (acode, aout, aerr) = Run("sacct", null, "-j", forgotten, "-X", "-n", "-P", "-o", "JobIDRaw,State,ExitCode,Start,End,NodeList");
        if (acode != 0)
        {
            string accountingError = aerr.Trim();
            (acode, aout, aerr) = Run("sacct", null, "-c", "-j", forgotten, "-n", "-P", "-o", "JobID,State,ExitCode,Start,End,NodeList");
            if (acode != 0)
            {
                // Neither accounting nor the completion log could be read (accounting disabled and
                // the log not readable by this user, say): that is not "no record", and a job left
                // queued would look alive for ever. Unknown, with sacct's own words.
                string why = string.Join("; ", new[] { accountingError, aerr.Trim() }.Where(e => e.Length > 0));
                foreach (string id in ended)
                {
                    found[id] = new SlurmJobInfo
                    {
                        SlurmState = "",
                        State = JobStates.Unknown,
                        Reason = $"squeue and scontrol no longer list Slurm job {id}, and sacct failed: {(why.Length > 0 ? why : $"exit code {acode}")}",
                    };
                }

                return found;
            }
        }

        if (acode == 0)
        {
            foreach (string line in Lines(aout))
            {
                if (line.Split('|') is [var id, var state, var exitCode, var start, var end, var node] && ended.Contains(id))
                {
                    var (wharfState, exit) = Parse(state, exitCode);
                    found[id] = new SlurmJobInfo
                    {
                        SlurmState = state.Split(' ')[0],
                        State = wharfState,
                        ExitCode = exit,
                        Start = Time(start),
                        End = Time(end),
                        Node = Known(node),
                    };
                }
            }
        }

        return found;
    }

    private static IEnumerable<string> Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary><c>Key=Value</c> words of a <c>scontrol show job -o</c> line (values with blanks are cut, and not needed here).</summary>
    private static Dictionary<string, string> Fields(string line)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string word in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = word.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                fields.TryAdd(word[..eq], word[(eq + 1)..]);
            }
        }

        return fields;
    }

    private static string? Known(string? value) => value is null or "" or "(null)" or "None" or "N/A" or "n/a" or "Unknown" or "None assigned" ? null : value;

    /// <summary>Slurm's times (<c>2026-03-01T12:00:00</c>) are the controller's local time.</summary>
    public static DateTimeOffset? Time(string? value) =>
        Known(value) is { } v && DateTime.TryParseExact(v, "yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal, out var t)
            ? new DateTimeOffset(t)
            : null;

    /// <summary>A Slurm state (CANCELLED by 0, FAILED...) and ExitCode (<c>code:signal</c>) in wharf's words.</summary>
    public static (string? State, int? ExitCode) Parse(string state, string? exitCode)
    {
        ArgumentNullException.ThrowIfNull(state);
        int? exit = null;
        if (exitCode?.Split(':') is [var c, var sig] && int.TryParse(c, CultureInfo.InvariantCulture, out int code))
        {
            exit = code == 0 && int.TryParse(sig, CultureInfo.InvariantCulture, out int signal) && signal > 0 ? 128 + signal : code;
        }

        string word = state.Split(' ')[0].TrimEnd('+');
        return word switch
        {
            "COMPLETED" => (JobStates.Completed, exit ?? 0),

            // scancel ends the job by SIGTERM: a cancelled job that Slurm gives no code has 143, never 0.
            "CANCELLED" => (JobStates.Cancelled, exit is null or 0 ? 143 : exit),
            "TIMEOUT" => (JobStates.Timeout, exit),
            "PENDING" or "REQUEUED" or "REQUEUE_HOLD" or "REQUEUE_FED" or "SUSPENDED" or "RESV_DEL_HOLD" => (JobStates.Queued, null),
            "RUNNING" or "CONFIGURING" or "COMPLETING" or "SIGNALING" or "STAGE_OUT" or "RESIZING" or "STOPPED" => (JobStates.Running, null),
            "FAILED" or "NODE_FAIL" or "OUT_OF_MEMORY" or "BOOT_FAIL" or "DEADLINE" or "PREEMPTED" or "SPECIAL_EXIT" or "REVOKED" => (JobStates.Failed, exit),
            _ => (null, null),
        };
    }

    public void Cancel(string slurmId)
    {
        var (code, _, stderr) = Run("scancel", null, slurmId);
        if (code != 0)
        {
            throw new WharfException(stderr.Trim().Length > 0 ? stderr.Trim() : $"scancel exited {code}");
        }
    }

    private (int Code, string Stdout, string Stderr) Run(string tool, string? workingDirectory, params string[] args)
    {
        var options = new ProcessRunOptions
        {
            WorkingDirectory = workingDirectory,
            Timeout = TimeSpan.FromSeconds(60),
            Environment = _env.Get("SLURM_CONF") is { Length: > 0 } conf ? new Dictionary<string, string?> { ["SLURM_CONF"] = conf } : null,
        };
        try
        {
            var result = ProcessRunner.Run(tool, args, options);
            return (result.ExitCode, result.StandardOutput, result.StandardError);
        }
        catch (ProcessTimeoutException)
        {
            throw new WharfException($"{tool} did not answer within 60 seconds");
        }
        catch (ProgramNotFoundException e)
        {
            throw new WharfException($"{e.Message}; is Slurm installed on this host?", e);
        }
    }
}

/// <summary>One job as Slurm reports it: its state in Slurm's and wharf's words, exit code, times and node.</summary>
public sealed record SlurmJobInfo
{
    public required string SlurmState { get; init; }

    /// <summary>null: a state wharf has no word for.</summary>
    public string? State { get; init; }

    public int? ExitCode { get; init; }

    public string? Reason { get; init; }

    public DateTimeOffset? Start { get; init; }

    public DateTimeOffset? End { get; init; }

    public string? Node { get; init; }
}
