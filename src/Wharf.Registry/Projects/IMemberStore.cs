using System.Data.Common;
using Wharf.Registry.Identity;
using Wharf.Registry.Data;

namespace Wharf.Registry.Projects;

/// <summary>A user's membership of a project (Harbor's member with entity_type "u").</summary>
public sealed record Member(long Id, long ProjectId, long UserId, string Username, ProjectRole Role);

public interface IMemberStore
{
    /// <summary>Null when the user is already a member.</summary>
    Task<Member?> AddAsync(long projectId, long userId, ProjectRole role, CancellationToken cancellationToken);

    Task<Member?> GetAsync(long projectId, long memberId, CancellationToken cancellationToken);

    Task<IReadOnlyList<Member>> ListAsync(long projectId, string? usernameContains, CancellationToken cancellationToken);

    Task<bool> SetRoleAsync(long projectId, long memberId, ProjectRole role, CancellationToken cancellationToken);

    Task<bool> RemoveAsync(long projectId, long memberId, CancellationToken cancellationToken);

    Task<ProjectRole?> GetRoleAsync(long projectId, long userId, CancellationToken cancellationToken);
}

public sealed class SqliteMemberStore(RegistryDatabase database, TimeProvider time) : IMemberStore
{
    private const string Select = "SELECT m.id, m.project_id, m.user_id, u.username, m.role FROM project_members m JOIN users u ON u.id = m.user_id";

    public async Task<Member?> AddAsync(long projectId, long userId, ProjectRole role, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long id = await connection.ScalarAsync<long>(
                "INSERT INTO project_members (project_id, user_id, role, creation_time, update_time) VALUES ($p, $u, $r, $t, $t) RETURNING id;",
                cancellationToken, ("$p", projectId), ("$u", userId), ("$r", (int)role), ("$t", time.GetUtcNow().ToUnixTimeMilliseconds())).ConfigureAwait(false);
            return await GetAsync(projectId, id, cancellationToken).ConfigureAwait(false);
        }
        catch (System.Data.Common.DbException e) when (Data.Sql.IsConstraintViolation(e))
        {
            return null;
        }
    }

    public async Task<Member?> GetAsync(long projectId, long memberId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var members = await connection.QueryAsync($"{Select} WHERE m.project_id = $p AND m.id = $id;", Read, cancellationToken, ("$p", projectId), ("$id", memberId)).ConfigureAwait(false);
        return members.Count == 0 ? null : members[0];
    }

    public async Task<IReadOnlyList<Member>> ListAsync(long projectId, string? usernameContains, CancellationToken cancellationToken)
    {
        string filter = string.IsNullOrEmpty(usernameContains) ? "" : " AND u.username LIKE $q ESCAPE '\\'";
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.QueryAsync(
            $"{Select} WHERE m.project_id = $p{filter} ORDER BY m.id;", Read, cancellationToken,
            ("$p", projectId), ("$q", usernameContains is null ? null : Sql.LikeContains(usernameContains))).ConfigureAwait(false);
    }

    public async Task<bool> SetRoleAsync(long projectId, long memberId, ProjectRole role, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            "UPDATE project_members SET role = $r, update_time = $t WHERE project_id = $p AND id = $id;", cancellationToken,
            ("$r", (int)role), ("$t", time.GetUtcNow().ToUnixTimeMilliseconds()), ("$p", projectId), ("$id", memberId)).ConfigureAwait(false) == 1;
    }

    public async Task<bool> RemoveAsync(long projectId, long memberId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            "DELETE FROM project_members WHERE project_id = $p AND id = $id;", cancellationToken, ("$p", projectId), ("$id", memberId)).ConfigureAwait(false) == 1;
    }

    public async Task<ProjectRole?> GetRoleAsync(long projectId, long userId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        long? role = await connection.ScalarAsync<long?>(
            "SELECT role FROM project_members WHERE project_id = $p AND user_id = $u;", cancellationToken, ("$p", projectId), ("$u", userId)).ConfigureAwait(false);
        return role is null ? null : (ProjectRole)role.Value;
    }

    private static Member Read(DbDataReader r) => new(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetString(3), (ProjectRole)r.GetInt64(4));
}
