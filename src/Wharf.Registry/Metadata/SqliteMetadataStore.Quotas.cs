using System.Data.Common;
using Wharf.Registry.Data;
using Wharf.Oci;

using Wharf.Registry.Quotas;

namespace Wharf.Registry.Metadata;

public sealed partial class SqliteMetadataStore : IQuotaBlobLinkStore
{
    // A project's usage is every distinct digest stored for it, counted once whichever repository or
    // manifest holds it: blobs linked to its repositories (uploads and mounts, counted once committed),
    // blobs its manifests reference, and the manifests themselves. A link whose charge a manifest
    // delete released (released_blob_links) no longer counts: Harbor frees a deleted artifact's
    // blobs at once, while the link stays until GC unlinks it. UNION drops duplicate
    // (digest, size) pairs, so a layer shared by two repositories of the project counts once.
    // Computed from the content tables rather than kept as a running counter, so it cannot drift
    // from what is stored (fsck has nothing to reconcile but row sizes against files).
    private const string ProjectContent = """
        SELECT rb.digest AS digest, b.size AS size FROM repository_blobs rb
            JOIN repositories r ON r.id = rb.repository_id JOIN blobs b ON b.digest = rb.digest
            WHERE r.project = $p
            AND NOT EXISTS(SELECT 1 FROM released_blob_links x WHERE x.repository_id = rb.repository_id AND x.digest = rb.digest)
        UNION
        SELECT mr.child, b.size FROM manifest_references mr
            JOIN repositories r ON r.id = mr.repository_id JOIN blobs b ON b.digest = mr.child
            WHERE r.project = $p AND mr.child_is_manifest = 0
        UNION
        SELECT m.digest, m.size FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE r.project = $p
        """;

    public async Task<bool> ProjectHoldsAsync(string project, Digest digest, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        return await ProjectHoldsAsync(c, cancellationToken, project, digest.ToString());
    }

    public async Task LinkBlobAsync(RepositoryName repository, Digest digest, long size, long? quotaLimit, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        await using var tx = await BeginProjectWriteAsync(c, [repository.Project], cancellationToken);
        long before = quotaLimit is null ? 0 : await ReadUsageAsync(c, cancellationToken, repository.Project);
        long repoId = await EnsureRepositoryAsync(c, cancellationToken, repository);
        await ExecuteAsync(c, cancellationToken, "INSERT INTO blobs(digest, size, created_at) VALUES($d, $s, $t) ON CONFLICT(digest) DO NOTHING",
            ("$d", digest.ToString()), ("$s", size), ("$t", Now));
        await InsertLinkAsync(c, cancellationToken, repoId, digest);
        await CheckQuotaAsync(c, cancellationToken, repository.Project, before, quotaLimit);
        await tx.CommitAsync(cancellationToken);
        return;
    }

    public async Task<bool> MountBlobAsync(RepositoryName repository, RepositoryName from, Digest digest, long? quotaLimit, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        await using var tx = await BeginProjectWriteAsync(c, [repository.Project], cancellationToken);
        using (var check = c.CreateCommand())
        {
            check.CommandText = """
                SELECT 1 FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
                WHERE r.name = $from AND rb.digest = $d
                """;
            check.AddParameter("$from", from.Value);
            check.AddParameter("$d", digest.ToString());
            if ((await check.ExecuteScalarAsync(cancellationToken)) is null)
            {
                return false;
            }
        }

        long before = quotaLimit is null ? 0 : await ReadUsageAsync(c, cancellationToken, repository.Project);
        long repoId = await EnsureRepositoryAsync(c, cancellationToken, repository);
        await InsertLinkAsync(c, cancellationToken, repoId, digest);
        await CheckQuotaAsync(c, cancellationToken, repository.Project, before, quotaLimit);
        await tx.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>The project's usage, computed from what it stores.</summary>
    internal static async Task<long> ComputeUsageAsync(DbConnection c, CancellationToken cancellationToken, string project)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT COALESCE(SUM(size), 0) FROM ({ProjectContent}) AS content";
        cmd.AddParameter("$p", project);
        return (long)(await cmd.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// Refuses (inside the transaction, which the caller then abandons) a change that took the
    /// project over its limit. A change that adds nothing (content the project already holds) always passes.
    /// </summary>
    /// <returns>The usage after the change, when there is a limit (else <paramref name="before"/>: nothing was read).</returns>
    internal static async Task<long> CheckQuotaAsync(DbConnection c, CancellationToken cancellationToken, string project, long before, long? limit)
    {
        if (limit is not { } max)
        {
            return before;
        }

        long after = await ComputeUsageAsync(c, cancellationToken, project);
        if (after > before && after > max)
        {
            throw QuotaExceeded(project, before, max, after - before);
        }

        return after;
    }

    internal static OciException QuotaExceeded(string project, long used, long limit, long needed) =>
        new(OciErrorCode.Denied, $"quota exceeded for project {project}: {QuotaSize.Format(used)} used of {QuotaSize.Format(limit)}, this push needs {QuotaSize.Format(needed)} more")
        {
            Data = { [Api.RegistryApi.QuotaExceededProject] = project },
        };

    private static async Task<bool> ProjectHoldsAsync(DbConnection c, CancellationToken cancellationToken, string project, string digest)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT 1 FROM ({ProjectContent}) AS content WHERE digest = $d LIMIT 1";
        cmd.AddParameter("$p", project);
        cmd.AddParameter("$d", digest);
        return (await cmd.ExecuteScalarAsync(cancellationToken)) is not null;
    }

    // A link made again (the same layer pushed once more) restarts its grace period, so GC does not
    // unlink it between this commit and the manifest that is about to reference it.
    // A released link linked again is charged again.
    private async Task InsertLinkAsync(DbConnection c, CancellationToken cancellationToken, long repoId, Digest digest)
    {
        await ExecuteAsync(c, cancellationToken, """
            INSERT INTO repository_blobs(repository_id, digest, created_at) VALUES($r, $d, $t)
            ON CONFLICT(repository_id, digest) DO UPDATE SET created_at = excluded.created_at
            """,
            ("$r", repoId), ("$d", digest.ToString()), ("$t", Now));
        await ExecuteAsync(c, cancellationToken, "DELETE FROM released_blob_links WHERE repository_id = $r AND digest = $d", ("$r", repoId), ("$d", digest.ToString()));
    }

    /// <summary>A manifest is being deleted: the links of the blobs it referenced stop counting (unless another manifest still references them).</summary>
    internal static async Task ReleaseManifestLinksAsync(DbConnection c, CancellationToken cancellationToken, long repoId, string manifestDigest) =>
        await ExecuteAsync(c, cancellationToken, """
            INSERT INTO released_blob_links(repository_id, digest)
            SELECT rb.repository_id, rb.digest FROM manifest_references mr
            JOIN repository_blobs rb ON rb.repository_id = mr.repository_id AND rb.digest = mr.child
            WHERE mr.repository_id = $r AND mr.parent = $d AND mr.child_is_manifest = 0
            ON CONFLICT DO NOTHING
            """,
            ("$r", repoId), ("$d", manifestDigest));
}

/// <summary>Blob links that count against the project's quota.</summary>
public interface IQuotaBlobLinkStore
{
    /// <summary>Whether the project already stores the digest (then linking it costs nothing).</summary>
    Task<bool> ProjectHoldsAsync(string project, Digest digest, CancellationToken cancellationToken);

    /// <summary>Records the committed blob and links it; DENIED (nothing recorded) when that takes the project over <paramref name="quotaLimit"/>.</summary>
    Task LinkBlobAsync(RepositoryName repository, Digest digest, long size, long? quotaLimit, CancellationToken cancellationToken);

    /// <summary>As <see cref="IBlobLinkStore.MountBlobAsync"/>, refused with DENIED when the mount takes the project over <paramref name="quotaLimit"/>.</summary>
    Task<bool> MountBlobAsync(RepositoryName repository, RepositoryName from, Digest digest, long? quotaLimit, CancellationToken cancellationToken);
}
