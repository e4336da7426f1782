using Wharf.Registry.Api;
using Wharf.Registry.Identity;
using Wharf.Registry.Identity.Ldap;
using Wharf.Registry.Management;
using Wharf.Registry.Metadata;

namespace Wharf.Registry.Projects;

/// <summary>
/// Harbor's rules for projects, for every front end (the management API, the portal): who sees which
/// projects (public ones, their own, those their directory groups reach; system admins all), who may
/// create one (system admins, or every user when <see cref="IdentityOptions.AllowUserProjectCreation"/>),
/// that only system admins set a storage limit or force a deletion, and that a project with repositories
/// is deleted only by force. Auditing stays with the front end, which knows the request.
/// </summary>
public sealed class ProjectRules(
    IProjectStore projects, IProjectRepositories repositories, IArtifactStore artifacts, ManifestCache manifests,
    IdentityOptions options, ProjectMembership membership, DirectoryGroupRoles groupRoles, CredentialVerifier verifier,
    Policies.IImmutableTagRuleStore immutableTagRules)
{
    public async Task<(IReadOnlyList<Project> Projects, long Total)> ListAsync(Caller caller, string? nameContains, bool? isPublic, string? owner, int page, int pageSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var query = new ProjectQuery(nameContains, isPublic, owner);
        if (!caller.IsSysAdmin)
        {
            long userId = caller.User?.Id ?? 0;
            var groups = userId == 0 ? null : await groupRoles.ReachAsync(userId, cancellationToken).ConfigureAwait(false);
            query = query with { VisibleToUserId = userId, Groups = groups };
        }

        return await projects.ListAsync(query, page, pageSize, cancellationToken).ConfigureAwait(false);
    }

    public bool MayCreate(Caller caller) => caller is { Kind: CallerKind.User } && (caller.IsSysAdmin || options.AllowUserProjectCreation);

    public void RequireMayCreate(Caller caller)
    {
        if (!MayCreate(caller))
        {
            throw ApiException.Forbidden("only system admins may create projects");
        }
    }

    /// <summary>Checks a new project's name and limit (-1 or null: unlimited) and creates it with the caller as its project admin.</summary>
    public async Task<Project> CreateAsync(Caller caller, string? name, bool isPublic, long? requestedLimit, bool proxyCache, CancellationToken cancellationToken)
    {
        long? limit = CheckNew(caller, name, requestedLimit, proxyCache);
        return await projects.CreateAsync(name!, isPublic, caller.User!.Id, limit, cancellationToken).ConfigureAwait(false)
            ?? throw ApiException.Conflict($"project {name} already exists");
    }

    /// <summary>The checks of <see cref="CreateAsync"/> alone, in their order; the limit to store.</summary>
    public long? CheckNew(Caller caller, string? name, long? requestedLimit, bool proxyCache)
    {
        RequireMayCreate(caller);
        if (!ProjectRoles.IsValidProjectName(name))
        {
            throw ApiException.BadRequest("project_name must be lower-case letters and digits joined by '.', '_' or '-', not all digits, at most 255 characters");
        }

        long? limit = StorageLimits.FromRequested(requestedLimit);
        if (limit is not null && !caller.IsSysAdmin)
        {
            throw ApiException.Forbidden("only system admins may set a storage limit");
        }

        // A proxy-cache project: Harbor lets only system admins bind one to an upstream endpoint.
        if (proxyCache && !caller.IsSysAdmin)
        {
            throw ApiException.Forbidden("only system admins may create proxy-cache projects");
        }

        return limit;
    }

    public Task RequireProjectAdminAsync(Caller caller, Project project, CancellationToken cancellationToken) =>
        membership.RequireProjectAdminAsync(caller, project, cancellationToken);

    /// <summary>
    /// Project admins set visibility, system admins the storage limit (-1: unlimited); null leaves a setting as it is.
    /// Returns whether the limit changed.
    /// </summary>
    public async Task<bool> UpdateAsync(Caller caller, Project project, bool? isPublic, long? requestedLimit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(project);
        await RequireProjectAdminAsync(caller, project, cancellationToken).ConfigureAwait(false);
        if (isPublic is bool visible)
        {
            await projects.SetPublicAsync(project.Id, visible, cancellationToken).ConfigureAwait(false);
        }

        if (requestedLimit is null)
        {
            return false;
        }

        if (!caller.IsSysAdmin)
        {
            throw ApiException.Forbidden("only system admins may set a storage limit");
        }

        await projects.SetStorageLimitAsync(project.Id, StorageLimits.FromRequested(requestedLimit), cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>A project with repositories goes only when a system admin forces it, and its repositories with it.</summary>
    public async Task DeleteAsync(Caller caller, Project project, bool force, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(project);
        await RequireProjectAdminAsync(caller, project, cancellationToken).ConfigureAwait(false);
        if (force && !caller.IsSysAdmin)
        {
            throw ApiException.Forbidden("only system admins may force the deletion of a project");
        }

        if (!force && await repositories.ProjectHasRepositoriesAsync(project.Name, cancellationToken).ConfigureAwait(false))
        {
            throw ApiException.Precondition($"project {project.Name} still contains repositories; delete them first or pass force=true");
        }

        if (force)
        {
            // The repositories go with the project, so a project created again under this name is empty.
            foreach (string repository in await artifacts.DeleteProjectRepositoriesAsync(project.Name, cancellationToken).ConfigureAwait(false))
            {
                manifests.Invalidate(repository);
            }
        }

        await projects.DeleteAsync(project.Id, cancellationToken).ConfigureAwait(false);
        await immutableTagRules.DeleteProjectImmutableTagRulesAsync(project.Id, cancellationToken).ConfigureAwait(false);
        verifier.Invalidate();
    }
}
