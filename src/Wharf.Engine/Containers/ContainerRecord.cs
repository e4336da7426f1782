using System.Text.Json.Serialization;

namespace Wharf.Engine.Containers;

public static class ContainerStates
{
    public const string Created = "created";
    public const string Running = "running";
    public const string Exited = "exited";
    public const string Paused = "paused";
}

/// <summary>One container as recorded in <c>container.json</c>.</summary>
public sealed record ContainerRecord
{
    /// <summary>64 hex characters.</summary>
    public required string Id { get; init; }

    public required string Name { get; init; }

    /// <summary>The image name as podman shows it in ps (the image's first name, or its ID).</summary>
    public required string ImageName { get; init; }

    public required string ImageId { get; init; }

    /// <summary>The argv the container runs: entrypoint + cmd.</summary>
    public List<string> Command { get; init; } = [];

    public DateTimeOffset Created { get; init; }

    public string State { get; set; } = ContainerStates.Created;

    public DateTimeOffset? StartedAt { get; set; }

    public DateTimeOffset? FinishedAt { get; set; }

    public int ExitCode { get; set; }

    /// <summary>The process waiting on runc for this container (wharf itself, or the background monitor).</summary>
    public int MonitorPid { get; set; }

    public bool AutoRemove { get; init; }

    public bool Terminal { get; init; }

    /// <summary>overlay, fuse-overlayfs or copy.</summary>
    public string RootfsDriver { get; set; } = "overlay";

    /// <summary>Lower dirs, topmost first, as mounted.</summary>
    public List<string> LowerDirs { get; init; } = [];

    /// <summary>The settings the committed image keeps: Env, Cmd, Entrypoint, WorkingDir, User, Labels...</summary>
    public ContainerSettings Settings { get; init; } = new();

    /// <summary>Bind-mount destinations wharf itself added (/etc/hosts ...): left out of diff and commit.</summary>
    public List<string> ManagedMounts { get; init; } = [];

    public List<MountRecord> Mounts { get; init; } = [];

    public string StopSignal { get; init; } = "SIGTERM";

    /// <summary>Capabilities, read-only rootfs, tmpfs mounts... as asked at create.</summary>
    public RuntimeFlags RuntimeFlags { get; init; } = new();

    /// <summary>cgroup limits asked at create (<c>--memory</c>, <c>--cpus</c>...).</summary>
    public ResourceLimits Resources { get; init; } = new();

    /// <summary><c>-p</c>/<c>-P</c>: forwarded by slirp4netns (rootless); none on the host's network.</summary>
    public List<PortMapping> Ports { get; init; } = [];

    /// <summary>The working directory is the image's (created at start if missing), not one --workdir asked for.</summary>
    public bool CreateWorkingDir { get; init; }
}

public sealed record ContainerSettings
{
    public List<string> Env { get; init; } = [];

    public List<string>? Cmd { get; init; }

    public List<string>? Entrypoint { get; init; }

    public string WorkingDir { get; init; } = "/";

    public string User { get; init; } = string.Empty;

    public Dictionary<string, string>? Labels { get; init; }

    public List<string>? ExposedPorts { get; init; }

    public List<string>? Volumes { get; init; }

    public string Hostname { get; init; } = string.Empty;

    public string Network { get; init; } = "host";

    /// <summary><c>--ulimit</c> values as typed (<c>nofile=1024:2048</c>).</summary>
    public List<string> Ulimits { get; init; } = [];

    /// <summary><c>--device</c> values: host paths or CDI names.</summary>
    public List<string> Devices { get; init; } = [];

    public bool Interactive { get; init; }

    /// <summary><c>keep-id</c>, or empty for the default namespace.</summary>
    public string UserNs { get; init; } = string.Empty;

    /// <summary>The user's /etc/passwd line when the image lacks one (<c>--passwd-entry</c>).</summary>
    public string? PasswdEntry { get; init; }

    /// <summary><c>host</c> to share the host's IPC namespace (<c>--ipc host</c>); null for a private one.</summary>
    public string? Ipc { get; init; }

    /// <summary>/etc/group lines added when the image lacks their GIDs (<c>--group-entry</c>).</summary>
    public List<string>? GroupEntries { get; init; }
}

public sealed record MountRecord(string Source, string Destination, bool ReadOnly)
{
    /// <summary><c>--mount bind-propagation=</c>; null: rprivate.</summary>
    public string? Propagation { get; init; }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ContainerRecord))]
internal sealed partial class ContainerJsonContext : JsonSerializerContext;
