using Wharf.Registry.Auth;
using Wharf.Registry.Identity;
using Wharf.Registry.Management;

namespace Wharf.Registry.Projects;

/// <summary>
/// Harbor's rules for a project's members, for every front end that manages them (the management
/// API, the portal): members of any role but limited guest, and system admins, see the member list;
/// only project admins (system admins count as such) change it; a user is a member once. The caller
/// has already been shown the project (an invisible one is missing before it gets here).
/// </summary>
public sealed class ProjectMembership(IMemberStore members, IUserStore users, AccessEvaluator access)
{
    public async Task<IReadOnlyList<Member>> ListAsync(Caller caller, Project project, string? usernameContains, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(project);
        await RequireMemberAsync(caller, project, cancellationToken).ConfigureAwait(false);
        return await members.ListAsync(project.Id, usernameContains, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Member> GetAsync(Caller caller, Project project, long memberId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(project);
        await RequireMemberAsync(caller, project, cancellationToken).ConfigureAwait(false);
        return await FindAsync(project, memberId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Adds the user named by id (when positive) or else by name.</summary>
    public async Task<Member> AddAsync(Caller caller, Project project, long? userId, string? username, ProjectRole role, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(project);
        await RequireProjectAdminAsync(caller, project, cancellationToken).ConfigureAwait(false);
        var user = userId is long id and > 0
            ? await users.FindByIdAsync(id, cancellationToken).ConfigureAwait(false)
            : string.IsNullOrEmpty(username) ? null : await users.FindByNameAsync(username, cancellationToken).ConfigureAwait(false);
        if (user is null)
        {
            throw ApiException.NotFound("user not found");
        }

        return await members.AddAsync(project.Id, user.Id, role, cancellationToken).ConfigureAwait(false)
            ?? throw ApiException.Conflict($"{user.Username} is already a member of {project.Name}");
    }

    public async Task<Member> SetRoleAsync(Caller caller, Project project, long memberId, ProjectRole role, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(project);
        await RequireProjectAdminAsync(caller, project, cancellationToken).ConfigureAwait(false);
        var member = await FindAsync(project, memberId, cancellationToken).ConfigureAwait(false);
        await members.SetRoleAsync(project.Id, member.Id, role, cancellationToken).ConfigureAwait(false);
        return member with { Role = role };
    }

    public async Task<Member> RemoveAsync(Caller caller, Project project, long memberId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(project);
        await RequireProjectAdminAsync(caller, project, cancellationToken).ConfigureAwait(false);
        var member = await FindAsync(project, memberId, cancellationToken).ConfigureAwait(false);
        await members.RemoveAsync(project.Id, member.Id, cancellationToken).ConfigureAwait(false);
        return member;
    }

    /// <summary>Project admins (and system admins) manage members, robots and settings.</summary>
    public async Task RequireProjectAdminAsync(Caller caller, Project project, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(project);
        if (caller.Kind != CallerKind.User || await access.RoleAsync(caller, project, cancellationToken).ConfigureAwait(false) != ProjectRole.ProjectAdmin)
        {
            throw ApiException.Forbidden($"only project admins of {project.Name} may do this");
        }
    }

    /// <summary>Who may see a project's members: its members of any role but limited guest, and system admins.</summary>
    public async Task RequireMemberAsync(Caller caller, Project project, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(project);
        // Harbor gives limited guests no member list.
        if (await access.RoleAsync(caller, project, cancellationToken).ConfigureAwait(false) is null or ProjectRole.LimitedGuest)
        {
            throw ApiException.Forbidden($"only members of {project.Name} may see its members");
        }
    }

    private async Task<Member> FindAsync(Project project, long memberId, CancellationToken cancellationToken) =>
        await members.GetAsync(project.Id, memberId, cancellationToken).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"member {memberId} not found in {project.Name}");
}
