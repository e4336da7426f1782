namespace Wharf.Registry.Identity.Ldap;

/// <summary>What wharf remembers of a directory account: its DN, its groups and when they were read.</summary>
public sealed record DirectoryAccount(long UserId, string Dn, IReadOnlyList<DirectoryGroup> Groups, DateTimeOffset GroupsReadAt);

/// <summary>
/// The <c>directory_users</c> table: which local accounts come from the directory, and the group
/// memberships last read for each (a DN and a name per line), which keep serving while the directory is away.
/// </summary>
public sealed class DirectoryAccounts(IdentityDatabase database)
{
    public async Task<DirectoryAccount?> FindAsync(long userId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync(
            "SELECT user_id, dn, groups, groups_read_at FROM directory_users WHERE user_id = $u;",
            r => new DirectoryAccount(r.GetInt64(0), r.GetString(1), Parse(r.GetString(2)), r.Time(3)), cancellationToken, ("$u", userId)).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task SaveAsync(long userId, string dn, IReadOnlyList<DirectoryGroup> groups, DateTimeOffset readAt, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "INSERT INTO directory_users (user_id, dn, groups, groups_read_at) VALUES ($u, $d, $g, $t) "
            + "ON CONFLICT(user_id) DO UPDATE SET dn = excluded.dn, groups = excluded.groups, groups_read_at = excluded.groups_read_at;",
            cancellationToken, ("$u", userId), ("$d", dn), ("$g", Format(groups)), ("$t", readAt.ToUnixTimeSeconds())).ConfigureAwait(false);
    }

    // A DN and a name never hold a newline or a tab that matters here: LDAP escapes them in DNs (RFC 4514).
    private static string Format(IReadOnlyList<DirectoryGroup> groups) =>
        string.Join('\n', groups.Select(g => Clean(g.Dn) + "\t" + Clean(g.Name)));

    private static string Clean(string value) => value.Replace('\n', ' ').Replace('\t', ' ');

    private static List<DirectoryGroup> Parse(string text) =>
        [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split('\t', 2)).Select(p => new DirectoryGroup(p[0], p.Length > 1 ? p[1] : p[0]))];
}
