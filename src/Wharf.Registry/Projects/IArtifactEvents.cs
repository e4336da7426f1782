using Wharf.Oci;

namespace Wharf.Registry.Projects;

/// <summary>
/// An artifact removed outside /v2: by the management API, the portal or a retention run. Tags are the
/// ones it carried; Operator is the user or robot, or the job ("retention"); Host is the registry's
/// address as the caller used it ("" for a scheduled job).
/// </summary>
public sealed record ArtifactDeletion(RepositoryName Repository, Digest Digest, IReadOnlyList<string> Tags, string Operator, string Host);

/// <summary>
/// Told of every artifact that <see cref="ArtifactRules"/> deletes (the /v2 API tells its own sink,
/// <see cref="Api.IRegistryEvents"/>). Called on the request path or the job's: must not block.
/// </summary>
public interface IArtifactEvents
{
    void ArtifactDeleted(ArtifactDeletion deletion);

    /// <summary>A tag added to or removed from an artifact outside /v2 (Harbor's tag API); the artifact stays.</summary>
    void TagChanged(RepositoryName repository, string tag)
    {
    }
}

/// <summary>Nobody listens (no webhooks configured).</summary>
public sealed class NoArtifactEvents : IArtifactEvents
{
    public void ArtifactDeleted(ArtifactDeletion deletion)
    {
    }
}
