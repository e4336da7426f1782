using System.Data.Common;
using Wharf.Registry.Identity;
using Wharf.Registry.Data;

namespace Wharf.Registry.Projects;

/// <summary>
/// Which projects a listing shows. <see cref="VisibleToUserId"/> null lists all (system admins); otherwise
/// public projects and those the user is a member of (0 for anonymous: public only), with
/// <see cref="Groups"/> also those their directory groups reach.
/// </summary>
public sealed record ProjectQuery(string? NameContains = null, bool? IsPublic = null, string? Owner = null, long? VisibleToUserId = null, GroupReach? Groups = null);

/// <summary>
/// How directory groups reach projects in a listing: groups read at or after <paramref name="ReadSince"/>
/// count (older ones are past the outage window); through a group mapped to the project
/// (<c>project_member_groups</c>) and, when <paramref name="ByName"/>, through a group whose cn in lower case is the project's name.
/// </summary>
public sealed record GroupReach(DateTimeOffset ReadSince, bool ByName);

public interface IProjectStore
{
    /// <summary>Creates the project and makes <paramref name="ownerId"/> its project admin; null when the name is taken, in any case.</summary>
    Task<Project?> CreateAsync(string name, bool isPublic, long? ownerId, long? storageLimit, CancellationToken cancellationToken);

    Task<Project?> FindByNameAsync(string name, CancellationToken cancellationToken);

    Task<Project?> FindByIdAsync(long id, CancellationToken cancellationToken);

    /// <summary>
    /// A page of projects ordered by name. <paramref name="visibleToUserId"/> null lists all (system admins);
    /// otherwise public projects and those the user is a member of (0 for anonymous: public only).
    /// </summary>
    Task<(IReadOnlyList<Project> Projects, long Total)> ListAsync(string? nameContains, bool? isPublic, long? visibleToUserId, int page, int pageSize, CancellationToken cancellationToken);

    /// <summary>A page of projects ordered by name, as <paramref name="query"/> selects them.</summary>
    Task<(IReadOnlyList<Project> Projects, long Total)> ListAsync(ProjectQuery query, int page, int pageSize, CancellationToken cancellationToken);

    Task<bool> SetPublicAsync(long id, bool isPublic, CancellationToken cancellationToken);

    /// <summary>Null removes the limit.</summary>
    Task<bool> SetStorageLimitAsync(long id, long? storageLimit, CancellationToken cancellationToken);

    /// <summary>Deletes the project with its members and robots.</summary>
    Task<bool> DeleteAsync(long id, CancellationToken cancellationToken);
}

public sealed class SqliteProjectStore(RegistryDatabase database, TimeProvider time) : IProjectStore
{
    private const string Columns = "id, name, public, owner_id, storage_limit, creation_time, update_time";

    public async Task<Project?> CreateAsync(string name, bool isPublic, long? ownerId, long? storageLimit, CancellationToken cancellationToken)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (DbTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long id = await connection.ScalarAsync<long>(
                "INSERT INTO projects (name, public, owner_id, storage_limit, creation_time, update_time) "
                + "SELECT $n, $p, $o, $l, $t, $t WHERE NOT EXISTS (SELECT 1 FROM projects WHERE name = $n COLLATE NOCASE) RETURNING id;",
                cancellationToken, ("$n", name), ("$p", isPublic ? 1 : 0), ("$o", ownerId), ("$l", storageLimit), ("$t", now)).ConfigureAwait(false);
            if (id == 0)
            {
                return null;
            }
            if (ownerId is long owner)
            {
                await connection.ExecuteAsync(
                    "INSERT INTO project_members (project_id, user_id, role, creation_time, update_time) VALUES ($p, $u, $r, $t, $t);",
                    cancellationToken, ("$p", id), ("$u", owner), ("$r", (int)ProjectRole.ProjectAdmin), ("$t", now)).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            var at = DateTimeOffset.FromUnixTimeMilliseconds(now);
            return new Project(id, name, isPublic, ownerId, storageLimit, at, at);
        }
        catch (System.Data.Common.DbException e) when (Data.Sql.IsConstraintViolation(e))
        {
            return null;
        }
    }

    public Task<Project?> FindByNameAsync(string name, CancellationToken cancellationToken) => FindAsync("name = $k", name, cancellationToken);

    public Task<Project?> FindByIdAsync(long id, CancellationToken cancellationToken) => FindAsync("id = $k", id, cancellationToken);

    public Task<(IReadOnlyList<Project> Projects, long Total)> ListAsync(string? nameContains, bool? isPublic, long? visibleToUserId, int page, int pageSize, CancellationToken cancellationToken) =>
        ListAsync(new ProjectQuery(nameContains, isPublic, null, visibleToUserId), page, pageSize, cancellationToken);

    public async Task<(IReadOnlyList<Project> Projects, long Total)> ListAsync(ProjectQuery query, int page, int pageSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var conditions = new List<string>();
        if (!string.IsNullOrEmpty(query.NameContains))
        {
            conditions.Add("name LIKE $q ESCAPE '\\'");
        }

        if (query.IsPublic is not null)
        {
            conditions.Add("public = $pub");
        }

        if (!string.IsNullOrEmpty(query.Owner))
        {
            conditions.Add("owner_id IN (SELECT id FROM users WHERE username = $owner COLLATE NOCASE)");
        }

        if (query.VisibleToUserId is not null)
        {
            var reach = new List<string> { "public = 1", "id IN (SELECT project_id FROM project_members WHERE user_id = $uid)" };
            if (query.Groups is { } groups)
            {
                // The user's groups as last read (within the outage window), joined on the mapped group's DN...
                const string Memberships = "FROM directory_user_groups dug JOIN directory_users du ON du.user_id = dug.user_id WHERE dug.user_id = $uid AND du.groups_read_at >= $since";
                reach.Add($"id IN (SELECT pmg.project_id FROM project_member_groups pmg JOIN user_groups ug ON ug.id = pmg.group_id JOIN directory_user_groups dug ON dug.group_dn = ug.ldap_group_dn COLLATE NOCASE JOIN directory_users du ON du.user_id = dug.user_id WHERE dug.user_id = $uid AND du.groups_read_at >= $since)");
                if (groups.ByName)
                {
                    // ...and, under the naming rule, on the group's cn in lower case.
                    reach.Add($"name IN (SELECT lower(dug.group_name) {Memberships})");
                }
            }

            conditions.Add("(" + string.Join(" OR ", reach) + ")");
        }

        string where = conditions.Count == 0 ? "" : "WHERE " + string.Join(" AND ", conditions);
        (string, object?)[] parameters =
        [
            ("$q", query.NameContains is null ? null : Sql.LikeContains(query.NameContains)),
            ("$pub", query.IsPublic == true ? 1 : 0),
            ("$owner", query.Owner),
            ("$uid", query.VisibleToUserId),
            ("$since", query.Groups?.ReadSince.ToUnixTimeMilliseconds() ?? 0),
        ];
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        long total = await connection.ScalarAsync<long>($"SELECT COUNT(*) FROM projects {where};", cancellationToken, parameters).ConfigureAwait(false);
        var projects = await connection.QueryAsync(
            $"SELECT {Columns} FROM projects {where} ORDER BY name LIMIT $n OFFSET $o;", Read, cancellationToken,
            [.. parameters, ("$n", pageSize), ("$o", (long)(page - 1) * pageSize)]).ConfigureAwait(false);
        return (projects, total);
    }

    public Task<bool> SetPublicAsync(long id, bool isPublic, CancellationToken cancellationToken) =>
        UpdateAsync(id, "public = $v", isPublic ? 1 : 0, cancellationToken);

    public Task<bool> SetStorageLimitAsync(long id, long? storageLimit, CancellationToken cancellationToken) =>
        UpdateAsync(id, "storage_limit = $v", storageLimit, cancellationToken);

    public async Task<bool> DeleteAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync("DELETE FROM projects WHERE id = $id;", cancellationToken, ("$id", id)).ConfigureAwait(false) == 1;
    }

    private async Task<bool> UpdateAsync(long id, string set, object? value, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            $"UPDATE projects SET {set}, update_time = $t WHERE id = $id;", cancellationToken,
            ("$v", value), ("$t", time.GetUtcNow().ToUnixTimeMilliseconds()), ("$id", id)).ConfigureAwait(false) == 1;
    }

    private async Task<Project?> FindAsync(string where, object key, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var projects = await connection.QueryAsync($"SELECT {Columns} FROM projects WHERE {where};", Read, cancellationToken, ("$k", key)).ConfigureAwait(false);
        return projects.Count == 0 ? null : projects[0];
    }

    private static Project Read(DbDataReader r) =>
        new(r.GetInt64(0), r.GetString(1), r.GetInt64(2) != 0, r.NullableInt64(3), r.NullableInt64(4), r.Time(5), r.Time(6));
}
