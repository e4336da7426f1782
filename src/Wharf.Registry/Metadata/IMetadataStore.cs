using Wharf.Oci;

namespace Wharf.Registry.Metadata;

/// <summary>A manifest as stored: its exact bytes and what the push declared.</summary>
public sealed record StoredManifest(Digest Digest, string MediaType, byte[] Content, string? Subject);

/// <summary>One entry of a referrers response (distribution spec, "Listing Referrers").</summary>
public sealed record Referrer(Digest Digest, string MediaType, long Size, string? ArtifactType, string? AnnotationsJson);

/// <summary>
/// An upload session's row: <paramref name="Size"/> is the bytes acknowledged to the client (null for
/// a session an earlier wharfd opened: then its data file says), <paramref name="UpdatedAt"/> its last activity.
/// </summary>
public sealed record UploadSession(string Id, RepositoryName Repository, DateTimeOffset CreatedAt, long? Size = 0, DateTimeOffset UpdatedAt = default);

/// <summary>What a manifest push changed.</summary>
/// <param name="Created">Whether the manifest is new in the repository (else only its tags moved).</param>
/// <param name="ProjectUsage">The project's usage after the push, when the project has a limit (without one it is not computed).</param>
public sealed record ManifestPutResult(bool Created, long? ProjectUsage);

/// <summary>Repositories and the catalog.</summary>
public interface IRepositoryStore
{
    Task<bool> RepositoryExistsAsync(RepositoryName repository, CancellationToken cancellationToken);

    /// <summary>Repository names after <paramref name="last"/> in lexical order, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<string>> ListRepositoriesAsync(string? last, int limit, CancellationToken cancellationToken);

    /// <summary>Repository names of one project, in lexical order.</summary>
    Task<IReadOnlyList<string>> ListProjectRepositoriesAsync(string project, string? last, int limit, CancellationToken cancellationToken);
}

/// <summary>Which blobs a repository may serve: a blob is visible through a repository only once linked to it.</summary>
public interface IBlobLinkStore
{
    /// <summary>The blob's size if it is linked to the repository.</summary>
    Task<long?> GetLinkedBlobSizeAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken);

    /// <summary>Records the blob (content is already committed) and links it to the repository.</summary>
    Task LinkBlobAsync(RepositoryName repository, Digest digest, long size, CancellationToken cancellationToken);

    /// <summary>Links a blob already linked to <paramref name="from"/>; false when <paramref name="from"/> does not have it.</summary>
    Task<bool> MountBlobAsync(RepositoryName repository, RepositoryName from, Digest digest, CancellationToken cancellationToken);

    /// <summary>A repository of <paramref name="project"/> that has the blob, for a mount without <c>from</c>.</summary>
    Task<RepositoryName?> FindBlobInProjectAsync(string project, Digest digest, CancellationToken cancellationToken);

    Task<bool> UnlinkBlobAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken);
}

/// <summary>Upload sessions survive a restart: the session row is here, its bytes in the blob store (Storage/UploadSessions.cs owns both).</summary>
public interface IUploadSessionStore
{
    Task CreateUploadAsync(UploadSession session, CancellationToken cancellationToken);

    Task<UploadSession?> GetUploadAsync(string id, CancellationToken cancellationToken);

    /// <summary>Records the bytes acknowledged so far; false when the session is gone (cancelled, expired).</summary>
    Task<bool> RecordUploadProgressAsync(string id, long size, DateTimeOffset at, CancellationToken cancellationToken);

    Task DeleteUploadAsync(string id, CancellationToken cancellationToken);

    /// <summary>Sessions with no activity since <paramref name="cutoff"/>.</summary>
    Task<IReadOnlyList<UploadSession>> ListIdleUploadsAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);
}

public interface IManifestStore
{
    /// <summary>By tag or by digest (<paramref name="reference"/> is one or the other).</summary>
    Task<StoredManifest?> GetManifestAsync(RepositoryName repository, ManifestReference reference, CancellationToken cancellationToken);

    /// <summary>
    /// Stores the manifest, its references and tags in one transaction, after checking (inside it)
    /// that every blob and child manifest is in the repository and that the project's quota allows
    /// the bytes it adds.
    /// </summary>
    Task<ManifestPutResult> PutManifestAsync(
        RepositoryName repository, Digest digest, string mediaType, byte[] content, ParsedManifest parsed,
        IReadOnlyList<string> tags, Func<string, CancellationToken, ValueTask<long?>> quotaLimit, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the manifest and every tag pointing at it; false when unknown. Throws
    /// <see cref="ManifestReferencedException"/> while an image index of the repository lists it.
    /// </summary>
    Task<bool> DeleteManifestAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken);

    Task<bool> DeleteTagAsync(RepositoryName repository, string tag, CancellationToken cancellationToken);

    /// <summary>Tags after <paramref name="last"/> in lexical order, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<string>> ListTagsAsync(RepositoryName repository, string? last, int limit, CancellationToken cancellationToken);

    Task<IReadOnlyList<Referrer>> ListReferrersAsync(RepositoryName repository, Digest subject, string? artifactType, CancellationToken cancellationToken);
}

/// <summary>
/// A manifest cannot be deleted while an image index in the same repository lists it: the index
/// would be left pointing at nothing and every pull of it would fail.
/// </summary>
public sealed class ManifestReferencedException(RepositoryName repository, Digest digest, IReadOnlyList<Digest> parents)
    : Exception($"manifest {digest} in {repository} is referenced by others: image index {string.Join(", ", parents)}")
{
    public RepositoryName Repository { get; } = repository;

    public Digest Digest { get; } = digest;

    /// <summary>Some of the indexes that list the manifest (not necessarily all).</summary>
    public IReadOnlyList<Digest> Parents { get; } = parents;
}

public interface IProjectUsageStore
{
    /// <summary>Distinct bytes reachable from the project's manifests (manifests, configs and layers).</summary>
    Task<long> GetProjectUsageAsync(string project, CancellationToken cancellationToken);

    Task<bool> ProjectHasRepositoriesAsync(string project, CancellationToken cancellationToken);
}

public interface IMetadataStore : IRepositoryStore, IBlobLinkStore, IUploadSessionStore, IManifestStore, IProjectUsageStore, IGcMetadataStore, IQuotaBlobLinkStore;
