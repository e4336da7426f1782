using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Identity;

/// <summary>
/// Turns a username and password (or robot name and secret) into a <see cref="Caller"/>. Successful
/// checks are remembered briefly, keyed by a hash of the pair, so Basic auth on every /v2 request
/// does not run bcrypt each time; any account change clears the memory. Every check goes through the
/// <see cref="LoginThrottle"/> first (per account and per source address), which throws
/// <see cref="LoginThrottledException"/>; a remembered success is no way around it. The memory's keys are
/// HMACs under a key made at random per process, so they say nothing to anyone without that key.
/// </summary>
public sealed class CredentialVerifier(
    IIdentitySource identities, IUserStore users, IRobotStore robots, IdentityOptions options, TimeProvider time, PasswordHasher hasher, LoginThrottle throttle,
    Microsoft.AspNetCore.Http.IHttpContextAccessor? httpContext = null, Audit.IAuditLog? audit = null, Ldap.DirectoryGroupRoles? directory = null)
{
    private readonly ConcurrentDictionary<string, (Caller Caller, DateTimeOffset Until)> _verified = new(StringComparer.Ordinal);
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);

    public async Task<Caller?> VerifyAsync(string username, string password, CancellationToken cancellationToken)
    {
        // The source is the connection's peer: wharfd does not trust X-Forwarded-For unless the host adds
        // the forwarded-headers middleware, which rewrites RemoteIpAddress itself.
        string? source = httpContext?.HttpContext?.Connection.RemoteIpAddress?.ToString();
        throttle.ThrowIfLocked(username, source);

        var now = time.GetUtcNow();
        string key = Convert.ToHexString(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(username + "\0" + password)));
        if (_verified.TryGetValue(key, out var hit) && hit.Until > now && hit.Caller.Robot?.IsExpired(now) != true)
        {
            return hit.Caller;
        }

        Caller? caller = null;
        if (username.Contains('\0', StringComparison.Ordinal))
        {
            // No account name holds a NUL (user and robot names refuse control characters), and
            // PostgreSQL's text cannot even be asked about one: unknown, at the cost of one hash
            // check like any unknown name, without a lookup.
            _ = hasher.VerifySecret(password, null, out _);
        }
        else if (username.StartsWith(options.RobotPrefix, StringComparison.Ordinal))
        {
            caller = await VerifyRobotAsync(username, password, now, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            User? user;
            try
            {
                user = await identities.AuthenticateAsync(username, password, cancellationToken).ConfigureAwait(false);
            }
            catch (Ldap.DirectoryUnavailableException e) when (e.FailedGuess)
            {
                // The directory is down and this is not the password it accepted before: still refused as an
                // outage, but counted, or the outage would be a window for unthrottled guessing.
                Failed(username, source);
                throw;
            }

            if (user is not null)
            {
                caller = Caller.ForUser(user);
            }
        }

        if (caller is null)
        {
            Failed(username, source);
        }
        else
        {
            throttle.Succeeded(username);
            if (_verified.Count > 10_000)
            {
                _verified.Clear();
            }

            _verified[key] = (caller, now + options.CredentialCacheLifetime);
        }

        return caller;
    }

    private void Failed(string username, string? source)
    {
        throttle.Failed(username, source);

        // Failed logins are audited by name only; the password never leaves this class.
        string name = username.Length > 255 ? username[..255] : username;
        string kind = username.StartsWith(options.RobotPrefix, StringComparison.Ordinal) ? "robot" : "user";
        audit?.Record(name, "login", kind, name, null, success: false);
    }

    private async Task<Caller?> VerifyRobotAsync(string name, string secret, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var robot = await robots.FindByNameAsync(name, cancellationToken).ConfigureAwait(false);
        bool usable = robot is not null && !robot.Disabled && !robot.IsExpired(now);
        string? hash = usable ? await robots.GetSecretHashAsync(robot!.Id, cancellationToken).ConfigureAwait(false) : null;

        // An unknown, disabled or expired robot still costs one bcrypt check, like a wrong secret.
        if (!hasher.VerifySecret(secret, hash, out bool legacy) || !usable)
        {
            return null;
        }

        if (legacy)
        {
            // A SHA-256 hash from an earlier version: now that the secret is known, keep it as bcrypt.
            await robots.UpgradeSecretHashAsync(robot!.Id, hash!, hasher.HashSecret(secret), cancellationToken).ConfigureAwait(false);
        }

        return Caller.ForRobot(robot!);
    }

    /// <summary>The account a token was issued to, as it is now: null when it has been deleted, disabled or has expired.</summary>
    public async Task<Caller?> ResolveSubjectAsync(string subject, CancellationToken cancellationToken)
    {
        if (subject.Length == 0)
        {
            return Caller.Anonymous;
        }

        if (subject.StartsWith(options.RobotPrefix, StringComparison.Ordinal))
        {
            var robot = await robots.FindByNameAsync(subject, cancellationToken).ConfigureAwait(false);
            return robot is null || robot.Disabled || robot.IsExpired(time.GetUtcNow()) ? null : Caller.ForRobot(robot);
        }

        var user = await users.FindByNameAsync(subject, cancellationToken).ConfigureAwait(false);
        if (user is null || user.Disabled)
        {
            return null;
        }

        // The directory's admin group counts as it does at a token request (read again when due).
        return directory is null ? Caller.ForUser(user) : await directory.WithDirectoryAdminAsync(Caller.ForUser(user), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Forgets every remembered check; called after any change to users or robots.</summary>
    public void Invalidate() => _verified.Clear();

    /// <summary>Parses <c>Authorization: Basic base64(user:password)</c> (RFC 7617).</summary>
    public static bool TryParseBasic(string? authorization, out string username, out string password)
    {
        username = password = "";
        if (!AuthenticationHeaderValue.TryParse(authorization, out var header)
            || !string.Equals(header.Scheme, "Basic", StringComparison.OrdinalIgnoreCase) || header.Parameter is null)
        {
            return false;
        }

        byte[] decoded;
        try
        {
            decoded = Convert.FromBase64String(header.Parameter);
        }
        catch (FormatException)
        {
            return false;
        }

        string text = Encoding.UTF8.GetString(decoded);
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            return false;
        }

        username = text[..colon];
        password = text[(colon + 1)..];
        return true;
    }
}
