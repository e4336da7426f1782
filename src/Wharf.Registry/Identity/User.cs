using Wharf.Registry.Data;

namespace Wharf.Registry.Identity;

/// <summary>A local account (Harbor's "db_auth" user).</summary>
/// <remarks>
/// <see cref="SysAdmin"/> is the stored flag (set by an admin, or the bootstrap <c>admin</c>);
/// <see cref="AdminRoleInAuth"/> is Harbor's "admin role in auth": system admin because the directory
/// says so (a member of <c>ldap_group_admin_dn</c> when the person's groups were last read). It is never
/// stored in <c>users.sysadmin</c>, so leaving the group takes it away at the next read.
/// </remarks>
public sealed record User(
    long Id,
    string Username,
    string? Email,
    string? RealName,
    string? Comment,
    bool SysAdmin,
    bool Disabled,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public bool AdminRoleInAuth { get; init; }
}

public sealed record NewUser(string Username, string? Email, string? RealName, string? Comment, bool SysAdmin);

/// <summary>Accounts as stored; a PostgreSQL store implements the same.</summary>
public interface IUserStore
{
    /// <summary>Null when the username is taken, in any case (<c>Admin</c> next to <c>admin</c>).</summary>
    Task<User?> CreateAsync(NewUser user, string? passwordHash, CancellationToken cancellationToken);

    Task<User?> FindByNameAsync(string username, CancellationToken cancellationToken);

    Task<User?> FindByIdAsync(long id, CancellationToken cancellationToken);

    Task<string?> GetPasswordHashAsync(long id, CancellationToken cancellationToken);

    /// <summary>One page of users whose name contains <paramref name="usernameContains"/>, ordered by id, and the total count.</summary>
    Task<(IReadOnlyList<User> Users, long Total)> ListAsync(string? usernameContains, int page, int pageSize, CancellationToken cancellationToken);

    /// <summary>Sets the password and revokes the account's refresh tokens.</summary>
    Task<bool> SetPasswordHashAsync(long id, string passwordHash, CancellationToken cancellationToken);

    /// <summary>The account's token generation: refresh tokens carry the one they were issued in. Null when there is no such account.</summary>
    Task<long?> GetTokenGenerationAsync(long id, CancellationToken cancellationToken);

    /// <summary>Revokes every refresh token of the account (bumps its token generation).</summary>
    Task<bool> RevokeTokensAsync(long id, CancellationToken cancellationToken);

    Task<bool> UpdateProfileAsync(long id, string? email, string? realName, string? comment, CancellationToken cancellationToken);

    Task<bool> SetSysAdminAsync(long id, bool sysAdmin, CancellationToken cancellationToken);

    /// <summary>Disabling also revokes the account's refresh tokens: enabling it again does not bring them back.</summary>
    Task<bool> SetDisabledAsync(long id, bool disabled, CancellationToken cancellationToken);

    Task<bool> DeleteAsync(long id, CancellationToken cancellationToken);
}

public sealed class SqliteUserStore(RegistryDatabase database, TimeProvider time) : IUserStore
{
    private const string Columns = "id, username, email, realname, comment, sysadmin, disabled, creation_time, update_time";

    public async Task<User?> CreateAsync(NewUser user, string? passwordHash, CancellationToken cancellationToken)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // One statement, so no other insert comes between the check and the row. The check is also
            // what refuses a new case variant in an older database whose case-blind index could not be built.
            long id = await connection.ScalarAsync<long>(
                "INSERT INTO users (username, email, realname, comment, password_hash, sysadmin, creation_time, update_time) "
                + "SELECT $u, $e, $r, $c, $h, $s, $t, $t WHERE NOT EXISTS (SELECT 1 FROM users WHERE username = $u COLLATE NOCASE) RETURNING id;",
                cancellationToken,
                ("$u", user.Username), ("$e", user.Email), ("$r", user.RealName), ("$c", user.Comment), ("$h", passwordHash), ("$s", user.SysAdmin ? 1 : 0), ("$t", now)).ConfigureAwait(false);
            if (id == 0)
            {
                return null;
            }

            var at = DateTimeOffset.FromUnixTimeMilliseconds(now);
            return new User(id, user.Username, user.Email, user.RealName, user.Comment, user.SysAdmin, false, at, at);
        }
        catch (System.Data.Common.DbException e) when (Data.Sql.IsConstraintViolation(e))
        {
            return null;
        }
    }

    public Task<User?> FindByNameAsync(string username, CancellationToken cancellationToken) =>
        FindAsync("username = $k", username, cancellationToken);

    public Task<User?> FindByIdAsync(long id, CancellationToken cancellationToken) =>
        FindAsync("id = $k", id, cancellationToken);

    public async Task<string?> GetPasswordHashAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ScalarAsync<string>("SELECT password_hash FROM users WHERE id = $id;", cancellationToken, ("$id", id)).ConfigureAwait(false);
    }

    public async Task<(IReadOnlyList<User> Users, long Total)> ListAsync(string? usernameContains, int page, int pageSize, CancellationToken cancellationToken)
    {
        string where = string.IsNullOrEmpty(usernameContains) ? "" : "WHERE username LIKE $q ESCAPE '\\'";
        (string, object?) q = ("$q", usernameContains is null ? null : Sql.LikeContains(usernameContains));
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        long total = await connection.ScalarAsync<long>($"SELECT COUNT(*) FROM users {where};", cancellationToken, q).ConfigureAwait(false);
        var users = await connection.QueryAsync(
            $"SELECT {Columns} FROM users {where} ORDER BY id LIMIT $n OFFSET $o;", Read, cancellationToken,
            q, ("$n", pageSize), ("$o", (long)(page - 1) * pageSize)).ConfigureAwait(false);
        return (users, total);
    }

    public Task<bool> SetPasswordHashAsync(long id, string passwordHash, CancellationToken cancellationToken) =>
        UpdateAsync(id, "password_hash = $v, token_generation = token_generation + 1", passwordHash, cancellationToken);

    public async Task<long?> GetTokenGenerationAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ScalarAsync<long?>("SELECT token_generation FROM users WHERE id = $id;", cancellationToken, ("$id", id)).ConfigureAwait(false);
    }

    public Task<bool> RevokeTokensAsync(long id, CancellationToken cancellationToken) =>
        UpdateAsync(id, "token_generation = token_generation + $v", 1, cancellationToken);

    public async Task<bool> UpdateProfileAsync(long id, string? email, string? realName, string? comment, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            "UPDATE users SET email = $e, realname = $r, comment = $c, update_time = $t WHERE id = $id;", cancellationToken,
            ("$e", email), ("$r", realName), ("$c", comment), ("$t", time.GetUtcNow().ToUnixTimeMilliseconds()), ("$id", id)).ConfigureAwait(false) == 1;
    }

    public Task<bool> SetSysAdminAsync(long id, bool sysAdmin, CancellationToken cancellationToken) =>
        UpdateAsync(id, "sysadmin = $v", sysAdmin ? 1 : 0, cancellationToken);

    public Task<bool> SetDisabledAsync(long id, bool disabled, CancellationToken cancellationToken) =>
        UpdateAsync(id, "token_generation = token_generation + $v, disabled = $v", disabled ? 1 : 0, cancellationToken);

    public async Task<bool> DeleteAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync("DELETE FROM users WHERE id = $id;", cancellationToken, ("$id", id)).ConfigureAwait(false) == 1;
    }

    private async Task<bool> UpdateAsync(long id, string set, object value, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            $"UPDATE users SET {set}, update_time = $t WHERE id = $id;", cancellationToken,
            ("$v", value), ("$t", time.GetUtcNow().ToUnixTimeMilliseconds()), ("$id", id)).ConfigureAwait(false) == 1;
    }

    private async Task<User?> FindAsync(string where, object key, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var users = await connection.QueryAsync($"SELECT {Columns} FROM users WHERE {where};", Read, cancellationToken, ("$k", key)).ConfigureAwait(false);
        return users.Count == 0 ? null : users[0];
    }

    private static User Read(System.Data.Common.DbDataReader r) =>
        new(r.GetInt64(0), r.GetString(1), r.NullableString(2), r.NullableString(3), r.NullableString(4), r.GetInt64(5) != 0, r.GetInt64(6) != 0, r.Time(7), r.Time(8));
}
