using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Identity;

/// <summary>
/// Turns a username and password (or robot name and secret) into a <see cref="Caller"/>. Successful
/// checks are remembered briefly, keyed by a hash of the pair, so Basic auth on every /v2 request
/// does not run bcrypt each time; any account change clears the memory.
/// </summary>
public sealed class CredentialVerifier(
    IIdentitySource identities, IUserStore users, IRobotStore robots, IdentityOptions options, TimeProvider time, Audit.IAuditLog? audit = null)
{
    private readonly ConcurrentDictionary<string, (Caller Caller, DateTimeOffset Until)> _verified = new(StringComparer.Ordinal);

    public async Task<Caller?> VerifyAsync(string username, string password, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        string key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(username + "\0" + password)));
        if (_verified.TryGetValue(key, out var hit) && hit.Until > now && hit.Caller.Robot?.IsExpired(now) != true)
        {
            return hit.Caller;
        }

        Caller? caller = null;
        if (username.StartsWith(options.RobotPrefix, StringComparison.Ordinal))
        {
            var robot = await robots.FindByNameAsync(username, cancellationToken).ConfigureAwait(false);
            if (robot is not null && !robot.Disabled && !robot.IsExpired(now))
            {
                string? hash = await robots.GetSecretHashAsync(robot.Id, cancellationToken).ConfigureAwait(false);
                if (hash is not null && PasswordHasher.VerifySecret(password, hash))
                {
                    caller = Caller.ForRobot(robot);
                }
            }
        }
        else
        {
            var user = await identities.AuthenticateAsync(username, password, cancellationToken).ConfigureAwait(false);
            if (user is not null)
            {
                caller = Caller.ForUser(user);
            }
        }

        if (caller is null)
        {
            // Failed logins are audited by name only; the password never leaves this method.
            string name = username.Length > 255 ? username[..255] : username;
            string kind = username.StartsWith(options.RobotPrefix, StringComparison.Ordinal) ? "robot" : "user";
            audit?.Record(name, "login", kind, name, null, success: false);
        }
        else
        {
            if (_verified.Count > 10_000)
            {
                _verified.Clear();
            }

            _verified[key] = (caller, now + options.CredentialCacheLifetime);
        }

        return caller;
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
        return user is null || user.Disabled ? null : Caller.ForUser(user);
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
