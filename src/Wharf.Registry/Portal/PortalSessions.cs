using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Wharf.Registry.Identity;

namespace Wharf.Registry.Portal;

/// <summary>
/// The portal's signed-in browsers. A session is a random id in an HttpOnly cookie that names an account
/// and the account's token generation at sign-in (the counter <see cref="Auth.RefreshTokens"/> checks too):
/// a password change, disabling the account or an admin's revocation bump the generation, which ends every
/// session of the account at once; signing out forgets the id here, so a copied cookie is dead as well.
/// Sessions live in memory: a restart of wharfd signs everybody out, which is the safe direction.
/// </summary>
public sealed class PortalSessions(IUserStore users, TimeProvider time)
{
    public const string CookieName = "wharf_session";

    /// <summary>How long a session lasts without being used.</summary>
    public static readonly TimeSpan IdleLifetime = TimeSpan.FromHours(8);

    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);

    private sealed record Session(long UserId, long Generation, DateTimeOffset Until);

    public async Task SignInAsync(HttpContext context, User user, CancellationToken cancellationToken)
    {
        long generation = await users.GetTokenGenerationAsync(user.Id, cancellationToken).ConfigureAwait(false) ?? 0;
        string id = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var now = time.GetUtcNow();
        if (_sessions.Count > 10_000)
        {
            foreach (var stale in _sessions.Where(s => s.Value.Until <= now).Select(s => s.Key).ToList())
            {
                _sessions.TryRemove(stale, out _);
            }
        }

        _sessions[id] = new Session(user.Id, generation, now + IdleLifetime);
        context.Response.Cookies.Append(CookieName, id, CookieOptions(context));
    }

    public void SignOut(HttpContext context)
    {
        if (context.Request.Cookies[CookieName] is { } id)
        {
            _sessions.TryRemove(id, out _);
        }

        context.Response.Cookies.Delete(CookieName, CookieOptions(context));
    }

    /// <summary>The signed-in user, as the account is now; anonymous when there is no live session.</summary>
    public async Task<Caller> CallerAsync(HttpContext context, CancellationToken cancellationToken)
    {
        if (context.Request.Cookies[CookieName] is not { Length: > 0 } id || !_sessions.TryGetValue(id, out var session))
        {
            return Caller.Anonymous;
        }

        var now = time.GetUtcNow();
        var user = session.Until > now ? await users.FindByIdAsync(session.UserId, cancellationToken).ConfigureAwait(false) : null;
        long? generation = user is null ? null : await users.GetTokenGenerationAsync(user.Id, cancellationToken).ConfigureAwait(false);
        if (user is null || user.Disabled || generation != session.Generation)
        {
            _sessions.TryRemove(id, out _);
            return Caller.Anonymous;
        }

        _sessions[id] = session with { Until = now + IdleLifetime };
        return Caller.ForUser(user);
    }

    private static CookieOptions CookieOptions(HttpContext context) => new()
    {
        HttpOnly = true,
        Secure = context.Request.IsHttps,
        SameSite = SameSiteMode.Strict,
        Path = "/",
        IsEssential = true,
    };
}
