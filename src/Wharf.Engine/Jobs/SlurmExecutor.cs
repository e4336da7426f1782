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
    public string Submit(JobRecord job, string scriptPath, string workingDirectory)
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

        // Without EnforcePartLimits, sbatch accepts a job over the partition's limits and it pends
        // for ever; that is refused here with Slurm's own reason.
        // The scheduler settles the reason within its first passes over the job (PartitionConfig comes
        // before PartitionTimeLimit): a bounded wait while the job pends.
        // Only a reason the scheduler has not settled yet (None, or PartitionConfig on the way to a
        // limit) is waited on, at most 10 seconds; a settled one (Resources, Priority…) returns at once.
        int qcode;
        string r = string.Empty;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            (qcode, string reason, _) = Run("squeue", null, "-h", "-j", id, "-o", "%T %r");
            r = reason.Trim();
            bool unsettled = r is "PENDING" or "PENDING None" or "PENDING PartitionConfig";
            if (qcode != 0 || !unsettled || clock.Elapsed > TimeSpan.FromSeconds(10))
            {
                break;
            }

            Thread.Sleep(100);
        }

        qcode = r.StartsWith("PENDING ", StringComparison.Ordinal) ? 0 : 1;
        r = qcode == 0 ? r["PENDING ".Length..] : r;
        if (qcode == 0 && r.StartsWith("Partition", StringComparison.Ordinal) && r.EndsWith("Limit", StringComparison.Ordinal))
        {
            Run("scancel", null, id);
            throw new WharfException($"Slurm job {id} cannot run: {r} (the request exceeds the partition's limits); cancelled");
        }

        return id;
    }

    /// <summary>The job's state in wharf's words, and its exit code once it ended; (null, null) when Slurm does not know.</summary>
    public (string? State, int? ExitCode) Query(string slurmId)
    {
        var (code, stdout, _) = Run("squeue", null, "-h", "-j", slurmId, "-o", "%T");
        string live = stdout.Trim();
        if (code == 0 && live.Length > 0)
        {
            return live switch
            {
                "PENDING" or "REQUEUED" or "SUSPENDED" => (JobStates.Queued, null),
                "RUNNING" or "CONFIGURING" or "COMPLETING" or "SIGNALING" or "STAGE_OUT" => (JobStates.Running, null),
                _ => Parse(live, null),
            };
        }

        // Gone from the queue: accounting, else the completion log.
        var (acode, aout, _) = Run("sacct", null, "-j", slurmId, "-n", "-P", "-X", "-o", "State,ExitCode");
        if (acode != 0 || aout.Trim().Length == 0)
        {
            (acode, aout, _) = Run("sacct", null, "-c", "-j", slurmId, "-n", "-P", "-o", "State,ExitCode");
        }

        string? line = aout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        if (acode != 0 || line is null)
        {
            return (null, null);
        }

        string[] parts = line.Split('|');
        return Parse(parts[0], parts.Length > 1 ? parts[1] : null);
    }

    /// <summary>A final Slurm state (CANCELLED by 0, FAILED...) and ExitCode (<c>code:signal</c>).</summary>
    public static (string? State, int? ExitCode) Parse(string state, string? exitCode)
    {
        ArgumentNullException.ThrowIfNull(state);
        int? exit = null;
        if (exitCode?.Split(':') is [var c, var sig] && int.TryParse(c, CultureInfo.InvariantCulture, out int code))
        {
            exit = code == 0 && int.TryParse(sig, CultureInfo.InvariantCulture, out int signal) && signal > 0 ? 128 + signal : code;
        }

        string word = state.Split(' ')[0];
        return word switch
        {
            "COMPLETED" => (JobStates.Completed, exit ?? 0),
            "CANCELLED" => (JobStates.Cancelled, exit),
            "PENDING" => (JobStates.Queued, null),
            "RUNNING" => (JobStates.Running, null),
            "FAILED" or "TIMEOUT" or "NODE_FAIL" or "OUT_OF_MEMORY" or "BOOT_FAIL" or "DEADLINE" or "PREEMPTED" => (JobStates.Failed, exit),
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
