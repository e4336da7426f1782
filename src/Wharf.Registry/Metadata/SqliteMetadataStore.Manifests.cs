using System.Data.Common;
using Wharf.Registry.Data;
using Wharf.Oci;

namespace Wharf.Registry.Metadata;

public sealed partial class SqliteMetadataStore
{
    public async Task<StoredManifest?> GetManifestAsync(RepositoryName repository, ManifestReference reference, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        using var cmd = c.CreateCommand();
        cmd.CommandText = reference.IsDigest
            ? """
              SELECT m.digest, m.media_type, m.content, m.subject FROM manifests m
              JOIN repositories r ON r.id = m.repository_id
              WHERE r.name = $repo AND m.digest = $ref
              """
            : """
              SELECT m.digest, m.media_type, m.content, m.subject FROM tags t
              JOIN repositories r ON r.id = t.repository_id
              JOIN manifests m ON m.repository_id = t.repository_id AND m.digest = t.digest
              WHERE r.name = $repo AND t.name = $ref
              """;
        cmd.AddParameter("$repo", repository.Value);
        cmd.AddParameter("$ref", reference.ToString());
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        if (!await r.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new StoredManifest(
            Digest.Parse(r.GetString(0)), r.GetString(1), (byte[])r.GetValue(2), r.IsDBNull(3) ? null : r.GetString(3));
    }

    public async Task<ManifestPutResult> PutManifestAsync(
        RepositoryName repository, Digest digest, string mediaType, byte[] content, ParsedManifest parsed,
        IReadOnlyList<string> tags, Func<string, CancellationToken, ValueTask<long?>> quotaLimit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parsed);
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(tags);
        ArgumentNullException.ThrowIfNull(quotaLimit);

        // Asked before the transaction: the limit lives elsewhere and must not be read under the write lock.
        long? limit = await quotaLimit(repository.Project, cancellationToken).ConfigureAwait(false);

        // Concurrent pushes share one transaction and one durable commit (ManifestCommits); each still
        // makes its checks inside it, after the writes of those before it in the batch.
        return await ManifestCommits.SubmitAsync(new ManifestWrite(repository, digest, mediaType, content, parsed, tags, limit), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The commit queue of manifest PUTs on this store (one per store, so one per database in wharfd).</summary>
    internal GroupCommit<ManifestWrite, ManifestPutResult> ManifestCommits =>
        LazyInitializer.EnsureInitialized(ref _manifestCommits, () => new GroupCommit<ManifestWrite, ManifestPutResult>(
            OpenAsync, (c, writes, ct) => BeginProjectWriteAsync(c, [.. writes.Select(w => w.Repository.Project)], ct), WriteManifestAsync));

    private GroupCommit<ManifestWrite, ManifestPutResult>? _manifestCommits;

    internal sealed record ManifestWrite(
        RepositoryName Repository, Digest Digest, string MediaType, byte[] Content, ParsedManifest Parsed, IReadOnlyList<string> Tags, long? QuotaLimit);

    /// <summary>
    /// A new manifest's references: every blob (but a non-distributable one, fetched from its URLs) and
    /// every child manifest must be in this repository with the size the manifest claims. A wrong child
    /// size makes clients that check it (containerd, image-spec's descriptor rule) refuse the child at
    /// pull time, so it is refused here as a wrong blob size is. The sizes come from
    /// <paramref name="blobSize"/> and <paramref name="manifestSize"/> (null: not in the repository):
    /// a query each on SQLite, one batch's results on PostgreSQL.
    /// </summary>
    private static async Task CheckReferencesAsync(
        RepositoryName repository, IEnumerable<Descriptor> blobs, IEnumerable<Descriptor> children,
        Func<string, Task<long?>> blobSize, Func<string, Task<long?>> manifestSize)
    {
        foreach (var blob in blobs)
        {
            long? size = await blobSize(blob.Digest.ToString());
            if (size is null)
            {
                if (blob.Urls is { Count: > 0 })
                {
                    continue;
                }

                throw new OciException(OciErrorCode.ManifestBlobUnknown, $"blob {blob.Digest} ({blob.MediaType}) is not in repository {repository}");
            }

            if (size.Value != blob.Size)
            {
                throw new OciException(OciErrorCode.ManifestInvalid, $"blob {blob.Digest} is {size.Value} bytes, the manifest says {blob.Size}");
            }
        }

        foreach (var child in children)
        {
            long? size = await manifestSize(child.Digest.ToString());
            if (size is null)
            {
                throw new OciException(OciErrorCode.ManifestBlobUnknown, $"manifest {child.Digest} is not in repository {repository}");
            }

            if (size.Value != child.Size)
            {
                throw new OciException(OciErrorCode.ManifestInvalid, $"manifest {child.Digest} is {size.Value} bytes, the index says {child.Size}");
            }
        }
    }

    // One manifest PUT inside an open write transaction: checks, then the manifest, its references and tags.
    private async Task<ManifestPutResult> WriteManifestAsync(DbConnection c, ManifestWrite write, CancellationToken cancellationToken)
    {
        if (c is PostgreSqlConnection postgres)
        {
            return await WriteManifestBatchedAsync(postgres, write, cancellationToken);
        }

        var (repository, digest, mediaType, content, parsed, tags, limit) = write;
        string project = repository.Project;
        long repoId = await EnsureRepositoryAsync(c, cancellationToken, repository);
        string digestText = digest.ToString();
        long now = Now;

        bool exists;
        using (var check = c.CreateCommand())
        {
            check.CommandText = "SELECT 1 FROM manifests WHERE repository_id = $r AND digest = $d";
            check.AddParameter("$r", repoId);
            check.AddParameter("$d", digestText);
            exists = (await check.ExecuteScalarAsync(cancellationToken)) is not null;
        }

        // The usage is a query over all of the project's content, so it is read only when a limit
        // needs it: before (to tell what this manifest adds) and after (is it over the limit).
        long? usage = limit is null ? null : await ReadUsageAsync(c, cancellationToken, project);
        if (!exists)
        {
            // A manifest may name one blob many times (a layer repeated, up to the 4 MiB manifest cap:
            // tens of thousands): each distinct descriptor is checked and each distinct digest recorded
            // once, so the statements scale with what is distinct (each is a round trip on PostgreSQL).
            var blobs = parsed.Blobs.DistinctBy(b => (b.Digest, b.Size, b.Urls is { Count: > 0 })).ToList();
            var children = parsed.Manifests.DistinctBy(m => (m.Digest, m.Size)).ToList();

            // Checked inside the transaction so a concurrent blob delete cannot slip between.
            await CheckReferencesAsync(repository, blobs, children,
                d => LinkedBlobSizeAsync(c, cancellationToken, repoId, d),
                d => ManifestSizeAsync(c, cancellationToken, repoId, d));

            await ExecuteAsync(c, cancellationToken, """
                INSERT INTO manifests(repository_id, digest, media_type, artifact_type, size, content, subject, annotations, created_at)
                VALUES($r, $d, $mt, $at, $s, $c, $subj, $ann, $t)
                """,
                ("$r", repoId), ("$d", digestText), ("$mt", mediaType), ("$at", parsed.ArtifactType), ("$s", (long)content.Length),
                ("$c", content), ("$subj", parsed.Subject?.Digest.ToString()), ("$ann", SerializeAnnotations(parsed.Annotations)), ("$t", now));
            foreach (var blob in blobs.DistinctBy(b => b.Digest))
            {
                await ExecuteAsync(c, cancellationToken, "INSERT INTO manifest_references(repository_id, parent, child, child_is_manifest) VALUES($r, $p, $c, 0) ON CONFLICT DO NOTHING",
                    ("$r", repoId), ("$p", digestText), ("$c", blob.Digest.ToString()));
            }

            foreach (var child in children.DistinctBy(m => m.Digest))
            {
                await ExecuteAsync(c, cancellationToken, "INSERT INTO manifest_references(repository_id, parent, child, child_is_manifest) VALUES($r, $p, $c, 1) ON CONFLICT DO NOTHING",
                    ("$r", repoId), ("$p", digestText), ("$c", child.Digest.ToString()));
            }

            // Its layers and config were counted when they were committed to the repository; what
            // is new here is the manifest itself (and blobs only a manifest of this project held).
            if (usage is { } before)
            {
                usage = await CheckQuotaAsync(c, cancellationToken, project, before, limit);
            }
        }

        // Immutable tags (Harbor's project policy): an existing one may not move to another digest.
        await CheckTagMovesAsync(c, cancellationToken, repository, repoId, tags, digestText);
        foreach (string tag in tags)
        {
            await ExecuteAsync(c, cancellationToken, """
                INSERT INTO tags(repository_id, name, digest, updated_at) VALUES($r, $n, $d, $t)
                ON CONFLICT(repository_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at
                """,
                ("$r", repoId), ("$n", tag), ("$d", digestText), ("$t", now));
        }

        return new ManifestPutResult(!exists, usage);
    }

    public async Task<bool> DeleteManifestAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        await using var tx = await BeginProjectWriteAsync(c, [repository.Project], cancellationToken);
        long? repoId = await RepositoryIdAsync(c, cancellationToken, repository);
        string d = digest.ToString();
        if (repoId is null || !await ManifestExistsAsync(c, cancellationToken, repoId.Value, d))
        {
            return false;
        }

        // An index in this repository that lists the manifest would become unpullable without it
        // (Harbor refuses the same delete). Checked inside the transaction so a concurrent index
        // push cannot slip between. A referrer's subject is no such reference: OCI distribution 1.1
        // lets referrers outlive their subject, so those deletes go through.
        var parents = await ParentManifestsAsync(c, cancellationToken, repoId.Value, d);
        if (parents.Count > 0)
        {
            throw new ManifestReferencedException(repository, digest, parents);
        }

        await CheckTagRemovalsAsync(c, cancellationToken, repository, repoId.Value, tag: null, digest: d);
        await ReleaseManifestLinksAsync(c, cancellationToken, repoId.Value, d);
        await ExecuteAsync(c, cancellationToken, "DELETE FROM manifest_references WHERE repository_id = $r AND parent = $d", ("$r", repoId.Value), ("$d", d));
        await ExecuteAsync(c, cancellationToken, "DELETE FROM tags WHERE repository_id = $r AND digest = $d", ("$r", repoId.Value), ("$d", d));
        await ExecuteAsync(c, cancellationToken, "DELETE FROM manifests WHERE repository_id = $r AND digest = $d", ("$r", repoId.Value), ("$d", d));
        await tx.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<bool> DeleteTagAsync(RepositoryName repository, string tag, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        await using var tx = await BeginProjectWriteAsync(c, [repository.Project], cancellationToken);
        long? repoId = await RepositoryIdAsync(c, cancellationToken, repository);
        if (repoId is null)
        {
            return false;
        }

        await CheckTagRemovalsAsync(c, cancellationToken, repository, repoId.Value, tag, digest: null);
        int n = await ExecuteAsync(c, cancellationToken, "DELETE FROM tags WHERE repository_id = $r AND name = $n", ("$r", repoId.Value), ("$n", tag));
        await tx.CommitAsync(cancellationToken);
        return n > 0;
    }

    public async Task<IReadOnlyList<string>> ListTagsAsync(RepositoryName repository, string? last, int limit, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT t.name FROM tags t WHERE t.repository_id = (SELECT id FROM repositories WHERE name = $repo)
            AND t.name > $last ORDER BY t.name LIMIT $n
            """;
        cmd.AddParameter("$repo", repository.Value);
        cmd.AddParameter("$last", last ?? string.Empty);
        cmd.AddParameter("$n", limit);
        return await ReadStringsAsync(cmd, cancellationToken);
    }

    public async Task<IReadOnlyList<Referrer>> ListReferrersAsync(RepositoryName repository, Digest subject, string? artifactType, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT m.digest, m.media_type, m.size, m.artifact_type, m.annotations FROM manifests m
            WHERE m.repository_id = (SELECT id FROM repositories WHERE name = $repo) AND m.subject = $s
            AND ($at IS NULL OR m.artifact_type = $at)
            ORDER BY m.created_at, m.digest
            """;
        cmd.AddParameter("$repo", repository.Value);
        cmd.AddParameter("$s", subject.ToString());
        cmd.AddParameter("$at", (object?)artifactType ?? DBNull.Value);
        var list = new List<Referrer>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            list.Add(new Referrer(Digest.Parse(r.GetString(0)), r.GetString(1), r.GetInt64(2),
                r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4)));
        }

        return list;
    }

    public async Task<long> GetProjectUsageAsync(string project, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        return await ReadUsageAsync(c, cancellationToken, project);
    }

    public async Task<bool> ProjectHasRepositoriesAsync(string project, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT 1 FROM repositories r WHERE r.project = $p
            AND (EXISTS(SELECT 1 FROM manifests m WHERE m.repository_id = r.id) OR EXISTS(SELECT 1 FROM repository_blobs b WHERE b.repository_id = r.id))
            LIMIT 1
            """;
        cmd.AddParameter("$p", project);
        return (await cmd.ExecuteScalarAsync(cancellationToken)) is not null;
    }

    // ---- helpers ----------------------------------------------------------------------------

    private static async Task<long?> LinkedBlobSizeAsync(DbConnection c, CancellationToken cancellationToken, long repoId, string digest)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
            WHERE rb.repository_id = $r AND rb.digest = $d
            """;
        cmd.AddParameter("$r", repoId);
        cmd.AddParameter("$d", digest);
        return (await cmd.ExecuteScalarAsync(cancellationToken)) is long size ? size : null;
    }

    private static async Task<long?> ManifestSizeAsync(DbConnection c, CancellationToken cancellationToken, long repoId, string digest)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT size FROM manifests WHERE repository_id = $r AND digest = $d";
        cmd.AddParameter("$r", repoId);
        cmd.AddParameter("$d", digest);
        return (await cmd.ExecuteScalarAsync(cancellationToken)) is long size ? size : null;
    }

    private static async Task<bool> ManifestExistsAsync(DbConnection c, CancellationToken cancellationToken, long repoId, string digest)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT 1 FROM manifests WHERE repository_id = $r AND digest = $d";
        cmd.AddParameter("$r", repoId);
        cmd.AddParameter("$d", digest);
        return (await cmd.ExecuteScalarAsync(cancellationToken)) is not null;
    }

    // Usage is computed from the content tables (SqliteMetadataStore.Quotas.cs), never kept as a counter.
    private static async Task<long> ReadUsageAsync(DbConnection c, CancellationToken cancellationToken, string project) => await ComputeUsageAsync(c, cancellationToken, project);

    /// <summary>The manifests of the repository (image indexes) that list <paramref name="digest"/> among their manifests, a few at most.</summary>
    private static async Task<List<Digest>> ParentManifestsAsync(DbConnection c, CancellationToken cancellationToken, long repoId, string digest)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT parent FROM manifest_references
            WHERE repository_id = $r AND child = $d AND child_is_manifest = 1
            ORDER BY parent LIMIT 5
            """;
        cmd.AddParameter("$r", repoId);
        cmd.AddParameter("$d", digest);
        var parents = new List<Digest>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            parents.Add(Digest.Parse(r.GetString(0)));
        }

        return parents;
    }
}
