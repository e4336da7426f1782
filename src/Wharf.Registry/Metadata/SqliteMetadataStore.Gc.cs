using System.Data.Common;
using Wharf.Oci;
using Wharf.Registry.Data;

namespace Wharf.Registry.Metadata;

public sealed partial class SqliteMetadataStore : IGcMetadataStore
{
    // A blob is garbage when no repository links it, no manifest refers to it and it is no
    // manifest itself — and it has been so for longer than the grace period.
    private const string Unreferenced = """
        NOT EXISTS(SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest)
        AND NOT EXISTS(SELECT 1 FROM manifest_references mr WHERE mr.child = b.digest)
        AND NOT EXISTS(SELECT 1 FROM manifests m WHERE m.digest = b.digest)
        """;

    // A link is dangling when no manifest of its repository refers to the blob (nor is it one) and
    // it was made (or made again) before $lt: a refused or abandoned push.
    private const string Dangling = """
        rb.created_at < $lt
        AND NOT EXISTS(SELECT 1 FROM manifest_references mr WHERE mr.repository_id = rb.repository_id AND mr.child = rb.digest)
        AND NOT EXISTS(SELECT 1 FROM manifests m WHERE m.repository_id = rb.repository_id AND m.digest = rb.digest)
        """;

    public Task<IReadOnlyList<(Digest Digest, long Size)>> ListUnreferencedBlobsAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken) =>
        ListUnreferencedBlobsAsync(createdBefore, DateTimeOffset.MinValue, cancellationToken);

    public async Task<IReadOnlyList<(Digest Digest, long Size)>> ListUnreferencedBlobsAsync(DateTimeOffset createdBefore, DateTimeOffset linkedBefore, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        using var cmd = c.CreateCommand();
        // Links that GC unlinks in the same run (dangling before $lt) do not keep a blob, so a dry
        // run reports what a real one would remove.
        cmd.CommandText = $"""
            SELECT b.digest, b.size FROM blobs b WHERE b.created_at < $t
            AND NOT EXISTS(SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest AND NOT ({Dangling}))
            AND NOT EXISTS(SELECT 1 FROM manifest_references mr WHERE mr.child = b.digest)
            AND NOT EXISTS(SELECT 1 FROM manifests m WHERE m.digest = b.digest)
            """;
        cmd.AddParameter("$t", createdBefore.ToUnixTimeMilliseconds());
        cmd.AddParameter("$lt", linkedBefore == DateTimeOffset.MinValue ? long.MinValue : linkedBefore.ToUnixTimeMilliseconds());
        var list = new List<(Digest, long)>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            list.Add((Digest.Parse(r.GetString(0)), r.GetInt64(1)));
        }

        return list;
    }

    public async Task<IReadOnlyList<(RepositoryName Repository, Digest Digest, long Size)>> ListDanglingLinksAsync(DateTimeOffset linkedBefore, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"""
            SELECT r.name, rb.digest, COALESCE(b.size, 0) FROM repository_blobs rb
            JOIN repositories r ON r.id = rb.repository_id LEFT JOIN blobs b ON b.digest = rb.digest
            WHERE {Dangling} ORDER BY r.name, rb.digest
            """;
        cmd.AddParameter("$lt", linkedBefore.ToUnixTimeMilliseconds());
        var list = new List<(RepositoryName, Digest, long)>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            list.Add((RepositoryName.Parse(r.GetString(0)), Digest.Parse(r.GetString(1)), r.GetInt64(2)));
        }

        return list;
    }

    public async Task<bool> UnlinkIfDanglingAsync(RepositoryName repository, Digest digest, DateTimeOffset linkedBefore, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        await using var tx = await BeginProjectWriteAsync(c, [repository.Project], cancellationToken);
        long? repoId = await RepositoryIdAsync(c, cancellationToken, repository);
        if (repoId is null)
        {
            return false;
        }

        // Re-checked in the statement: a push that linked it again (or a manifest that now refers to it) keeps it.
        int n = await ExecuteAsync(c, cancellationToken, $"DELETE FROM repository_blobs AS rb WHERE rb.repository_id = $r AND rb.digest = $d AND {Dangling}",
            ("$r", repoId.Value), ("$d", digest.ToString()), ("$lt", linkedBefore.ToUnixTimeMilliseconds()));
        await ExecuteAsync(c, cancellationToken, "DELETE FROM released_blob_links WHERE repository_id = $r AND digest = $d", ("$r", repoId.Value), ("$d", digest.ToString()));
        await tx.CommitAsync(cancellationToken);
        return n > 0;
    }

    // A pin still in force: an upload commit on some instance is about to link the blob.
    private const string Unpinned = "NOT EXISTS(SELECT 1 FROM blob_pins p WHERE p.digest = $d AND p.expires_at > $now)";

    public async Task<bool> DeleteBlobRecordIfUnreferencedAsync(Digest digest, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        await using var tx = await BeginAsync(c, cancellationToken);
        int n = await ExecuteAsync(c, cancellationToken, $"DELETE FROM blobs AS b WHERE b.digest = $d AND {Unreferenced} AND {Unpinned}",
            ("$d", digest.ToString()), ("$now", Now));
        if (n > 0)
        {
            // In the same transaction: from here until the file is gone, a commit of this digest waits.
            await MarkDeletingAsync(c, digest, cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        return n > 0;
    }

    public async Task<bool> MarkUnrecordedBlobDeletingAsync(Digest digest, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        await using var tx = await BeginAsync(c, cancellationToken);
        bool recorded = await c.ScalarAsync<long?>("SELECT 1 FROM blobs WHERE digest = $d", cancellationToken, ("$d", digest.ToString())) is not null;
        bool pinned = await c.ScalarAsync<long?>("SELECT 1 FROM blob_pins p WHERE p.digest = $d AND p.expires_at > $now", cancellationToken,
            ("$d", digest.ToString()), ("$now", Now)) is not null;
        if (recorded || pinned)
        {
            return false;
        }

        await MarkDeletingAsync(c, digest, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return true;
    }

    public async Task ClearBlobDeletionAsync(Digest digest, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        await ExecuteAsync(c, cancellationToken, "DELETE FROM blob_deletions WHERE digest = $d", ("$d", digest.ToString()));
    }

    public async Task<bool> PinBlobAsync(Digest digest, string holder, DateTimeOffset until, TimeSpan deletionLifetime, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        await using var tx = await BeginAsync(c, cancellationToken);
        // A mark older than the lifetime is left by a GC that died between the mark and the delete.
        if (await c.ScalarAsync<long?>("SELECT 1 FROM blob_deletions WHERE digest = $d AND started_at > $since", cancellationToken,
                ("$d", digest.ToString()), ("$since", Now - (long)deletionLifetime.TotalMilliseconds)) is not null)
        {
            return false;
        }

        await ExecuteAsync(c, cancellationToken, """
            INSERT INTO blob_pins(digest, holder, expires_at) VALUES($d, $h, $until)
            ON CONFLICT(digest, holder) DO UPDATE SET expires_at = excluded.expires_at
            """, ("$d", digest.ToString()), ("$h", holder), ("$until", until.ToUnixTimeMilliseconds()));
        await tx.CommitAsync(cancellationToken);
        return true;
    }

    public async Task UnpinBlobAsync(Digest digest, string holder, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        // Expired pins of anyone go too: they are what a crashed commit left.
        await ExecuteAsync(c, cancellationToken, "DELETE FROM blob_pins WHERE (digest = $d AND holder = $h) OR expires_at <= $now",
            ("$d", digest.ToString()), ("$h", holder), ("$now", Now));
    }

    private async Task MarkDeletingAsync(DbConnection c, Digest digest, CancellationToken cancellationToken) =>
        await ExecuteAsync(c, cancellationToken, """
            INSERT INTO blob_deletions(digest, started_at) VALUES($d, $now)
            ON CONFLICT(digest) DO UPDATE SET started_at = excluded.started_at
            """, ("$d", digest.ToString()), ("$now", Now));

    public async Task<bool> BlobRecordExistsAsync(Digest digest, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT 1 FROM blobs WHERE digest = $d";
        cmd.AddParameter("$d", digest.ToString());
        return (await cmd.ExecuteScalarAsync(cancellationToken)) is not null;
    }

    // ---- GC history (Harbor's /system/gc) ---------------------------------------------------

    public async Task<long> CreateGcRunAsync(bool dryRun, string trigger, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "INSERT INTO gc_runs(dry_run, status, trigger, created_at, updated_at) VALUES($dry, 'Running', $trigger, $t, $t) RETURNING id";
        cmd.AddParameter("$dry", dryRun ? 1 : 0);
        cmd.AddParameter("$trigger", trigger);
        cmd.AddParameter("$t", Now);
        return (long)(await cmd.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task FinishGcRunAsync(long id, string status, int blobsRemoved, long bytesFreed, string log, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        await ExecuteAsync(c, cancellationToken, "UPDATE gc_runs SET status = $s, blobs_removed = $n, bytes_freed = $b, log = $log, updated_at = $t WHERE id = $id",
            ("$s", status), ("$n", blobsRemoved), ("$b", bytesFreed), ("$log", log), ("$t", Now), ("$id", id));
        return;
    }

    public async Task<(IReadOnlyList<GcRun> Runs, long Total)> ListGcRunsAsync(int page, int pageSize, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        using var count = c.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM gc_runs";
        long total = (long)(await count.ExecuteScalarAsync(cancellationToken))!;
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT {GcRunColumns} FROM gc_runs ORDER BY id DESC LIMIT $n OFFSET $o";
        cmd.AddParameter("$n", pageSize);
        cmd.AddParameter("$o", (long)(page - 1) * pageSize);
        return (await ReadGcRunsAsync(cmd, cancellationToken), total);
    }

    public async Task<GcRun?> GetGcRunAsync(long id, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT {GcRunColumns} FROM gc_runs WHERE id = $id";
        cmd.AddParameter("$id", id);
        var runs = await ReadGcRunsAsync(cmd, cancellationToken);
        return runs.Count == 0 ? null : runs[0];
    }

    private const string GcRunColumns = "id, dry_run, status, trigger, created_at, updated_at, blobs_removed, bytes_freed, log";

    private static async Task<IReadOnlyList<GcRun>> ReadGcRunsAsync(DbCommand cmd, CancellationToken cancellationToken)
    {
        var list = new List<GcRun>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            list.Add(new GcRun(r.GetInt64(0), r.GetInt64(1) != 0, r.GetString(2), r.GetString(3),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)),
                r.GetInt32(6), r.GetInt64(7), r.GetString(8)));
        }

        return list;
    }
}

/// <summary>One garbage collection run as the history keeps it; <see cref="Log"/> lists every decision.</summary>
public sealed record GcRun(long Id, bool DryRun, string Status, string Trigger, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, int BlobsRemoved, long BytesFreed, string Log);

/// <summary>What garbage collection needs of the metadata.</summary>
public interface IGcMetadataStore
{
    Task<IReadOnlyList<(Digest Digest, long Size)>> ListUnreferencedBlobsAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken);

    /// <summary>As above, counting links made before <paramref name="linkedBefore"/> that no manifest refers to as already gone.</summary>
    Task<IReadOnlyList<(Digest Digest, long Size)>> ListUnreferencedBlobsAsync(DateTimeOffset createdBefore, DateTimeOffset linkedBefore, CancellationToken cancellationToken);

    /// <summary>Links made before <paramref name="linkedBefore"/> to blobs that no manifest of the repository refers to.</summary>
    Task<IReadOnlyList<(RepositoryName Repository, Digest Digest, long Size)>> ListDanglingLinksAsync(DateTimeOffset linkedBefore, CancellationToken cancellationToken);

    /// <summary>Removes the link only if it is still dangling (re-checked in the same statement).</summary>
    Task<bool> UnlinkIfDanglingAsync(RepositoryName repository, Digest digest, DateTimeOffset linkedBefore, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the blob's row only if it is still unreferenced and no upload commit has pinned it
    /// (re-checked in the same transaction), and marks the blob as being deleted until
    /// <see cref="ClearBlobDeletionAsync"/>.
    /// </summary>
    Task<bool> DeleteBlobRecordIfUnreferencedAsync(Digest digest, CancellationToken cancellationToken);

    /// <summary>For a file without a row: marks it as being deleted unless a row or a live pin appeared meanwhile.</summary>
    Task<bool> MarkUnrecordedBlobDeletingAsync(Digest digest, CancellationToken cancellationToken);

    /// <summary>GC deleted the file (or gave up): commits of the digest need not wait any more.</summary>
    Task ClearBlobDeletionAsync(Digest digest, CancellationToken cancellationToken);

    /// <summary>
    /// An upload commit on any instance says it is about to publish and link the blob: GC keeps it until
    /// <see cref="UnpinBlobAsync"/> or <paramref name="until"/>. False while GC is deleting the blob's file
    /// (a mark younger than <paramref name="deletionLifetime"/>); the caller waits and asks again.
    /// </summary>
    Task<bool> PinBlobAsync(Digest digest, string holder, DateTimeOffset until, TimeSpan deletionLifetime, CancellationToken cancellationToken);

    Task UnpinBlobAsync(Digest digest, string holder, CancellationToken cancellationToken);

    Task<bool> BlobRecordExistsAsync(Digest digest, CancellationToken cancellationToken);

    Task<long> CreateGcRunAsync(bool dryRun, string trigger, CancellationToken cancellationToken);

    Task FinishGcRunAsync(long id, string status, int blobsRemoved, long bytesFreed, string log, CancellationToken cancellationToken);

    /// <summary>Newest first.</summary>
    Task<(IReadOnlyList<GcRun> Runs, long Total)> ListGcRunsAsync(int page, int pageSize, CancellationToken cancellationToken);

    Task<GcRun?> GetGcRunAsync(long id, CancellationToken cancellationToken);
}
