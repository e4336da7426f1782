using System.DirectoryServices.Protocols;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Wharf.Registry.Identity.Ldap;

/// <summary>A person as the directory describes them.</summary>
public sealed record DirectoryUser(string Dn, string Username, string? Email, string? DisplayName);

/// <summary>A group: its DN and its name (the value of <c>ldap_group_attribute_name</c>, cn).</summary>
public sealed record DirectoryGroup(string Dn, string Name);

/// <summary>The directory could not be asked (down, unreachable, refused the service account): not a wrong password.</summary>
public sealed class DirectoryUnavailableException(string message, Exception? inner = null, bool unreachable = false) : Exception(message, inner)
{
    /// <summary>
    /// The directory did not answer at all (server down, no connection, timed out), as opposed to answering
    /// with a refusal of wharf's own settings (service account, TLS, CA file): only then may passwords verified
    /// before the outage stand in for it (<see cref="RememberedDirectoryLogins"/>).
    /// </summary>
    public bool Unreachable { get; } = unreachable;

    /// <summary>The password differs from the one verified before the outage: a guess, counted like a wrong password.</summary>
    public bool FailedGuess { get; init; }
}

/// <summary>
/// The directory's side of an LDAP login, through System.DirectoryServices.Protocols (OpenLDAP's libldap
/// underneath): find the person's entry with the service account and a filter, bind as that entry with
/// the password, and read the groups they belong to, nested ones included. Each call opens its own
/// connection: logins are rare next to token checks, and a connection never outlives a directory restart.
/// </summary>
public sealed class LdapDirectory
{
    private const int InvalidCredentials = 49;
    private const int ServerDown = 81;
    private const int TimedOut = 85;
    private const int ConnectError = 91;

    /// <summary>The person these credentials belong to, or null for a wrong password or unknown name; throws <see cref="DirectoryUnavailableException"/>.</summary>
    public Task<(DirectoryUser User, IReadOnlyList<DirectoryGroup> Groups)?> AuthenticateAsync(LdapSettings settings, string username, string password, CancellationToken cancellationToken) =>
        RunAsync(() =>
        {
            // An empty password is an unauthenticated bind (RFC 4513 §5.1.2), which directories accept for any DN.
            if (password.Length == 0 || username.Length == 0)
            {
                return ((DirectoryUser, IReadOnlyList<DirectoryGroup>)?)null;
            }

            using var service = Open(settings, bindAsService: true);
            if (FindEntry(service, settings, username) is not { } entry)
            {
                return null;
            }

            using (var own = Open(settings, bindAsService: false))
            {
                try
                {
                    own.Bind(new NetworkCredential(entry.DistinguishedName, password));
                }
                catch (LdapException e) when (e.ErrorCode == InvalidCredentials)
                {
                    return null;
                }
            }

            return (ToUser(entry, settings), GroupsOf(service, settings, entry));
        }, cancellationToken);

    /// <summary>The groups of a known user, read with the service account (null when the directory no longer has them).</summary>
    public Task<IReadOnlyList<DirectoryGroup>?> GroupsOfAsync(LdapSettings settings, string username, CancellationToken cancellationToken) =>
        RunAsync(() =>
        {
            using var service = Open(settings, bindAsService: true);
            return FindEntry(service, settings, username) is { } entry ? GroupsOf(service, settings, entry) : null;
        }, cancellationToken);

    public Task<IReadOnlyList<DirectoryUser>> SearchUsersAsync(LdapSettings settings, string? username, CancellationToken cancellationToken) =>
        RunAsync<IReadOnlyList<DirectoryUser>>(() =>
        {
            using var service = Open(settings, bindAsService: true);
            string match = string.IsNullOrEmpty(username) ? $"({settings.Uid}=*)" : $"({settings.Uid}=*{Escape(username)}*)";
            return Search(service, settings.BaseDn!, settings.Scope, And(match, settings.Filter), 100, UserAttributes(settings))
                .Select(e => ToUser(e, settings)).ToList();
        }, cancellationToken);

    public Task<IReadOnlyList<DirectoryGroup>> SearchGroupsAsync(LdapSettings settings, string? name, string? dn, CancellationToken cancellationToken) =>
        RunAsync<IReadOnlyList<DirectoryGroup>>(() =>
        {
            using var service = Open(settings, bindAsService: true);
            if (!string.IsNullOrEmpty(dn))
            {
                return Search(service, dn, 0, GroupFilter(settings), 1, [settings.GroupAttributeName]).Select(e => ToGroup(e, settings)).ToList();
            }

            string match = string.IsNullOrEmpty(name) ? $"({settings.GroupAttributeName}=*)" : $"({settings.GroupAttributeName}=*{Escape(name)}*)";
            return Search(service, GroupBase(settings), 2, And(match, GroupFilter(settings)), 100, [settings.GroupAttributeName])
                .Select(e => ToGroup(e, settings)).ToList();
        }, cancellationToken);

    /// <summary>
    /// Harbor's "test LDAP server": connect, bind as the service account, see the base DN, and find at
    /// least one user with the filter. Null when all is well, else what is wrong, in words.
    /// </summary>
    public Task<string?> PingAsync(LdapSettings settings, CancellationToken cancellationToken) =>
        RunAsync(() =>
        {
            using var service = Open(settings, bindAsService: true);
            try
            {
                if (Search(service, settings.BaseDn!, settings.Scope, And($"({settings.Uid}=*)", settings.Filter), 1, [settings.Uid]).Count == 0)
                {
                    return $"no user under {settings.BaseDn} matches {And($"({settings.Uid}=*)", settings.Filter)}";
                }
            }
            catch (DirectoryOperationException e)
            {
                return $"searching {settings.BaseDn} failed: {e.Message}";
            }

            return (string?)null;
        }, cancellationToken);

    private static async Task<T> RunAsync<T>(Func<T> work, CancellationToken cancellationToken)
    {
        try
        {
            // libldap's calls block; a login must not hold a request thread of the pool's few.
            return await Task.Run(work, cancellationToken).ConfigureAwait(false);
        }
        catch (LdapException e)
        {
            throw new DirectoryUnavailableException($"the directory cannot be reached: {Describe(e)}", e, unreachable: e.ErrorCode is ServerDown or TimedOut or ConnectError);
        }
        catch (DirectoryOperationException e)
        {
            throw new DirectoryUnavailableException($"the directory refused a search: {e.Message}", e);
        }
    }

    private static string Describe(LdapException e) => e.ErrorCode switch
    {
        InvalidCredentials => "the service account's DN or password (ldap_search_dn, ldap_search_password) is wrong",
        ServerDown => "server down or unreachable",
        TimedOut => "timed out",
        ConnectError => "cannot connect",
        _ => string.IsNullOrEmpty(e.ServerErrorMessage) ? $"{e.Message} (LDAP error {e.ErrorCode})" : $"{e.Message}: {e.ServerErrorMessage}",
    };

    private static LdapConnection Open(LdapSettings settings, bool bindAsService)
    {
        var (host, port, ldaps) = settings.Endpoint();
        var connection = new LdapConnection(new LdapDirectoryIdentifier(host, port, fullyQualifiedDnsHostName: false, connectionless: false))
        {
            AuthType = AuthType.Basic,
            Timeout = settings.Timeout,
        };
        try
        {
            connection.SessionOptions.ProtocolVersion = 3;
            connection.SessionOptions.ReferralChasing = ReferralChasingOptions.None;
            if (ldaps || settings.StartTls)
            {
                if (!settings.VerifyCert)
                {
                    throw new DirectoryUnavailableException(LdapSettings.VerifyCertRefusal);
                }

                // Windows takes its trust from the machine's store; libldap needs to be told.
                if (settings.CaFile is not null && !OperatingSystem.IsWindows())
                {
                    connection.SessionOptions.TrustedCertificatesDirectory = CaDirectory(settings.CaFile);
                    connection.SessionOptions.StartNewTlsSessionContext();
                }
            }

            if (ldaps)
            {
                connection.SessionOptions.SecureSocketLayer = true;
            }
            else if (settings.StartTls)
            {
                if (!OperatingSystem.IsWindows())
                {
                    // On Linux the connection learns its server only at its first bind (the library sets
                    // LDAP_OPT_URI there), so StartTLS before any bind has nowhere to go: an anonymous bind,
                    // which carries no password, connects first. A directory that refuses anonymous binds
                    // has still been connected to.
                    connection.AuthType = AuthType.Anonymous;
                    try
                    {
                        connection.Bind();
                    }
                    catch (LdapException e) when (e.ErrorCode is not (ServerDown or TimedOut or ConnectError))
                    {
                    }
                    finally
                    {
                        connection.AuthType = AuthType.Basic;
                    }
                }

                connection.SessionOptions.StartTransportLayerSecurity(null);
            }

            if (bindAsService && settings.SearchDn is not null)
            {
                try
                {
                    connection.Bind(new NetworkCredential(settings.SearchDn, settings.SearchPassword ?? ""));
                }
                catch (LdapException e) when (e.ErrorCode == InvalidCredentials)
                {
                    throw new DirectoryUnavailableException($"the directory refused the service account {settings.SearchDn}: wrong ldap_search_dn or ldap_search_password", e);
                }
            }
            else if (bindAsService)
            {
                connection.AuthType = AuthType.Anonymous;
                connection.Bind();
                connection.AuthType = AuthType.Basic;
            }

            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// libldap on Linux takes trusted CAs as a directory (LDAP_OPT_X_TLS_CACERTDIR); the configured CA file is
    /// copied into a private one named by the file's content, so a changed CA gets a new directory.
    /// </summary>
    private static string CaDirectory(string caFile)
    {
        byte[] pem;
        try
        {
            pem = File.ReadAllBytes(caFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DirectoryUnavailableException($"cannot read ldap_ca_file {caFile}: {e.Message}", e);
        }

        string name = Convert.ToHexString(SHA256.HashData(pem))[..16].ToLowerInvariant();
        string directory = Path.Combine(Path.GetTempPath(), $"wharf-ldap-ca-{Environment.UserName}-{name}");
        if (!Directory.Exists(directory))
        {
            string staging = directory + "." + Guid.NewGuid().ToString("N");
            Directory.CreateDirectory(staging);
            File.WriteAllBytes(Path.Combine(staging, "ca.pem"), pem);
            try
            {
                Directory.Move(staging, directory);
            }
            catch (IOException)
            {
                Directory.Delete(staging, recursive: true); // another login made it first
            }
        }

        return directory;
    }

    private static SearchResultEntry? FindEntry(LdapConnection connection, LdapSettings settings, string username)
    {
        var entries = Search(connection, settings.BaseDn!, settings.Scope, And($"({settings.Uid}={Escape(username)})", settings.Filter), 2, UserAttributes(settings));

        // Two entries for one name is a directory mistake: logging in as either would be a guess.
        return entries.Count == 1 ? entries[0] : null;
    }

    /// <summary>
    /// The user's groups and, transitively, the groups those are members of, to <c>ldap_group_nesting_depth</c>
    /// levels. Direct groups come from the membership attribute (memberOf) when the entry has it, else from a
    /// search for groups listing the user (OpenLDAP without the memberof overlay); nesting always by search.
    /// </summary>
    private static IReadOnlyList<DirectoryGroup> GroupsOf(LdapConnection connection, LdapSettings settings, SearchResultEntry user)
    {
        var found = new Dictionary<string, DirectoryGroup>(StringComparer.OrdinalIgnoreCase);
        var level = new List<DirectoryGroup>();
        if (user.Attributes[settings.GroupMembershipAttribute] is { Count: > 0 } memberOf)
        {
            foreach (string dn in memberOf.GetValues(typeof(string)).Cast<string>())
            {
                level.AddRange(Search(connection, dn, 0, GroupFilter(settings), 1, [settings.GroupAttributeName]).Select(e => ToGroup(e, settings)));
            }
        }
        else
        {
            string uid = First(user, settings.Uid) ?? "";
            level.AddRange(GroupsListing(connection, settings, user.DistinguishedName, uid));
        }

        for (int depth = 0; level.Count > 0; depth++)
        {
            var next = new List<DirectoryGroup>();
            foreach (var group in level.Where(g => found.TryAdd(g.Dn, g)))
            {
                if (depth < settings.GroupNestingDepth)
                {
                    next.AddRange(GroupsListing(connection, settings, group.Dn, null));
                }
            }

            level = next;
        }

        return [.. found.Values];
    }

    private static IEnumerable<DirectoryGroup> GroupsListing(LdapConnection connection, LdapSettings settings, string memberDn, string? uid)
    {
        string dn = Escape(memberDn);
        string members = uid is null ? $"(|(member={dn})(uniqueMember={dn}))" : $"(|(member={dn})(uniqueMember={dn})(memberUid={Escape(uid)}))";
        return Search(connection, GroupBase(settings), 2, And(members, GroupFilter(settings)), 1000, [settings.GroupAttributeName]).Select(e => ToGroup(e, settings));
    }

    private static string GroupBase(LdapSettings settings) => settings.GroupBaseDn ?? settings.BaseDn!;

    private static string GroupFilter(LdapSettings settings) =>
        settings.GroupSearchFilter ?? "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup)(objectClass=group))";

    private static List<SearchResultEntry> Search(LdapConnection connection, string baseDn, int scope, string filter, int sizeLimit, string[] attributes)
    {
        var request = new SearchRequest(baseDn, filter, (SearchScope)scope, attributes) { SizeLimit = sizeLimit };
        SearchResponse response;
        try
        {
            response = (SearchResponse)connection.SendRequest(request);
        }
        catch (DirectoryOperationException e) when (e.Response?.ResultCode is ResultCode.NoSuchObject)
        {
            return [];
        }
        catch (DirectoryOperationException e) when (e.Response is SearchResponse { ResultCode: ResultCode.SizeLimitExceeded } partial)
        {
            response = partial;
        }

        return [.. response.Entries.Cast<SearchResultEntry>()];
    }

    private static string[] UserAttributes(LdapSettings settings) => [settings.Uid, "mail", "cn", "displayName", settings.GroupMembershipAttribute];

    private static DirectoryUser ToUser(SearchResultEntry entry, LdapSettings settings) =>
        new(entry.DistinguishedName, First(entry, settings.Uid) ?? "", First(entry, "mail"), First(entry, "displayName") ?? First(entry, "cn"));

    private static DirectoryGroup ToGroup(SearchResultEntry entry, LdapSettings settings) =>
        new(entry.DistinguishedName, First(entry, settings.GroupAttributeName) ?? entry.DistinguishedName);

    private static string? First(SearchResultEntry entry, string attribute) =>
        entry.Attributes[attribute] is { Count: > 0 } values ? values.GetValues(typeof(string)).Cast<string>().FirstOrDefault() : null;

    private static string And(string match, string? filter)
    {
        if (string.IsNullOrWhiteSpace(filter))
        {
            return match;
        }

        string extra = filter.Trim();
        return $"(&{match}{(extra.StartsWith('(') ? extra : "(" + extra + ")")})";
    }

    /// <summary>RFC 4515 §3: a value inside a filter escapes *, (, ), \ and NUL.</summary>
    public static string Escape(string value)
    {
        var builder = new StringBuilder(value.Length);
        foreach (char c in value)
        {
            _ = c switch
            {
                '*' => builder.Append("\\2a"),
                '(' => builder.Append("\\28"),
                ')' => builder.Append("\\29"),
                '\\' => builder.Append("\\5c"),
                '\0' => builder.Append("\\00"),
                _ => builder.Append(c),
            };
        }

        return builder.ToString();
    }
}
