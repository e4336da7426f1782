using System.Text.Json.Serialization;

namespace Wharf.Engine.Jobs;

public static class JobStates
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    /// <summary>Slurm ended the job at its time limit (Slurm's TIMEOUT).</summary>
    public const string Timeout = "timeout";

    /// <summary>Slurm knows the job no more (squeue, scontrol and sacct have no record of it).</summary>
    public const string Unknown = "unknown";

    public static bool IsFinal(string state) => state is Completed or Failed or Cancelled or Timeout;
}

/// <summary>What a job asks for: the image, the command and the resources, as given to <c>job submit</c>.</summary>
public sealed record JobSpec
{
    public required string Image { get; init; }

    /// <summary>
    /// The image as resolved at submission (<c>REPOSITORY@DIGEST</c>, or a local image ID): what
    /// the job runs, so a tag moved after submission does not change it. Null in records written
    /// before submissions resolved.
    /// </summary>
    public string? ResolvedImage { get; init; }

    /// <summary>What the executor starts: the resolved image, else (old records) the reference as given.</summary>
    [JsonIgnore]
    public string RunImage => ResolvedImage ?? Image;

    public List<string> Command { get; init; } = [];

    public string? Name { get; init; }

    public int? Cpus { get; init; }

    public string? Memory { get; init; }

    public int? Gpus { get; init; }

    public string? Time { get; init; }

    public string? Partition { get; init; }

    /// <summary>Slurm --ntasks: tasks of the step, one container each.</summary>
    public int? Tasks { get; init; }

    /// <summary>Slurm --nodes.</summary>
    public int? Nodes { get; init; }

    public List<string> Env { get; init; } = [];

    public List<string> Volumes { get; init; } = [];

    public string? Workdir { get; init; }

    public string? Output { get; init; }

    public string? Error { get; init; }

    public string Executor { get; init; } = "local";

    public bool? TlsVerify { get; init; }
}

/// <summary>One job as recorded in <c>jobs/&lt;id&gt;/job.json</c>.</summary>
public sealed record JobRecord
{
    public required string Id { get; init; }

    public required JobSpec Spec { get; init; }

    public string State { get; set; } = JobStates.Queued;

    public DateTimeOffset Submitted { get; init; }

    public DateTimeOffset? Started { get; set; }

    public DateTimeOffset? Ended { get; set; }

    public int? ExitCode { get; set; }

    /// <summary>Where stdout (and stderr, unless <see cref="ErrorPath"/>) goes.</summary>
    public required string LogPath { get; init; }

    public string? ErrorPath { get; init; }

    /// <summary>local: the supervising wharf process.</summary>
    public int SupervisorPid { get; set; }

    /// <summary>local: the container's name (wharf-job-ID).</summary>
    public string? Container { get; set; }

    /// <summary>slurm: the scheduler's job ID.</summary>
    public string? SlurmJobId { get; set; }

    /// <summary>slurm: the node that ran the batch step (for %N in --output/--error).</summary>
    public string? SlurmNode { get; set; }

    public bool CancelRequested { get; set; }

    /// <summary>Why a job failed without an exit code (supervisor gone, start failure).</summary>
    public string? Message { get; set; }

    public string Name => Spec.Name ?? "job-" + Id;
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JobRecord))]
internal sealed partial class JobJsonContext : JsonSerializerContext;
