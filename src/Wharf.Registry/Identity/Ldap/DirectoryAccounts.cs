using System.Data.Common;
using Wharf.Registry.Data;

namespace Wharf.Registry.Identity.Ldap;

/// <summary>
/// What wharf remembers of a directory account: its DN, its groups, whether they made the person a system
/// admin (<c>ldap_group_admin_dn</c>), and when they were read.
/// </summary>
public sealed record DirectoryAccount(long UserId, string Dn, IReadOnlyList<DirectoryGroup> Groups, DateTimeOffset GroupsReadAt, bool GroupAdmin);

/// <summary>
/// The <c>directory_users</c> table (which local accounts come from the directory, and when their groups
/// were last read) and <c>directory_user_groups</c> (one row per account and group: DN and cn), which keep
/// serving while the directory is away and which the project listing joins, so a project reached only
/// through a group is listed like one with a direct membership.
/// </summary>
public sealed class DirectoryAccounts(RegistryDatabase database)
{
    public async Task<DirectoryAccount?> FindAsync(long userId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync(
            "SELECT user_id, dn, groups_read_at, group_admin FROM directory_users WHERE user_id = $u;",
            r => (Dn: r.GetString(1), ReadAt: r.Time(2), Admin: r.GetInt64(3) != 0), cancellationToken, ("$u", userId)).ConfigureAwait(false);
        if (rows.Count == 0)
        {
            return null;
        }

        var groups = await connection.QueryAsync(
            "SELECT group_dn, group_name FROM directory_user_groups WHERE user_id = $u ORDER BY group_dn;",
            r => new DirectoryGroup(r.GetString(0), r.GetString(1)), cancellationToken, ("$u", userId)).ConfigureAwait(false);
        return new DirectoryAccount(userId, rows[0].Dn, groups, rows[0].ReadAt, rows[0].Admin);
    }

    /// <summary>
    /// Replaces the account's groups with those just read, and whether they make the person a system admin,
    /// in one transaction.
    /// </summary>
    public async Task SaveAsync(long userId, string dn, IReadOnlyList<DirectoryGroup> groups, bool groupAdmin, DateTimeOffset readAt, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (DbTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "INSERT INTO directory_users (user_id, dn, groups, groups_read_at, group_admin) VALUES ($u, $d, '', $t, $a) "
            + "ON CONFLICT(user_id) DO UPDATE SET dn = excluded.dn, groups = '', groups_read_at = excluded.groups_read_at, group_admin = excluded.group_admin;",
            cancellationToken, ("$u", userId), ("$d", dn), ("$t", readAt.ToUnixTimeMilliseconds()), ("$a", groupAdmin ? 1 : 0)).ConfigureAwait(false);
        await ReplaceGroupsAsync(connection, userId, groups, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Databases of the first directory-login version kept the groups as text in <c>directory_users.groups</c>
    /// (a DN and a name per line, tab between): they move into <c>directory_user_groups</c> once.
    /// </summary>
    internal static async Task MigrateGroupsColumnAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var pending = await connection.QueryAsync(
            "SELECT user_id, groups FROM directory_users WHERE groups <> '';", r => (UserId: r.GetInt64(0), Text: r.GetString(1)), cancellationToken).ConfigureAwait(false);
        if (pending.Count == 0)
        {
            return;
        }

        // Runs inside the migration's transaction (Data/Migrations.cs).
        foreach (var (userId, text) in pending)
        {
            await ReplaceGroupsAsync(connection, userId, ParseLegacy(text), cancellationToken).ConfigureAwait(false);
            await connection.ExecuteAsync("UPDATE directory_users SET groups = '' WHERE user_id = $u;", cancellationToken, ("$u", userId)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Earlier versions made members of <c>ldap_group_admin_dn</c> system admins by setting <c>users.sysadmin</c>,
    /// for good. A directory account with that flag whose stored groups include the admin group set through
    /// <c>PUT /configurations</c> loses the local flag and is marked <c>group_admin</c> instead, so it stays
    /// admin exactly while the directory says so. (An admin group given only in wharfd's configuration file
    /// is not visible here; such grants stay local flags, which an admin clears with <c>PUT /users/{id}/sysadmin</c>.)
    /// </summary>
    internal static async Task SeparateGroupAdminsAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        string? adminDn = await connection.ScalarAsync<string>("SELECT value FROM configurations WHERE key = 'ldap_group_admin_dn';", cancellationToken).ConfigureAwait(false);
        if (string.IsNullOrEmpty(adminDn))
        {
            return;
        }

        // Runs inside the migration's transaction (Data/Migrations.cs).
        var admins = await connection.QueryAsync(
            "SELECT d.user_id FROM directory_users d JOIN users u ON u.id = d.user_id WHERE u.sysadmin = 1;", r => r.GetInt64(0), cancellationToken).ConfigureAwait(false);
        foreach (long userId in admins)
        {
            var dns = await connection.QueryAsync("SELECT group_dn FROM directory_user_groups WHERE user_id = $u;", r => r.GetString(0), cancellationToken, ("$u", userId)).ConfigureAwait(false);
            if (dns.Any(dn => DirectoryGroupRoles.SameDn(dn, adminDn)))
            {
                await connection.ExecuteAsync("UPDATE users SET sysadmin = 0 WHERE id = $u;", cancellationToken, ("$u", userId)).ConfigureAwait(false);
                await connection.ExecuteAsync("UPDATE directory_users SET group_admin = 1 WHERE user_id = $u;", cancellationToken, ("$u", userId)).ConfigureAwait(false);
            }
        }
    }

    private static async Task ReplaceGroupsAsync(DbConnection connection, long userId, IReadOnlyList<DirectoryGroup> groups, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync("DELETE FROM directory_user_groups WHERE user_id = $u;", cancellationToken, ("$u", userId)).ConfigureAwait(false);
        foreach (var group in groups)
        {
            // DNs are kept as the groups API keeps them (no spaces around separators), so the listing can join on them.
            await connection.ExecuteAsync(
                "INSERT OR IGNORE INTO directory_user_groups (user_id, group_dn, group_name) VALUES ($u, $d, $n);",
                cancellationToken, ("$u", userId), ("$d", DirectoryGroupRoles.NormalizeDn(group.Dn)), ("$n", group.Name)).ConfigureAwait(false);
        }
    }

    private static List<DirectoryGroup> ParseLegacy(string text) =>
        [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split('\t', 2)).Select(p => new DirectoryGroup(p[0], p.Length > 1 ? p[1] : p[0]))];
}
