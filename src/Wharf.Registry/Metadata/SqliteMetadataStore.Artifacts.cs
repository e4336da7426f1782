using Microsoft.Data.Sqlite;
using Wharf.Oci;

namespace Wharf.Registry.Metadata;

/// <summary>
/// The management API's views of repositories and artifacts. Pull counts live in their own table
/// (<c>artifact_pulls</c>, created on first use), written in batches by a background writer so that a
/// pull never waits for a database write.
/// </summary>
public sealed partial class SqliteMetadataStore : IArtifactStore
{
    private const string ArtifactSchema = """
        CREATE TABLE IF NOT EXISTS artifact_pulls(
            repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
            digest TEXT NOT NULL,
            pull_count INTEGER NOT NULL,
            last_pull INTEGER NOT NULL,
            PRIMARY KEY(repository_id, digest)) WITHOUT ROWID;
        """;

    // Manifests that are not children of an index in the same repository: what Harbor lists as artifacts.
    private const string TopLevel = """
        NOT EXISTS(SELECT 1 FROM manifest_references mr
                   WHERE mr.repository_id = m.repository_id AND mr.child = m.digest AND mr.child_is_manifest = 1)
        """;

    private const string RepositoryColumns = """
        r.id, r.name, r.project,
        (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id AND
            NOT EXISTS(SELECT 1 FROM manifest_references mr WHERE mr.repository_id = m.repository_id AND mr.child = m.digest AND mr.child_is_manifest = 1)),
        COALESCE((SELECT SUM(p.pull_count) FROM artifact_pulls p WHERE p.repository_id = r.id), 0),
        r.created_at,
        MAX(r.created_at,
            COALESCE((SELECT MAX(m.created_at) FROM manifests m WHERE m.repository_id = r.id), 0),
            COALESCE((SELECT MAX(t.updated_at) FROM tags t WHERE t.repository_id = r.id), 0))
        """;

    private int _artifactSchemaReady;

    private SqliteConnection OpenArtifacts()
    {
        var c = Open();
        if (Volatile.Read(ref _artifactSchemaReady) == 0)
        {
            Execute(c, null, ArtifactSchema);
            Volatile.Write(ref _artifactSchemaReady, 1);
        }

        return c;
    }

    public Task<(IReadOnlyList<RepositoryInfo> Repositories, long Total)> ListRepositoryInfoAsync(
        string project, string? nameContains, int page, int pageSize, CancellationToken cancellationToken)
    {
        using var c = OpenArtifacts();
        const string Where = """
            r.project = $p AND ($q IS NULL OR instr(r.name, $q) > 0)
            AND EXISTS(SELECT 1 FROM manifests m WHERE m.repository_id = r.id)
            """;
        using var count = c.CreateCommand();
        count.CommandText = $"SELECT COUNT(*) FROM repositories r WHERE {Where}";
        count.Parameters.AddWithValue("$p", project);
        count.Parameters.AddWithValue("$q", (object?)nameContains ?? DBNull.Value);
        long total = (long)count.ExecuteScalar()!;

        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT {RepositoryColumns} FROM repositories r WHERE {Where} ORDER BY r.name LIMIT $n OFFSET $o";
        cmd.Parameters.AddWithValue("$p", project);
        cmd.Parameters.AddWithValue("$q", (object?)nameContains ?? DBNull.Value);
        cmd.Parameters.AddWithValue("$n", pageSize);
        cmd.Parameters.AddWithValue("$o", (long)(page - 1) * pageSize);
        return Task.FromResult<(IReadOnlyList<RepositoryInfo>, long)>((ReadRepositories(cmd), total));
    }

    public Task<RepositoryInfo?> GetRepositoryInfoAsync(RepositoryName repository, CancellationToken cancellationToken)
    {
        using var c = OpenArtifacts();
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT {RepositoryColumns} FROM repositories r WHERE r.name = $n";
        cmd.Parameters.AddWithValue("$n", repository.Value);
        var list = ReadRepositories(cmd);
        return Task.FromResult(list.Count == 0 ? null : list[0]);
    }

    public Task<bool> DeleteRepositoryAsync(RepositoryName repository, CancellationToken cancellationToken)
    {
        using var c = OpenArtifacts();
        using var tx = c.BeginTransaction();
        long? repoId = RepositoryId(c, tx, repository);
        if (repoId is null)
        {
            return Task.FromResult(false);
        }

        // Harbor deletes a repository artifact by artifact, so an immutable tag stops it.
        CheckTagRemovals(c, tx, repository, repoId.Value, tag: null, digest: null);
        DeleteRepositoryCore(c, tx, repoId.Value);
        tx.Commit();
        return Task.FromResult(true);
    }

    public Task<IReadOnlyList<string>> DeleteProjectRepositoriesAsync(string project, CancellationToken cancellationToken)
    {
        using var c = OpenArtifacts();
        using var tx = c.BeginTransaction();
        var repositories = new List<(long Id, string Name)>();
        using (var cmd = c.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = "SELECT id, name FROM repositories WHERE project = $p";
            cmd.Parameters.AddWithValue("$p", project);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                repositories.Add((r.GetInt64(0), r.GetString(1)));
            }
        }

        foreach (var (id, _) in repositories)
        {
            DeleteRepositoryCore(c, tx, id);
        }

        // The version-1 running counts, if a database still has them, go with the project.
        Execute(c, tx, "DELETE FROM project_blobs WHERE project = $p", ("$p", project));
        Execute(c, tx, "DELETE FROM project_usage WHERE project = $p", ("$p", project));
        tx.Commit();
        return Task.FromResult<IReadOnlyList<string>>([.. repositories.Select(r => r.Name)]);
    }

    public Task<(IReadOnlyList<ArtifactInfo> Artifacts, long Total)> ListArtifactsAsync(RepositoryName repository, int page, int pageSize, CancellationToken cancellationToken)
    {
        using var c = OpenArtifacts();
        long? repoId = RepositoryId(c, null, repository);
        if (repoId is null)
        {
            return Task.FromResult<(IReadOnlyList<ArtifactInfo>, long)>(([], 0));
        }

        using var count = c.CreateCommand();
        count.CommandText = $"SELECT COUNT(*) FROM manifests m WHERE m.repository_id = $r AND {TopLevel}";
        count.Parameters.AddWithValue("$r", repoId.Value);
        long total = (long)count.ExecuteScalar()!;
        var artifacts = ReadArtifacts(c, repoId.Value, $"{TopLevel} ORDER BY m.created_at DESC, m.digest LIMIT $n OFFSET $o",
            ("$n", pageSize), ("$o", (long)(page - 1) * pageSize));
        return Task.FromResult<(IReadOnlyList<ArtifactInfo>, long)>((artifacts, total));
    }

    public Task<ArtifactInfo?> GetArtifactAsync(RepositoryName repository, ManifestReference reference, CancellationToken cancellationToken)
    {
        using var c = OpenArtifacts();
        long? repoId = RepositoryId(c, null, repository);
        if (repoId is null)
        {
            return Task.FromResult<ArtifactInfo?>(null);
        }

        var list = reference.IsDigest
            ? ReadArtifacts(c, repoId.Value, "m.digest = $ref", ("$ref", reference.ToString()))
            : ReadArtifacts(c, repoId.Value, "m.digest = (SELECT t.digest FROM tags t WHERE t.repository_id = m.repository_id AND t.name = $ref)", ("$ref", reference.ToString()));
        return Task.FromResult(list.Count == 0 ? null : list[0]);
    }

    public Task<TagCreateResult> AddTagAsync(RepositoryName repository, Digest digest, string tag, CancellationToken cancellationToken)
    {
        using var c = OpenArtifacts();
        using var tx = c.BeginTransaction();
        long? repoId = RepositoryId(c, tx, repository);
        if (repoId is null || !ManifestExists(c, tx, repoId.Value, digest.ToString()))
        {
            return Task.FromResult(TagCreateResult.ArtifactMissing);
        }

        // The manifest is already charged to the project: a new tag adds no bytes.
        int n = Execute(c, tx, "INSERT INTO tags(repository_id, name, digest, updated_at) VALUES($r, $n, $d, $t) ON CONFLICT DO NOTHING",
            ("$r", repoId.Value), ("$n", tag), ("$d", digest.ToString()), ("$t", Now));
        tx.Commit();
        return Task.FromResult(n == 1 ? TagCreateResult.Created : TagCreateResult.AlreadyExists);
    }

    public Task RecordPullsAsync(IReadOnlyCollection<PullRecord> pulls, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pulls);
        if (pulls.Count == 0)
        {
            return Task.CompletedTask;
        }

        using var c = OpenArtifacts();
        using var tx = c.BeginTransaction();
        foreach (var pull in pulls)
        {
            Execute(c, tx, """
                INSERT INTO artifact_pulls(repository_id, digest, pull_count, last_pull)
                SELECT id, $d, $n, $t FROM repositories WHERE name = $r
                ON CONFLICT(repository_id, digest) DO UPDATE SET
                    pull_count = pull_count + excluded.pull_count, last_pull = MAX(last_pull, excluded.last_pull)
                """,
                ("$r", pull.Repository.Value), ("$d", pull.Digest.ToString()), ("$n", pull.Count), ("$t", pull.At.ToUnixTimeMilliseconds()));
        }

        tx.Commit();
        return Task.CompletedTask;
    }

    /// <summary>Drops the repository and its rows; the project's usage, computed from what is left, falls with them.</summary>
    private static void DeleteRepositoryCore(SqliteConnection c, SqliteTransaction tx, long repoId)
    {
        Execute(c, tx, "DELETE FROM manifest_references WHERE repository_id = $r", ("$r", repoId));
        Execute(c, tx, "DELETE FROM tags WHERE repository_id = $r", ("$r", repoId));
        Execute(c, tx, "DELETE FROM manifests WHERE repository_id = $r", ("$r", repoId));
        Execute(c, tx, "DELETE FROM repository_blobs WHERE repository_id = $r", ("$r", repoId));
        Execute(c, tx, "DELETE FROM artifact_pulls WHERE repository_id = $r", ("$r", repoId));
        Execute(c, tx, "DELETE FROM repositories WHERE id = $r", ("$r", repoId));
    }

    private static List<RepositoryInfo> ReadRepositories(SqliteCommand cmd)
    {
        var list = new List<RepositoryInfo>();
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            list.Add(new RepositoryInfo(
                r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetInt64(3), r.GetInt64(4),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(6))));
        }

        return list;
    }

    private static List<ArtifactInfo> ReadArtifacts(SqliteConnection c, long repoId, string condition, params (string Name, object? Value)[] parameters)
    {
        var rows = new List<(string Digest, string MediaType, string? ArtifactType, long Size, long PushTime, long? PullTime)>();
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = $"""
                SELECT m.digest, m.media_type, m.artifact_type,
                    m.size + COALESCE((SELECT SUM(b.size) FROM manifest_references mr JOIN blobs b ON b.digest = mr.child
                                       WHERE mr.repository_id = m.repository_id AND mr.parent = m.digest AND mr.child_is_manifest = 0), 0),
                    m.created_at,
                    (SELECT p.last_pull FROM artifact_pulls p WHERE p.repository_id = m.repository_id AND p.digest = m.digest)
                FROM manifests m WHERE m.repository_id = $repo AND {condition}
                """;
            cmd.Parameters.AddWithValue("$repo", repoId);
            foreach (var (name, value) in parameters)
            {
                cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
            }

            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                rows.Add((r.GetString(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), r.GetInt64(3), r.GetInt64(4), r.IsDBNull(5) ? null : r.GetInt64(5)));
            }
        }

        var artifacts = new List<ArtifactInfo>(rows.Count);
        foreach (var row in rows)
        {
            var tags = new List<TagInfo>();
            using (var cmd = c.CreateCommand())
            {
                cmd.CommandText = "SELECT name, updated_at FROM tags WHERE repository_id = $r AND digest = $d ORDER BY name";
                cmd.Parameters.AddWithValue("$r", repoId);
                cmd.Parameters.AddWithValue("$d", row.Digest);
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    tags.Add(new TagInfo(r.GetString(0), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1))));
                }
            }

            var references = new List<Digest>();
            using (var cmd = c.CreateCommand())
            {
                cmd.CommandText = "SELECT child FROM manifest_references WHERE repository_id = $r AND parent = $d AND child_is_manifest = 1 ORDER BY child";
                cmd.Parameters.AddWithValue("$r", repoId);
                cmd.Parameters.AddWithValue("$d", row.Digest);
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    references.Add(Digest.Parse(r.GetString(0)));
                }
            }

            artifacts.Add(new ArtifactInfo(
                repoId, Digest.Parse(row.Digest), row.MediaType, row.ArtifactType, row.Size,
                DateTimeOffset.FromUnixTimeMilliseconds(row.PushTime),
                row.PullTime is long pulled ? DateTimeOffset.FromUnixTimeMilliseconds(pulled) : null,
                tags, references));
        }

        return artifacts;
    }
}
