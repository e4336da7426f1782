namespace Wharf.Engine.Build;

public sealed record BuildOptions : RegistryAccess
{
    public required string Context { get; init; }

    /// <summary>The Dockerfile; null = Containerfile, then Dockerfile, in the context.</summary>
    public string? File { get; init; }

    /// <summary>The Dockerfile's text itself (<c>-f -</c>: read from stdin by the command line); wins over <see cref="File"/>.</summary>
    public string? FileText { get; init; }

    public IReadOnlyList<string> Tags { get; init; } = [];

    public IReadOnlyDictionary<string, string> BuildArgs { get; init; } = new Dictionary<string, string>();

    public string? Target { get; init; }

    public bool NoCache { get; init; }

    public bool Pull { get; init; }

    /// <summary>--pull=never: a base image that is not local fails the build instead of being pulled.</summary>
    public bool PullNever { get; init; }

    public string Format { get; init; } = "oci";

    /// <summary>--label: each becomes a <c>LABEL "K"="V"</c> step after the target stage's last instruction, as podman adds them.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>--annotation: the final image's manifest annotations (OCI format only; Docker manifests have none).</summary>
    public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// --layers (podman's default true): each step is kept as an intermediate image and found again
    /// by the cache. False: no cache is read or written and the intermediate images are removed at the end.
    /// </summary>
    public bool Layers { get; init; } = true;

    public SquashMode Squash { get; init; }

    /// <summary>--secret: what <c>RUN --mount=type=secret,id=ID</c> may mount, by ID.</summary>
    public IReadOnlyDictionary<string, BuildSecret> Secrets { get; init; } = new Dictionary<string, BuildSecret>();

    /// <summary>--ulimit for RUN containers, as run's --ulimit.</summary>
    public IReadOnlyList<string> Ulimits { get; init; } = [];

    public string Network { get; init; } = "host";

    /// <summary>
    /// Sends RUN's output to stderr, as buildah's -q does; the step lines are the command line's to
    /// hide, through <see cref="Progress"/>.
    /// </summary>
    public bool Quiet { get; init; }

    /// <summary>Where step lines and warnings go; the command line renders them.</summary>
    public IProgressSink Progress { get; init; } = SilentProgress.Instance;
}

/// <summary>--squash: the new layers (above the target stage's base) become one; --squash-all: every layer does.</summary>
public enum SquashMode
{
    None,
    New,
    All,
}

/// <param name="Id">What <c>RUN --mount=type=secret,id=…</c> names.</param>
/// <param name="Content">The secret's bytes (from its file or environment variable), read once when the build starts.</param>
public sealed record BuildSecret(string Id, ReadOnlyMemory<byte> Content);
