namespace Wharf.Registry.Identity;

/// <summary>Settings of accounts, projects and the token service, bound from the "Registry" section.</summary>
public sealed class IdentityOptions
{
    /// <summary>Password of the <c>admin</c> account created on first start; generated and printed once when empty.</summary>
    public string? AdminPassword { get; set; }

    /// <summary>Whether ordinary users may create projects (Harbor's "project creation restriction: everyone").</summary>
    public bool AllowUserProjectCreation { get; set; }

    /// <summary>The <c>service</c> of the Docker token protocol: the audience of every token.</summary>
    public string TokenService { get; set; } = "wharf-registry";

    /// <summary>The issuer written into tokens.</summary>
    public string TokenIssuer { get; set; } = "wharf-token-issuer";

    /// <summary>Absolute realm URL for the challenge; derived from the request (scheme://host/service/token) when empty.</summary>
    public string? TokenRealm { get; set; }

    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>bcrypt cost; each step doubles the work of a login.</summary>
    public int BcryptWorkFactor { get; set; } = 10;

    /// <summary>Prefix of robot account names, as in Harbor.</summary>
    public string RobotPrefix { get; set; } = "robot$";

    /// <summary>
    /// Leaves /v2 open to everyone (no token auth) while accounts, projects and the management API still
    /// work: for benchmarks and trusted single-user setups only.
    /// </summary>
    public bool OpenRegistry { get; set; }

    /// <summary>Create Harbor's public <c>library</c> project on first start (as Harbor's installer does).</summary>
    public bool CreateLibraryProject { get; set; } = true;

    /// <summary>How long a verified Basic credential is remembered, so a client sending Basic on every request does not pay bcrypt each time.</summary>
    public TimeSpan CredentialCacheLifetime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Failed password checks for one account (any source) before its logins are refused for the rest of the window; 0 turns the limit off.</summary>
    public int LoginFailuresPerAccount { get; set; } = 10;

    /// <summary>Failed password checks from one address (any account) before its logins are refused for the rest of the window; 0 turns the limit off.</summary>
    public int LoginFailuresPerSource { get; set; } = 30;

    /// <summary>The window failed logins are counted in, from the first failure; also how long a lockout lasts at most.</summary>
    public TimeSpan LoginFailureWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a refresh token (docker/podman login's identity token) lives unless revoked first.</summary>
    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How long audit log entries are kept; older ones are purged hourly.</summary>
    public TimeSpan AuditRetention { get; set; } = TimeSpan.FromDays(180);

    /// <summary>How often the audit purge schedule is checked against the registry's clock.</summary>
    public TimeSpan AuditPurgePollInterval { get; set; } = TimeSpan.FromSeconds(30);
}
