using System.Data.Common;
using Wharf.Registry.Data;

namespace Wharf.Registry.SharedStore;

/// <summary>One name wharfd published (state <c>published</c>) or could not publish (<c>failed</c>, with the error).</summary>
public sealed record SharedStoreEntry(string Name, string Repository, string Tag, string Digest, string State, string? Error, DateTimeOffset UpdateTime);

/// <summary>
/// The two tables of migration 9: which projects publish (their <c>publish_to_shared_store</c>
/// metadata) and what wharfd has published. A row of <c>shared_store_images</c> is also how wharfd
/// knows a name in the store is its own: it only ever unpublishes names it has a row for, so images an
/// administrator published by hand are left alone.
/// </summary>
public sealed class SharedStoreRecords(RegistryDatabase database, TimeProvider time)
{
    public const string Published = "published";

    public const string Failed = "failed";

    public async Task<bool> IsPublishingAsync(long projectId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ScalarAsync<long>("SELECT COUNT(*) FROM shared_store_projects WHERE project_id = $p;", cancellationToken, ("$p", projectId)).ConfigureAwait(false) > 0;
    }

    public async Task SetPublishingAsync(long projectId, bool publish, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            publish
                ? "INSERT INTO shared_store_projects (project_id) SELECT $p WHERE NOT EXISTS (SELECT 1 FROM shared_store_projects WHERE project_id = $p);"
                : "DELETE FROM shared_store_projects WHERE project_id = $p;",
            cancellationToken, ("$p", projectId)).ConfigureAwait(false);
    }

    /// <summary>The names of the projects that publish.</summary>
    public async Task<IReadOnlyList<string>> PublishingProjectsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.QueryAsync(
            "SELECT p.name FROM shared_store_projects s JOIN projects p ON p.id = s.project_id ORDER BY p.name;", r => r.GetString(0), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Repositories wharfd has published names of (whether or not their project still publishes).</summary>
    public async Task<IReadOnlyList<string>> RepositoriesAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.QueryAsync("SELECT DISTINCT repository FROM shared_store_images ORDER BY repository;", r => r.GetString(0), cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<SharedStoreEntry>> ListRepositoryAsync(string repository, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.QueryAsync(
            "SELECT name, repository, tag, digest, state, error, update_time FROM shared_store_images WHERE repository = $r ORDER BY tag;", Read, cancellationToken, ("$r", repository)).ConfigureAwait(false);
    }

    /// <summary>A project's rows: its repositories are <c>project/…</c>.</summary>
    public async Task<IReadOnlyList<SharedStoreEntry>> ListProjectAsync(string project, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.QueryAsync(
            "SELECT name, repository, tag, digest, state, error, update_time FROM shared_store_images WHERE repository LIKE $p ESCAPE '\\' ORDER BY repository, tag;",
            Read, cancellationToken, ("$p", Sql.LikeContains(project + "/").TrimStart('%'))).ConfigureAwait(false);
    }

    public async Task RecordAsync(string name, string repository, string tag, string digest, string state, string? error, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync("""
            INSERT INTO shared_store_images (name, repository, tag, digest, state, error, update_time) VALUES ($n, $r, $t, $d, $s, $e, $u)
            ON CONFLICT(name) DO UPDATE SET repository = excluded.repository, tag = excluded.tag, digest = excluded.digest,
                state = excluded.state, error = excluded.error, update_time = excluded.update_time;
            """, cancellationToken, ("$n", name), ("$r", repository), ("$t", tag), ("$d", digest), ("$s", state), ("$e", error),
            ("$u", time.GetUtcNow().ToUnixTimeMilliseconds())).ConfigureAwait(false);
    }

    public async Task ForgetAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync("DELETE FROM shared_store_images WHERE name = $n;", cancellationToken, ("$n", name)).ConfigureAwait(false);
    }

    private static SharedStoreEntry Read(DbDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.NullableString(5), r.Time(6));
}
