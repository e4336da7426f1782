using Wharf.Oci;

namespace Wharf.Registry.Metadata;

/// <summary>A repository as the management API shows it (Harbor's Repository).</summary>
public sealed record RepositoryInfo(long Id, string Name, string Project, long ArtifactCount, long PullCount, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record TagInfo(string Name, DateTimeOffset PushTime);

/// <summary>
/// A manifest as Harbor's Artifact: its size is the manifest's bytes plus its distinct blobs; push time
/// is when the manifest was stored, pull time the last GET of it (null when never pulled).
/// </summary>
public sealed record ArtifactInfo(
    long RepositoryId, Digest Digest, string MediaType, string? ArtifactType, long Size,
    DateTimeOffset PushTime, DateTimeOffset? PullTime, IReadOnlyList<TagInfo> Tags, IReadOnlyList<Digest> References);

/// <summary>Pulls of one manifest gathered off the request path.</summary>
public sealed record PullRecord(RepositoryName Repository, Digest Digest, long Count, DateTimeOffset At);

public enum TagCreateResult
{
    Created,
    AlreadyExists,
    ArtifactMissing,
}

/// <summary>Repositories, artifacts and tags for the management API, and the pull counts behind them.</summary>
public interface IArtifactStore
{
    /// <summary>A page of the project's repositories that hold at least one manifest, by name.</summary>
    Task<(IReadOnlyList<RepositoryInfo> Repositories, long Total)> ListRepositoryInfoAsync(string project, string? nameContains, int page, int pageSize, CancellationToken cancellationToken);

    Task<RepositoryInfo?> GetRepositoryInfoAsync(RepositoryName repository, CancellationToken cancellationToken);

    /// <summary>Deletes the repository with its manifests, tags and blob links, releasing its quota usage; false when unknown.</summary>
    Task<bool> DeleteRepositoryAsync(RepositoryName repository, CancellationToken cancellationToken);

    /// <summary>Deletes every repository of the project (a forced project delete); returns their names.</summary>
    Task<IReadOnlyList<string>> DeleteProjectRepositoriesAsync(string project, CancellationToken cancellationToken);

    /// <summary>A page of the repository's artifacts (manifests that are not an index's children), newest first.</summary>
    Task<(IReadOnlyList<ArtifactInfo> Artifacts, long Total)> ListArtifactsAsync(RepositoryName repository, int page, int pageSize, CancellationToken cancellationToken);

    /// <summary>By tag or digest.</summary>
    Task<ArtifactInfo?> GetArtifactAsync(RepositoryName repository, ManifestReference reference, CancellationToken cancellationToken);

    Task<TagCreateResult> AddTagAsync(RepositoryName repository, Digest digest, string tag, CancellationToken cancellationToken);

    Task RecordPullsAsync(IReadOnlyCollection<PullRecord> pulls, CancellationToken cancellationToken);
}
