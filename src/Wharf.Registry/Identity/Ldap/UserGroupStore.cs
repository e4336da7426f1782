using System.Data.Common;
using Wharf.Registry.Projects;
using Wharf.Registry.Data;

namespace Wharf.Registry.Identity.Ldap;

/// <summary>Harbor's user group: an LDAP group (group_type 1) known by its DN.</summary>
public sealed record UserGroup(long Id, string GroupName, int GroupType, string LdapGroupDn);

/// <summary>A group's membership of a project (Harbor's member with entity_type "g").</summary>
public sealed record GroupMember(long Id, long ProjectId, UserGroup Group, ProjectRole Role);

/// <summary>
/// The <c>user_groups</c> and <c>project_member_groups</c> tables. A group member's id as the API shows it
/// is <see cref="MemberIdBase"/> plus its row id, so user and group members of a project share one id space
/// (<c>/projects/{p}/members/{mid}</c>) without two tables handing out the same number.
/// </summary>
public sealed class UserGroupStore(RegistryDatabase database, TimeProvider time)
{
    public const int LdapGroupType = 1;
    public const long MemberIdBase = 1_000_000_000_000;

    private const string SelectGroup = "SELECT id, group_name, group_type, ldap_group_dn FROM user_groups";
    private const string SelectMember =
        "SELECT m.id, m.project_id, g.id, g.group_name, g.group_type, g.ldap_group_dn, m.role FROM project_member_groups m JOIN user_groups g ON g.id = m.group_id";

    /// <summary>Null when a group with this DN exists.</summary>
    public async Task<UserGroup?> CreateAsync(string name, string dn, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long id = await connection.ScalarAsync<long>(
                "INSERT INTO user_groups (group_name, group_type, ldap_group_dn, creation_time, update_time) VALUES ($n, $k, $d, $t, $t) RETURNING id;",
                cancellationToken, ("$n", name), ("$k", LdapGroupType), ("$d", dn), ("$t", time.GetUtcNow().ToUnixTimeMilliseconds())).ConfigureAwait(false);
            return new UserGroup(id, name, LdapGroupType, dn);
        }
        catch (System.Data.Common.DbException e) when (Data.Sql.IsConstraintViolation(e))
        {
            return null;
        }
    }

    public async Task<UserGroup?> GetAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync($"{SelectGroup} WHERE id = $id;", ReadGroup, cancellationToken, ("$id", id)).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<UserGroup?> FindByDnAsync(string dn, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync($"{SelectGroup} WHERE ldap_group_dn = $d COLLATE NOCASE;", ReadGroup, cancellationToken, ("$d", dn)).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<IReadOnlyList<UserGroup>> ListAsync(string? nameContains, CancellationToken cancellationToken)
    {
        string filter = string.IsNullOrEmpty(nameContains) ? "" : " WHERE group_name LIKE $q ESCAPE '\\'";
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.QueryAsync($"{SelectGroup}{filter} ORDER BY id;", ReadGroup, cancellationToken,
            ("$q", nameContains is null ? null : Sql.LikeContains(nameContains))).ConfigureAwait(false);
    }

    public async Task<bool> RenameAsync(long id, string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync("UPDATE user_groups SET group_name = $n, update_time = $t WHERE id = $id;", cancellationToken,
            ("$n", name), ("$t", time.GetUtcNow().ToUnixTimeMilliseconds()), ("$id", id)).ConfigureAwait(false) == 1;
    }

    /// <summary>Deleting a group also ends its project memberships.</summary>
    public async Task<bool> DeleteAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync("DELETE FROM user_groups WHERE id = $id;", cancellationToken, ("$id", id)).ConfigureAwait(false) == 1;
    }

    /// <summary>Null when the group is already a member.</summary>
    public async Task<GroupMember?> AddMemberAsync(long projectId, long groupId, ProjectRole role, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long id = await connection.ScalarAsync<long>(
                "INSERT INTO project_member_groups (project_id, group_id, role, creation_time, update_time) VALUES ($p, $g, $r, $t, $t) RETURNING id;",
                cancellationToken, ("$p", projectId), ("$g", groupId), ("$r", (int)role), ("$t", time.GetUtcNow().ToUnixTimeMilliseconds())).ConfigureAwait(false);
            return await GetMemberAsync(projectId, MemberIdBase + id, cancellationToken).ConfigureAwait(false);
        }
        catch (System.Data.Common.DbException e) when (Data.Sql.IsConstraintViolation(e))
        {
            return null;
        }
    }

    public async Task<GroupMember?> GetMemberAsync(long projectId, long memberId, CancellationToken cancellationToken)
    {
        if (memberId <= MemberIdBase)
        {
            return null;
        }

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync($"{SelectMember} WHERE m.project_id = $p AND m.id = $id;", ReadMember, cancellationToken,
            ("$p", projectId), ("$id", memberId - MemberIdBase)).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<IReadOnlyList<GroupMember>> ListMembersAsync(long projectId, string? nameContains, CancellationToken cancellationToken)
    {
        string filter = string.IsNullOrEmpty(nameContains) ? "" : " AND g.group_name LIKE $q ESCAPE '\\'";
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.QueryAsync($"{SelectMember} WHERE m.project_id = $p{filter} ORDER BY m.id;", ReadMember, cancellationToken,
            ("$p", projectId), ("$q", nameContains is null ? null : Sql.LikeContains(nameContains))).ConfigureAwait(false);
    }

    public async Task<bool> SetRoleAsync(long projectId, long memberId, ProjectRole role, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync("UPDATE project_member_groups SET role = $r, update_time = $t WHERE project_id = $p AND id = $id;", cancellationToken,
            ("$r", (int)role), ("$t", time.GetUtcNow().ToUnixTimeMilliseconds()), ("$p", projectId), ("$id", memberId - MemberIdBase)).ConfigureAwait(false) == 1;
    }

    public async Task<bool> RemoveMemberAsync(long projectId, long memberId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync("DELETE FROM project_member_groups WHERE project_id = $p AND id = $id;", cancellationToken,
            ("$p", projectId), ("$id", memberId - MemberIdBase)).ConfigureAwait(false) == 1;
    }

    private static UserGroup ReadGroup(DbDataReader r) => new(r.GetInt64(0), r.GetString(1), r.GetInt32(2), r.GetString(3));

    private static GroupMember ReadMember(DbDataReader r) =>
        new(MemberIdBase + r.GetInt64(0), r.GetInt64(1), new UserGroup(r.GetInt64(2), r.GetString(3), r.GetInt32(4), r.GetString(5)), (ProjectRole)r.GetInt32(6));
}
