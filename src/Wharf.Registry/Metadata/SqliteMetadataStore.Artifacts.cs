using System.Data.Common;
using Wharf.Registry.Data;
using Wharf.Oci;

namespace Wharf.Registry.Metadata;

/// <summary>
/// The management API's views of repositories and artifacts. Pull counts live in their own table
/// (<c>artifact_pulls</c>), written in batches by a background writer so that a
/// pull never waits for a database write.
/// </summary>
public sealed partial class SqliteMetadataStore : IArtifactStore
{
    // Manifests that are not children of an index in the same repository: what Harbor lists as artifacts.
    internal const string TopLevel = """
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

    public async Task<(IReadOnlyList<RepositoryInfo> Repositories, long Total)> ListRepositoryInfoAsync(
        string project, string? nameContains, int page, int pageSize, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        const string Where = """
            r.project = $p AND ($q IS NULL OR instr(r.name, $q) > 0)
            AND EXISTS(SELECT 1 FROM manifests m WHERE m.repository_id = r.id)
            """;
        using var count = c.CreateCommand();
        count.CommandText = $"SELECT COUNT(*) FROM repositories r WHERE {Where}";
        count.AddParameter("$p", project);
        count.AddParameter("$q", (object?)nameContains ?? DBNull.Value);
        long total = (long)(await count.ExecuteScalarAsync(cancellationToken))!;

        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT {RepositoryColumns} FROM repositories r WHERE {Where} ORDER BY r.name LIMIT $n OFFSET $o";
        cmd.AddParameter("$p", project);
        cmd.AddParameter("$q", (object?)nameContains ?? DBNull.Value);
        cmd.AddParameter("$n", pageSize);
        cmd.AddParameter("$o", (long)(page - 1) * pageSize);
        return (await ReadRepositoriesAsync(cmd, cancellationToken), total);
    }

    public async Task<RepositoryInfo?> GetRepositoryInfoAsync(RepositoryName repository, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT {RepositoryColumns} FROM repositories r WHERE r.name = $n";
        cmd.AddParameter("$n", repository.Value);
        var list = await ReadRepositoriesAsync(cmd, cancellationToken);
        return list.Count == 0 ? null : list[0];
    }

    public async Task<bool> DeleteRepositoryAsync(RepositoryName repository, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        await using var tx = await BeginAsync(c, cancellationToken);
        long? repoId = await RepositoryIdAsync(c, cancellationToken, repository);
        if (repoId is null)
        {
            return false;
        }

        // Harbor deletes a repository artifact by artifact, so an immutable tag stops it.
        await CheckTagRemovalsAsync(c, cancellationToken, repository, repoId.Value, tag: null, digest: null);
        await DeleteRepositoryCoreAsync(c, cancellationToken, repoId.Value);
        await tx.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<IReadOnlyList<string>> DeleteProjectRepositoriesAsync(string project, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        await using var tx = await BeginAsync(c, cancellationToken);
        var repositories = new List<(long Id, string Name)>();
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "SELECT id, name FROM repositories WHERE project = $p";
            cmd.AddParameter("$p", project);
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                repositories.Add((r.GetInt64(0), r.GetString(1)));
            }
        }

        foreach (var (id, _) in repositories)
        {
            await DeleteRepositoryCoreAsync(c, cancellationToken, id);
        }

        // The version-1 running counts, if a database still has them, go with the project.
        await ExecuteAsync(c, cancellationToken, "DELETE FROM project_blobs WHERE project = $p", ("$p", project));
        await ExecuteAsync(c, cancellationToken, "DELETE FROM project_usage WHERE project = $p", ("$p", project));
        await tx.CommitAsync(cancellationToken);
        return [.. repositories.Select(r => r.Name)];
    }

    public async Task<(IReadOnlyList<ArtifactInfo> Artifacts, long Total)> ListArtifactsAsync(RepositoryName repository, int page, int pageSize, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        long? repoId = await RepositoryIdAsync(c, cancellationToken, repository);
        if (repoId is null)
        {
            return ([], 0);
        }

        using var count = c.CreateCommand();
        count.CommandText = $"SELECT COUNT(*) FROM manifests m WHERE m.repository_id = $r AND {TopLevel}";
        count.AddParameter("$r", repoId.Value);
        long total = (long)(await count.ExecuteScalarAsync(cancellationToken))!;
        var artifacts = await ReadArtifactsAsync(c, cancellationToken, repoId.Value, $"{TopLevel} ORDER BY m.created_at DESC, m.digest LIMIT $n OFFSET $o",
            ("$n", pageSize), ("$o", (long)(page - 1) * pageSize));
        return (artifacts, total);
    }

    public async Task<ArtifactInfo?> GetArtifactAsync(RepositoryName repository, ManifestReference reference, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        long? repoId = await RepositoryIdAsync(c, cancellationToken, repository);
        if (repoId is null)
        {
            return null;
        }

        var list = reference.IsDigest
            ? await ReadArtifactsAsync(c, cancellationToken, repoId.Value, "m.digest = $ref", ("$ref", reference.ToString()))
            : await ReadArtifactsAsync(c, cancellationToken, repoId.Value, "m.digest = (SELECT t.digest FROM tags t WHERE t.repository_id = m.repository_id AND t.name = $ref)", ("$ref", reference.ToString()));
        return list.Count == 0 ? null : list[0];
    }

    public async Task<TagCreateResult> AddTagAsync(RepositoryName repository, Digest digest, string tag, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        await using var tx = await BeginProjectWriteAsync(c, [repository.Project], cancellationToken);
        long? repoId = await RepositoryIdAsync(c, cancellationToken, repository);
        if (repoId is null || !await ManifestExistsAsync(c, cancellationToken, repoId.Value, digest.ToString()))
        {
            return TagCreateResult.ArtifactMissing;
        }

        // The manifest is already charged to the project: a new tag adds no bytes.
        int n = await ExecuteAsync(c, cancellationToken, "INSERT INTO tags(repository_id, name, digest, updated_at) VALUES($r, $n, $d, $t) ON CONFLICT DO NOTHING",
            ("$r", repoId.Value), ("$n", tag), ("$d", digest.ToString()), ("$t", Now));
        await tx.CommitAsync(cancellationToken);
        return n == 1 ? TagCreateResult.Created : TagCreateResult.AlreadyExists;
    }

    public async Task RecordPullsAsync(IReadOnlyCollection<PullRecord> pulls, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pulls);
        if (pulls.Count == 0)
        {
            return;
        }

        await using var c = await OpenAsync(cancellationToken);
        await using var tx = await BeginAsync(c, cancellationToken);
        foreach (var pull in pulls)
        {
            // The existing row's columns are named with their table: unqualified, PostgreSQL finds them ambiguous with excluded's.
            await ExecuteAsync(c, cancellationToken, """
                INSERT INTO artifact_pulls(repository_id, digest, pull_count, last_pull)
                SELECT id, $d, $n, $t FROM repositories WHERE name = $r
                ON CONFLICT(repository_id, digest) DO UPDATE SET
                    pull_count = artifact_pulls.pull_count + excluded.pull_count, last_pull = MAX(artifact_pulls.last_pull, excluded.last_pull)
                """,
                ("$r", pull.Repository.Value), ("$d", pull.Digest.ToString()), ("$n", pull.Count), ("$t", pull.At.ToUnixTimeMilliseconds()));
        }

        await tx.CommitAsync(cancellationToken);
        return;
    }

    /// <summary>Drops the repository and its rows; the project's usage, computed from what is left, falls with them.</summary>
    private static async Task DeleteRepositoryCoreAsync(DbConnection c, CancellationToken cancellationToken, long repoId)
    {
        await ExecuteAsync(c, cancellationToken, "DELETE FROM manifest_references WHERE repository_id = $r", ("$r", repoId));
        await ExecuteAsync(c, cancellationToken, "DELETE FROM tags WHERE repository_id = $r", ("$r", repoId));
        await ExecuteAsync(c, cancellationToken, "DELETE FROM manifests WHERE repository_id = $r", ("$r", repoId));
        await ExecuteAsync(c, cancellationToken, "DELETE FROM repository_blobs WHERE repository_id = $r", ("$r", repoId));
        await ExecuteAsync(c, cancellationToken, "DELETE FROM artifact_pulls WHERE repository_id = $r", ("$r", repoId));
        await ExecuteAsync(c, cancellationToken, "DELETE FROM repositories WHERE id = $r", ("$r", repoId));
    }

    private static async Task<List<RepositoryInfo>> ReadRepositoriesAsync(DbCommand cmd, CancellationToken cancellationToken)
    {
        var list = new List<RepositoryInfo>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            list.Add(new RepositoryInfo(
                r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetInt64(3), r.GetInt64(4),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(6))));
        }

        return list;
    }

    private static async Task<List<ArtifactInfo>> ReadArtifactsAsync(DbConnection c, CancellationToken cancellationToken, long repoId, string condition, params (string Name, object? Value)[] parameters)
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
            cmd.AddParameter("$repo", repoId);
            foreach (var (name, value) in parameters)
            {
                cmd.AddParameter(name, value ?? DBNull.Value);
            }

            await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
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
                cmd.AddParameter("$r", repoId);
                cmd.AddParameter("$d", row.Digest);
                await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
                while (await r.ReadAsync(cancellationToken))
                {
                    tags.Add(new TagInfo(r.GetString(0), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1))));
                }
            }

            var references = new List<Digest>();
            using (var cmd = c.CreateCommand())
            {
                cmd.CommandText = "SELECT child FROM manifest_references WHERE repository_id = $r AND parent = $d AND child_is_manifest = 1 ORDER BY child";
                cmd.AddParameter("$r", repoId);
                cmd.AddParameter("$d", row.Digest);
                await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
                while (await r.ReadAsync(cancellationToken))
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
