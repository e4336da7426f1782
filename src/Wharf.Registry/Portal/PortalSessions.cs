using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Wharf.Registry.Identity;
using Wharf.Registry.Data;

namespace Wharf.Registry.Portal;

/// <summary>
/// The portal's signed-in browsers. A session is a random id in an HttpOnly cookie; the database keeps
/// only its SHA-256 (<c>portal_sessions</c>: a copy of the database is no key to anyone's session) with
/// the account and the account's token generation at sign-in (the counter <see cref="Auth.RefreshTokens"/>
/// checks too). A password change, disabling the account or an admin's revocation bump the generation,
/// which ends every session of the account at once; deleting the account deletes its sessions; signing
/// out deletes the row, so a copied cookie is dead as well. Sessions outlive a restart of wharfd, since
/// none of these ever depended on the process.
/// </summary>
public sealed class PortalSessions(RegistryDatabase database, IUserStore users, TimeProvider time, Identity.Ldap.DirectoryGroupRoles? directory = null)
{
    public const string CookieName = "wharf_session";

    /// <summary>How long a session lasts without being used.</summary>
    public static readonly TimeSpan IdleLifetime = TimeSpan.FromHours(8);

    /// <summary>A session's expiry is pushed forward at most this often, not on every page.</summary>
    private static readonly TimeSpan ExtendEvery = TimeSpan.FromMinutes(5);

    public async Task SignInAsync(HttpContext context, User user, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        long generation = await users.GetTokenGenerationAsync(user.Id, cancellationToken).ConfigureAwait(false) ?? 0;
        string id = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync("DELETE FROM portal_sessions WHERE expires_at <= $now;", cancellationToken, ("$now", now)).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "INSERT INTO portal_sessions (id_hash, user_id, generation, expires_at) VALUES ($h, $u, $g, $e);", cancellationToken,
            ("$h", Hash(id)), ("$u", user.Id), ("$g", generation), ("$e", now + (long)IdleLifetime.TotalMilliseconds)).ConfigureAwait(false);
        context.Response.Cookies.Append(CookieName, id, CookieOptions(context));
    }

    public async Task SignOutAsync(HttpContext context, CancellationToken cancellationToken)
    {
        if (context.Request.Cookies[CookieName] is { Length: > 0 } id)
        {
            await ForgetAsync(id, cancellationToken).ConfigureAwait(false);
        }

        context.Response.Cookies.Delete(CookieName, CookieOptions(context));
    }

    /// <summary>The signed-in user, as the account is now; anonymous when there is no live session.</summary>
    public async Task<Caller> CallerAsync(HttpContext context, CancellationToken cancellationToken)
    {
        if (context.Request.Cookies[CookieName] is not { Length: > 0 } id)
        {
            return Caller.Anonymous;
        }

        string hash = Hash(id);
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        (long UserId, long Generation, long ExpiresAt) session;
        await using (var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false))
        {
            var rows = await connection.QueryAsync(
                "SELECT user_id, generation, expires_at FROM portal_sessions WHERE id_hash = $h;",
                r => (r.GetInt64(0), r.GetInt64(1), r.GetInt64(2)), cancellationToken, ("$h", hash)).ConfigureAwait(false);
            if (rows.Count == 0)
            {
                return Caller.Anonymous;
            }

            session = rows[0];
        }

        var user = session.ExpiresAt > now ? await users.FindByIdAsync(session.UserId, cancellationToken).ConfigureAwait(false) : null;
        long? generation = user is null ? null : await users.GetTokenGenerationAsync(user.Id, cancellationToken).ConfigureAwait(false);
        if (user is null || user.Disabled || generation != session.Generation)
        {
            await ForgetAsync(id, cancellationToken).ConfigureAwait(false);
            return Caller.Anonymous;
        }

        long until = now + (long)IdleLifetime.TotalMilliseconds;
        if (until - session.ExpiresAt >= (long)ExtendEvery.TotalMilliseconds)
        {
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            await connection.ExecuteAsync("UPDATE portal_sessions SET expires_at = $e WHERE id_hash = $h;", cancellationToken, ("$e", until), ("$h", hash)).ConfigureAwait(false);
        }

        // A person who is admin through the directory's admin group is so while the group says so.
        return directory is null ? Caller.ForUser(user) : await directory.WithDirectoryAdminAsync(Caller.ForUser(user), cancellationToken).ConfigureAwait(false);
    }

    private async Task ForgetAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync("DELETE FROM portal_sessions WHERE id_hash = $h;", cancellationToken, ("$h", Hash(id))).ConfigureAwait(false);
    }

    private static string Hash(string id) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(id)));

    private static CookieOptions CookieOptions(HttpContext context) => new()
    {
        HttpOnly = true,
        Secure = context.Request.IsHttps,
        SameSite = SameSiteMode.Strict,
        Path = "/",
        IsEssential = true,
    };
}
