using System.Globalization;
using System.Text.Json;

namespace Wharf.Registry.Identity.Ldap;

/// <summary>
/// The authentication settings under Harbor's configuration keys (<c>auth_mode</c>, <c>ldap_*</c>), plus
/// wharf's own <c>ldap_*</c> keys for what Harbor does not have. Values are validated once, here; the
/// stored form is the key → JSON value map Harbor's <c>/configurations</c> speaks.
/// </summary>
public sealed record LdapSettings
{
    public const string DbAuth = "db_auth";
    public const string LdapAuth = "ldap_auth";

    public string AuthMode { get; init; } = DbAuth;

    public string? Url { get; init; }

    public string? SearchDn { get; init; }

    public string? SearchPassword { get; init; }

    public string? BaseDn { get; init; }

    /// <summary>An extra filter every user must match, e.g. <c>(objectClass=person)</c>.</summary>
    public string? Filter { get; init; }

    /// <summary>The attribute a username is matched against (uid, cn, sAMAccountName).</summary>
    public string Uid { get; init; } = "uid";

    /// <summary>Harbor's scope numbers: 0 base, 1 one level, 2 subtree.</summary>
    public int Scope { get; init; } = 2;

    public bool VerifyCert { get; init; } = true;

    public string? GroupBaseDn { get; init; }

    public string? GroupSearchFilter { get; init; }

    /// <summary>The attribute that names a group (its project name under the naming rule): cn.</summary>
    public string GroupAttributeName { get; init; } = "cn";

    /// <summary>Members of this group are system admins.</summary>
    public string? GroupAdminDn { get; init; }

    /// <summary>The attribute on a user listing its groups (memberOf); when the directory has none, groups are searched by member.</summary>
    public string GroupMembershipAttribute { get; init; } = "memberOf";

    /// <summary>wharf: the PEM file of the CA that signed the directory's certificate (LDAPS or StartTLS).</summary>
    public string? CaFile { get; init; }

    /// <summary>wharf: upgrade an ldap:// connection with StartTLS.</summary>
    public bool StartTls { get; init; }

    /// <summary>wharf: allow passwords over a plain ldap:// connection (tests, a directory on the same host).</summary>
    public bool AllowInsecure { get; init; }

    /// <summary>wharf: the role (1-5) a group's members get in the project named like the group's cn in lower case; 0 turns the rule off.</summary>
    public int GroupProjectRole { get; init; }

    /// <summary>wharf: how long group memberships read from the directory are trusted while it cannot be reached.</summary>
    public TimeSpan GroupCacheLifetime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>wharf: how old group memberships may be before a token request reads them again.</summary>
    public TimeSpan GroupRefreshInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>wharf: how deep nested groups are followed.</summary>
    public int GroupNestingDepth { get; init; } = 5;

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    public bool IsLdap => AuthMode == LdapAuth;

    /// <summary>The keys, their kind and whether their value is a secret (masked when read back).</summary>
    public static readonly IReadOnlyDictionary<string, (Kind Kind, bool Secret)> Keys = new Dictionary<string, (Kind, bool)>(StringComparer.Ordinal)
    {
        ["auth_mode"] = (Kind.Text, false),
        ["ldap_url"] = (Kind.Text, false),
        ["ldap_search_dn"] = (Kind.Text, false),
        ["ldap_search_password"] = (Kind.Text, true),
        ["ldap_base_dn"] = (Kind.Text, false),
        ["ldap_filter"] = (Kind.Text, false),
        ["ldap_uid"] = (Kind.Text, false),
        ["ldap_scope"] = (Kind.Integer, false),
        ["ldap_verify_cert"] = (Kind.Boolean, false),
        ["ldap_group_base_dn"] = (Kind.Text, false),
        ["ldap_group_search_filter"] = (Kind.Text, false),
        ["ldap_group_attribute_name"] = (Kind.Text, false),
        ["ldap_group_admin_dn"] = (Kind.Text, false),
        ["ldap_group_membership_attribute"] = (Kind.Text, false),
        ["ldap_timeout"] = (Kind.Integer, false),
        ["ldap_ca_file"] = (Kind.Text, false),
        ["ldap_start_tls"] = (Kind.Boolean, false),
        ["ldap_allow_insecure"] = (Kind.Boolean, false),
        ["ldap_group_project_role"] = (Kind.Integer, false),
        ["ldap_group_cache_seconds"] = (Kind.Integer, false),
        ["ldap_group_refresh_seconds"] = (Kind.Integer, false),
        ["ldap_group_nesting_depth"] = (Kind.Integer, false),
    };

    public enum Kind
    {
        Text,
        Integer,
        Boolean,
    }

    /// <summary>
    /// Checks one key and value as Harbor's JSON gives it (strings, numbers, booleans); the text form is
    /// what is stored. Throws <see cref="FormatException"/> naming the key.
    /// </summary>
    public static string Normalize(string key, JsonElement value)
    {
        if (!Keys.TryGetValue(key, out var spec))
        {
            throw new FormatException($"unknown configuration key {key}");
        }

        return spec.Kind switch
        {
            Kind.Text when value.ValueKind == JsonValueKind.String => value.GetString()!,
            Kind.Integer when value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int n) => n.ToString(CultureInfo.InvariantCulture),
            Kind.Boolean when value.ValueKind is JsonValueKind.True or JsonValueKind.False => value.GetBoolean() ? "true" : "false",
            _ => throw new FormatException($"{key} must be {(spec.Kind == Kind.Text ? "a string" : spec.Kind == Kind.Integer ? "an integer" : "a boolean")}"),
        };
    }

    /// <summary>The settings these stored values give; throws <see cref="FormatException"/> on a value that makes no sense.</summary>
    public static LdapSettings From(IReadOnlyDictionary<string, string> values)
    {
        string? Text(string key) => values.TryGetValue(key, out string? v) && v.Length > 0 ? v : null;
        int Int(string key, int fallback, int min, int max)
        {
            if (Text(key) is not { } v)
            {
                return fallback;
            }

            return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= min && n <= max
                ? n
                : throw new FormatException($"{key} must be an integer from {min} to {max}");
        }

        bool Bool(string key, bool fallback) => Text(key) is not { } v ? fallback
            : bool.TryParse(v, out bool b) ? b : throw new FormatException($"{key} must be true or false");

        string mode = Text("auth_mode") ?? DbAuth;
        if (mode is not (DbAuth or LdapAuth))
        {
            throw new FormatException($"auth_mode must be {DbAuth} or {LdapAuth} (not {mode})");
        }

        var settings = new LdapSettings
        {
            AuthMode = mode,
            Url = Text("ldap_url"),
            SearchDn = Text("ldap_search_dn"),
            SearchPassword = Text("ldap_search_password"),
            BaseDn = Text("ldap_base_dn"),
            Filter = Text("ldap_filter"),
            Uid = Text("ldap_uid") ?? "uid",
            Scope = Int("ldap_scope", 2, 0, 2),
            VerifyCert = Bool("ldap_verify_cert", true),
            GroupBaseDn = Text("ldap_group_base_dn"),
            GroupSearchFilter = Text("ldap_group_search_filter"),
            GroupAttributeName = Text("ldap_group_attribute_name") ?? "cn",
            GroupAdminDn = Text("ldap_group_admin_dn"),
            GroupMembershipAttribute = Text("ldap_group_membership_attribute") ?? "memberOf",
            Timeout = TimeSpan.FromSeconds(Int("ldap_timeout", 5, 1, 300)),
            CaFile = Text("ldap_ca_file"),
            StartTls = Bool("ldap_start_tls", false),
            AllowInsecure = Bool("ldap_allow_insecure", false),
            GroupProjectRole = Int("ldap_group_project_role", 0, 0, 5),
            GroupCacheLifetime = TimeSpan.FromSeconds(Int("ldap_group_cache_seconds", 3600, 0, 7 * 24 * 3600)),
            GroupRefreshInterval = TimeSpan.FromSeconds(Int("ldap_group_refresh_seconds", 60, 0, 24 * 3600)),
            GroupNestingDepth = Int("ldap_group_nesting_depth", 5, 0, 20),
        };

        if (settings.Url is not null)
        {
            settings.Endpoint(); // validates the URL and the transport rule
        }

        if (settings.IsLdap && (settings.Url is null || settings.BaseDn is null))
        {
            throw new FormatException("ldap_auth needs ldap_url and ldap_base_dn");
        }

        return settings;
    }

    /// <summary>
    /// Why <c>ldap_verify_cert=false</c> is refused for a TLS connection. Harbor accepts it; here the LDAP library
    /// on Linux (OpenLDAP's libldap under System.DirectoryServices.Protocols) offers no per-connection switch:
    /// <c>LdapSessionOptions.VerifyServerCertificate</c> is not supported there, and LDAP_OPT_X_TLS_REQUIRE_CERT
    /// is reachable only process-wide (libldap's global options or LDAPTLS_REQCERT), which would turn the check
    /// off for every other connection of the process too.
    /// </summary>
    public const string VerifyCertRefusal =
        "ldap_verify_cert=false cannot be honoured: the LDAP library offers no way to skip the certificate check for one connection, "
        + "and skipping it for the whole process would weaken every other TLS connection. Give the CA that signed the directory's "
        + "certificate (PEM) in ldap_ca_file and set ldap_verify_cert to true";

    /// <summary>Throws <see cref="FormatException"/> when the settings ask for TLS without checking the directory's certificate.</summary>
    public void ThrowIfUnverifiedTls()
    {
        if (!VerifyCert && Url is not null && (StartTls || Endpoint().Ldaps))
        {
            throw new FormatException(VerifyCertRefusal);
        }
    }

    /// <summary>Host, port and whether the connection is LDAPS, from <see cref="Url"/>; refuses plain LDAP unless allowed or upgraded by StartTLS.</summary>
    public (string Host, int Port, bool Ldaps) Endpoint()
    {
        string url = Url ?? throw new FormatException("ldap_url is not set");
        if (!url.Contains("://", StringComparison.Ordinal))
        {
            url = "ldap://" + url;
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("ldap" or "ldaps") || uri.Host.Length == 0)
        {
            throw new FormatException($"ldap_url must be ldaps://host[:port] or ldap://host[:port] (not {Url})");
        }

        bool ldaps = uri.Scheme == "ldaps";
        if (!ldaps && !StartTls && !AllowInsecure)
        {
            throw new FormatException("ldap_url is plain ldap://: use ldaps://, set ldap_start_tls, or set ldap_allow_insecure to send passwords unencrypted");
        }

        return (uri.Host, uri.IsDefaultPort || uri.Port < 0 ? (ldaps ? 636 : 389) : uri.Port, ldaps);
    }
}
