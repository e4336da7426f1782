using Microsoft.Extensions.Logging;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Identity.Ldap;

/// <summary>
/// The role a directory account holds in a project through its groups: a group mapped to the project
/// (<c>project_member_groups</c>, by DN) or, under wharf's naming rule (<c>ldap_group_project_role</c>),
/// a group whose name in lower case is the project's name. Memberships are read again from the directory
/// when older than <c>ldap_group_refresh_seconds</c>; while the directory cannot be reached the last ones
/// read keep counting until they are <c>ldap_group_cache_seconds</c> old, then none do.
/// </summary>
public sealed partial class DirectoryGroupRoles(
    AuthConfiguration configuration, LdapDirectory directory, DirectoryAccounts accounts, UserGroupStore groups, IUserStore users,
    IProjectStore projects, TimeProvider time, ILogger<DirectoryGroupRoles> logger)
{
    private readonly Lock _gate = new();
    private DateTimeOffset _unreachableUntil = DateTimeOffset.MinValue;

    public async Task<ProjectRole?> RoleAsync(long projectId, long userId, CancellationToken cancellationToken)
    {
        var settings = await configuration.GetAsync(cancellationToken).ConfigureAwait(false);
        if (!settings.IsLdap)
        {
            return null;
        }

        var memberOf = await GroupsAsync(settings, userId, cancellationToken).ConfigureAwait(false);
        if (memberOf.Count == 0)
        {
            return null;
        }

        ProjectRole? best = null;
        foreach (var member in await groups.ListMembersAsync(projectId, null, cancellationToken).ConfigureAwait(false))
        {
            if (memberOf.Any(g => SameDn(g.Dn, member.Group.LdapGroupDn)))
            {
                best = Better(best, member.Role);
            }
        }

        if (settings.GroupProjectRole > 0 && await projects.FindByIdAsync(projectId, cancellationToken).ConfigureAwait(false) is { } project
            && memberOf.Any(g => string.Equals(g.Name.ToLowerInvariant(), project.Name, StringComparison.Ordinal)))
        {
            best = Better(best, (ProjectRole)settings.GroupProjectRole);
        }

        return best;
    }

    /// <summary>
    /// How the account's groups reach projects in a listing: null outside ldap_auth; otherwise the groups
    /// are first read again when due (as for a role check), and those read within the cache window count.
    /// </summary>
    public async Task<GroupReach?> ReachAsync(long userId, CancellationToken cancellationToken)
    {
        var settings = await configuration.GetAsync(cancellationToken).ConfigureAwait(false);
        if (!settings.IsLdap)
        {
            return null;
        }

        _ = await GroupsAsync(settings, userId, cancellationToken).ConfigureAwait(false);
        return new GroupReach(time.GetUtcNow() - settings.GroupCacheLifetime, settings.GroupProjectRole > 0);
    }

    /// <summary>The groups that count for the account now (empty for a local account).</summary>
    public async Task<IReadOnlyList<DirectoryGroup>> GroupsAsync(LdapSettings settings, long userId, CancellationToken cancellationToken) =>
        (await CurrentAsync(settings, userId, cancellationToken).ConfigureAwait(false)).Groups;

    /// <summary>
    /// The caller as the directory sees them now: a person's <see cref="User.AdminRoleInAuth"/> is whether
    /// their groups, read again when due, hold <c>ldap_group_admin_dn</c> (Harbor grants that admin role at each
    /// login, never as a stored flag). Outside ldap_auth, or with no admin group set, nobody has it. Robots,
    /// anonymous callers and local accounts pass unchanged apart from that.
    /// </summary>
    public async Task<Caller> WithDirectoryAdminAsync(Caller caller, CancellationToken cancellationToken)
    {
        if (caller.User is not { } user)
        {
            return caller;
        }

        var settings = await configuration.GetAsync(cancellationToken).ConfigureAwait(false);
        bool admin = settings.IsLdap && settings.GroupAdminDn is not null
            && (await CurrentAsync(settings, user.Id, cancellationToken).ConfigureAwait(false)).GroupAdmin;
        return admin == user.AdminRoleInAuth ? caller : Caller.ForUser(user with { AdminRoleInAuth = admin });
    }

    /// <summary>Whether these groups make their member a system admin under these settings.</summary>
    public static bool IsAdminGroupMember(LdapSettings settings, IEnumerable<DirectoryGroup> groups) =>
        settings.GroupAdminDn is { } adminDn && groups.Any(g => SameDn(g.Dn, adminDn));

    private async Task<(IReadOnlyList<DirectoryGroup> Groups, bool GroupAdmin)> CurrentAsync(LdapSettings settings, long userId, CancellationToken cancellationToken)
    {
        if (await accounts.FindAsync(userId, cancellationToken).ConfigureAwait(false) is not { } account)
        {
            return ([], false);
        }

        var now = time.GetUtcNow();
        if (now - account.GroupsReadAt >= settings.GroupRefreshInterval && now >= UnreachableUntil
            && await users.FindByIdAsync(userId, cancellationToken).ConfigureAwait(false) is { } user)
        {
            try
            {
                // Null: the directory no longer has the person; they keep no group.
                var fresh = await directory.GroupsOfAsync(settings, user.Username, cancellationToken).ConfigureAwait(false) ?? [];
                bool admin = IsAdminGroupMember(settings, fresh);
                await accounts.SaveAsync(userId, account.Dn, fresh, admin, now, cancellationToken).ConfigureAwait(false);
                return (fresh, admin);
            }
            catch (DirectoryUnavailableException e)
            {
                // Asked again after a refresh interval (at least 10 s), not on every check meanwhile.
                var retry = settings.GroupRefreshInterval > TimeSpan.FromSeconds(10) ? settings.GroupRefreshInterval : TimeSpan.FromSeconds(10);
                lock (_gate)
                {
                    _unreachableUntil = now + retry;
                }

                LogStale(logger, user.Username, account.GroupsReadAt, e.Message);
            }
        }

        // Past the outage window the groups last read count for nothing, the admin group included.
        return now - account.GroupsReadAt <= settings.GroupCacheLifetime ? (account.Groups, account.GroupAdmin) : ([], false);
    }

    /// <summary>DNs compare without regard to case or the spaces after separators (RFC 4514 §4 allows both to vary).</summary>
    public static bool SameDn(string a, string b) => string.Equals(NormalizeDn(a), NormalizeDn(b), StringComparison.OrdinalIgnoreCase);

    /// <summary>The DN without spaces around its separators, as groups are stored.</summary>
    public static string NormalizeDn(string dn) => string.Join(',', dn.Split(',').Select(p => p.Trim()));

    /// <summary>Harbor's order of roles, strongest first: project admin, maintainer, developer, guest, limited guest.</summary>
    public static ProjectRole? Better(ProjectRole? a, ProjectRole b) => a is null || Rank(b) < Rank(a.Value) ? b : a;

    private static int Rank(ProjectRole role) => role switch
    {
        ProjectRole.ProjectAdmin => 0,
        ProjectRole.Maintainer => 1,
        ProjectRole.Developer => 2,
        ProjectRole.Guest => 3,
        _ => 4,
    };

    private DateTimeOffset UnreachableUntil
    {
        get
        {
            lock (_gate)
            {
                return _unreachableUntil;
            }
        }
    }

    [LoggerMessage(EventId = 4132, Level = LogLevel.Warning, Message = "Cannot read the groups of {Username} from the directory; using those read at {ReadAt}: {Reason}")]
    private static partial void LogStale(ILogger logger, string username, DateTimeOffset readAt, string reason);
}

/// <summary>
/// The member store with directory groups counted: a person's role in a project is the stronger of their
/// own membership and their groups'. Only the role lookup changes; listing and editing stay the store's.
/// </summary>
public sealed class GroupAwareMemberStore(SqliteMemberStore inner, DirectoryGroupRoles groupRoles) : IMemberStore
{
    public Task<Member?> AddAsync(long projectId, long userId, ProjectRole role, CancellationToken cancellationToken) => inner.AddAsync(projectId, userId, role, cancellationToken);

    public Task<Member?> GetAsync(long projectId, long memberId, CancellationToken cancellationToken) => inner.GetAsync(projectId, memberId, cancellationToken);

    public Task<IReadOnlyList<Member>> ListAsync(long projectId, string? usernameContains, CancellationToken cancellationToken) => inner.ListAsync(projectId, usernameContains, cancellationToken);

    public Task<bool> SetRoleAsync(long projectId, long memberId, ProjectRole role, CancellationToken cancellationToken) => inner.SetRoleAsync(projectId, memberId, role, cancellationToken);

    public Task<bool> RemoveAsync(long projectId, long memberId, CancellationToken cancellationToken) => inner.RemoveAsync(projectId, memberId, cancellationToken);

    public async Task<ProjectRole?> GetRoleAsync(long projectId, long userId, CancellationToken cancellationToken)
    {
        var own = await inner.GetRoleAsync(projectId, userId, cancellationToken).ConfigureAwait(false);
        var group = await groupRoles.RoleAsync(projectId, userId, cancellationToken).ConfigureAwait(false);
        return group is { } g ? DirectoryGroupRoles.Better(own, g) : own;
    }
}
