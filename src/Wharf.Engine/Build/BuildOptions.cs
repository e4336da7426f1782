namespace Wharf.Engine.Build;

public sealed record BuildOptions : RegistryAccess
{
    public required string Context { get; init; }

    /// <summary>The Dockerfile; null = Containerfile, then Dockerfile, in the context.</summary>
    public string? File { get; init; }

    public IReadOnlyList<string> Tags { get; init; } = [];

    public IReadOnlyDictionary<string, string> BuildArgs { get; init; } = new Dictionary<string, string>();

    public string? Target { get; init; }

    public bool NoCache { get; init; }

    public bool Pull { get; init; }

    public string Format { get; init; } = "oci";

    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    public string Network { get; init; } = "host";

    /// <summary>
    /// Sends RUN's output to stderr, as buildah's -q does; the step lines are the command line's to
    /// hide, through <see cref="Progress"/>.
    /// </summary>
    public bool Quiet { get; init; }

    /// <summary>Where step lines and warnings go; the command line renders them.</summary>
    public IProgressSink Progress { get; init; } = SilentProgress.Instance;
}
