using Microsoft.Data.Sqlite;
using Wharf.Oci;

namespace Wharf.Registry.Metadata;

public sealed partial class SqliteMetadataStore
{
    public Task<StoredManifest?> GetManifestAsync(RepositoryName repository, ManifestReference reference, CancellationToken cancellationToken)
    {
        using var c = Open();
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
        cmd.Parameters.AddWithValue("$repo", repository.Value);
        cmd.Parameters.AddWithValue("$ref", reference.ToString());
        using var r = cmd.ExecuteReader();
        if (!r.Read())
        {
            return Task.FromResult<StoredManifest?>(null);
        }

        return Task.FromResult<StoredManifest?>(new StoredManifest(
            Digest.Parse(r.GetString(0)), r.GetString(1), (byte[])r.GetValue(2), r.IsDBNull(3) ? null : r.GetString(3)));
    }

    public async Task<ManifestPutResult> PutManifestAsync(
        RepositoryName repository, Digest digest, string mediaType, byte[] content, ParsedManifest parsed,
        IReadOnlyList<string> tags, Func<string, CancellationToken, ValueTask<long?>> quotaLimit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parsed);
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(tags);
        ArgumentNullException.ThrowIfNull(quotaLimit);
        string project = repository.Project;

        // Asked before the transaction: the limit lives elsewhere and must not be read under the write lock.
        long? limit = await quotaLimit(project, cancellationToken).ConfigureAwait(false);

        using var c = Open();
        using var tx = c.BeginTransaction();
        long repoId = EnsureRepository(c, tx, repository);
        string digestText = digest.ToString();
        long now = Now;

        bool exists;
        using (var check = c.CreateCommand())
        {
            check.Transaction = tx;
            check.CommandText = "SELECT 1 FROM manifests WHERE repository_id = $r AND digest = $d";
            check.Parameters.AddWithValue("$r", repoId);
            check.Parameters.AddWithValue("$d", digestText);
            exists = check.ExecuteScalar() is not null;
        }

        long usage = ReadUsage(c, tx, project);
        if (!exists)
        {
            // Every referenced blob must be in this repository, with the size the manifest claims.
            // Checked inside the transaction so a concurrent blob delete cannot slip between.
            foreach (var blob in parsed.Blobs)
            {
                long? size = LinkedBlobSize(c, tx, repoId, blob.Digest.ToString());
                if (size is null)
                {
                    if (blob.Urls is { Count: > 0 })
                    {
                        continue; // non-distributable layer: fetched from its URLs, not from us
                    }

                    throw new OciException(OciErrorCode.ManifestBlobUnknown, $"blob {blob.Digest} ({blob.MediaType}) is not in repository {repository}");
                }

                if (size.Value != blob.Size)
                {
                    throw new OciException(OciErrorCode.ManifestInvalid, $"blob {blob.Digest} is {size.Value} bytes, the manifest says {blob.Size}");
                }
            }

            foreach (var child in parsed.Manifests)
            {
                long? size = ManifestSize(c, tx, repoId, child.Digest.ToString());
                if (size is null)
                {
                    throw new OciException(OciErrorCode.ManifestBlobUnknown, $"manifest {child.Digest} is not in repository {repository}");
                }

                // A wrong size makes clients that check it (containerd, image-spec's descriptor rule)
                // refuse the child at pull time; refuse it here, as a wrong blob size is.
                if (size.Value != child.Size)
                {
                    throw new OciException(OciErrorCode.ManifestInvalid, $"manifest {child.Digest} is {size.Value} bytes, the index says {child.Size}");
                }
            }

            Execute(c, tx, """
                INSERT INTO manifests(repository_id, digest, media_type, artifact_type, size, content, subject, annotations, created_at)
                VALUES($r, $d, $mt, $at, $s, $c, $subj, $ann, $t)
                """,
                ("$r", repoId), ("$d", digestText), ("$mt", mediaType), ("$at", parsed.ArtifactType), ("$s", (long)content.Length),
                ("$c", content), ("$subj", parsed.Subject?.Digest.ToString()), ("$ann", SerializeAnnotations(parsed.Annotations)), ("$t", now));
            foreach (var blob in parsed.Blobs)
            {
                Execute(c, tx, "INSERT INTO manifest_references(repository_id, parent, child, child_is_manifest) VALUES($r, $p, $c, 0) ON CONFLICT DO NOTHING",
                    ("$r", repoId), ("$p", digestText), ("$c", blob.Digest.ToString()));
            }

            foreach (var child in parsed.Manifests)
            {
                Execute(c, tx, "INSERT INTO manifest_references(repository_id, parent, child, child_is_manifest) VALUES($r, $p, $c, 1) ON CONFLICT DO NOTHING",
                    ("$r", repoId), ("$p", digestText), ("$c", child.Digest.ToString()));
            }

            // Its layers and config were counted when they were committed to the repository; what
            // is new here is the manifest itself (and blobs only a manifest of this project held).
            CheckQuota(c, tx, project, usage, limit);
            usage = ReadUsage(c, tx, project);
        }

        // Immutable tags (Harbor's project policy): an existing one may not move to another digest.
        CheckTagMoves(c, tx, repository, repoId, tags, digestText);
        foreach (string tag in tags)
        {
            Execute(c, tx, """
                INSERT INTO tags(repository_id, name, digest, updated_at) VALUES($r, $n, $d, $t)
                ON CONFLICT(repository_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at
                """,
                ("$r", repoId), ("$n", tag), ("$d", digestText), ("$t", now));
        }

        tx.Commit();
        return new ManifestPutResult(!exists, usage);
    }

    public Task<bool> DeleteManifestAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken)
    {
        using var c = Open();
        using var tx = c.BeginTransaction();
        long? repoId = RepositoryId(c, tx, repository);
        string d = digest.ToString();
        if (repoId is null || !ManifestExists(c, tx, repoId.Value, d))
        {
            return Task.FromResult(false);
        }

        // An index in this repository that lists the manifest would become unpullable without it
        // (Harbor refuses the same delete). Checked inside the transaction so a concurrent index
        // push cannot slip between. A referrer's subject is no such reference: OCI distribution 1.1
        // lets referrers outlive their subject, so those deletes go through.
        var parents = ParentManifests(c, tx, repoId.Value, d);
        if (parents.Count > 0)
        {
            throw new ManifestReferencedException(repository, digest, parents);
        }

        CheckTagRemovals(c, tx, repository, repoId.Value, tag: null, digest: d);
        ReleaseManifestLinks(c, tx, repoId.Value, d);
        Execute(c, tx, "DELETE FROM manifest_references WHERE repository_id = $r AND parent = $d", ("$r", repoId.Value), ("$d", d));
        Execute(c, tx, "DELETE FROM tags WHERE repository_id = $r AND digest = $d", ("$r", repoId.Value), ("$d", d));
        Execute(c, tx, "DELETE FROM manifests WHERE repository_id = $r AND digest = $d", ("$r", repoId.Value), ("$d", d));
        tx.Commit();
        return Task.FromResult(true);
    }

    public Task<bool> DeleteTagAsync(RepositoryName repository, string tag, CancellationToken cancellationToken)
    {
        using var c = Open();
        using var tx = c.BeginTransaction();
        long? repoId = RepositoryId(c, tx, repository);
        if (repoId is null)
        {
            return Task.FromResult(false);
        }

        CheckTagRemovals(c, tx, repository, repoId.Value, tag, digest: null);
        int n = Execute(c, tx, "DELETE FROM tags WHERE repository_id = $r AND name = $n", ("$r", repoId.Value), ("$n", tag));
        tx.Commit();
        return Task.FromResult(n > 0);
    }

    public Task<IReadOnlyList<string>> ListTagsAsync(RepositoryName repository, string? last, int limit, CancellationToken cancellationToken)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT t.name FROM tags t WHERE t.repository_id = (SELECT id FROM repositories WHERE name = $repo)
            AND t.name > $last ORDER BY t.name LIMIT $n
            """;
        cmd.Parameters.AddWithValue("$repo", repository.Value);
        cmd.Parameters.AddWithValue("$last", last ?? string.Empty);
        cmd.Parameters.AddWithValue("$n", limit);
        return Task.FromResult<IReadOnlyList<string>>(ReadStrings(cmd));
    }

    public Task<IReadOnlyList<Referrer>> ListReferrersAsync(RepositoryName repository, Digest subject, string? artifactType, CancellationToken cancellationToken)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT m.digest, m.media_type, m.size, m.artifact_type, m.annotations FROM manifests m
            WHERE m.repository_id = (SELECT id FROM repositories WHERE name = $repo) AND m.subject = $s
            AND ($at IS NULL OR m.artifact_type = $at)
            ORDER BY m.created_at, m.digest
            """;
        cmd.Parameters.AddWithValue("$repo", repository.Value);
        cmd.Parameters.AddWithValue("$s", subject.ToString());
        cmd.Parameters.AddWithValue("$at", (object?)artifactType ?? DBNull.Value);
        var list = new List<Referrer>();
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            list.Add(new Referrer(Digest.Parse(r.GetString(0)), r.GetString(1), r.GetInt64(2),
                r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4)));
        }

        return Task.FromResult<IReadOnlyList<Referrer>>(list);
    }

    public Task<long> GetProjectUsageAsync(string project, CancellationToken cancellationToken)
    {
        using var c = Open();
        return Task.FromResult(ReadUsage(c, null, project));
    }

    public Task<bool> ProjectHasRepositoriesAsync(string project, CancellationToken cancellationToken)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT 1 FROM repositories r WHERE r.project = $p
            AND (EXISTS(SELECT 1 FROM manifests m WHERE m.repository_id = r.id) OR EXISTS(SELECT 1 FROM repository_blobs b WHERE b.repository_id = r.id))
            LIMIT 1
            """;
        cmd.Parameters.AddWithValue("$p", project);
        return Task.FromResult(cmd.ExecuteScalar() is not null);
    }

    // ---- helpers ----------------------------------------------------------------------------

    private static long? LinkedBlobSize(SqliteConnection c, SqliteTransaction tx, long repoId, string digest)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = """
            SELECT b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
            WHERE rb.repository_id = $r AND rb.digest = $d
            """;
        cmd.Parameters.AddWithValue("$r", repoId);
        cmd.Parameters.AddWithValue("$d", digest);
        return cmd.ExecuteScalar() is long size ? size : null;
    }

    private static long? ManifestSize(SqliteConnection c, SqliteTransaction tx, long repoId, string digest)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT size FROM manifests WHERE repository_id = $r AND digest = $d";
        cmd.Parameters.AddWithValue("$r", repoId);
        cmd.Parameters.AddWithValue("$d", digest);
        return cmd.ExecuteScalar() is long size ? size : null;
    }

    private static bool ManifestExists(SqliteConnection c, SqliteTransaction tx, long repoId, string digest)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT 1 FROM manifests WHERE repository_id = $r AND digest = $d";
        cmd.Parameters.AddWithValue("$r", repoId);
        cmd.Parameters.AddWithValue("$d", digest);
        return cmd.ExecuteScalar() is not null;
    }

    // Usage is computed from the content tables (SqliteMetadataStore.Quotas.cs), never kept as a counter.
    private static long ReadUsage(SqliteConnection c, SqliteTransaction? tx, string project) => ComputeUsage(c, tx, project);

    /// <summary>The manifests of the repository (image indexes) that list <paramref name="digest"/> among their manifests, a few at most.</summary>
    private static List<Digest> ParentManifests(SqliteConnection c, SqliteTransaction tx, long repoId, string digest)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = """
            SELECT parent FROM manifest_references
            WHERE repository_id = $r AND child = $d AND child_is_manifest = 1
            ORDER BY parent LIMIT 5
            """;
        cmd.Parameters.AddWithValue("$r", repoId);
        cmd.Parameters.AddWithValue("$d", digest);
        var parents = new List<Digest>();
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            parents.Add(Digest.Parse(r.GetString(0)));
        }

        return parents;
    }
}
