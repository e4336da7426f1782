using Wharf.Registry.Identity;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Auth;

/// <summary>What a caller may do in one project.</summary>
public sealed record ProjectAccess(bool ProjectExists, bool IsPublic, RepositoryActions Actions)
{
    public static ProjectAccess Missing { get; } = new(false, false, RepositoryActions.None);
}

/// <summary>
/// Harbor's permission rules in one place: system admins may do everything in existing projects;
/// members get their role's actions; robots get their own actions in their own project; anyone,
/// even anonymous, may pull from a public project. Nobody pushes into a project that does not exist.
/// </summary>
public sealed class AccessEvaluator(IProjectStore projects, IMemberStore members)
{
    public async Task<ProjectAccess> EvaluateAsync(Caller caller, string projectName, CancellationToken cancellationToken)
    {
        var project = await projects.FindByNameAsync(projectName, cancellationToken).ConfigureAwait(false);
        return project is null ? ProjectAccess.Missing : await EvaluateAsync(caller, project, cancellationToken).ConfigureAwait(false);
    }

    public async Task<ProjectAccess> EvaluateAsync(Caller caller, Project project, CancellationToken cancellationToken)
    {
        var actions = project.Public ? RepositoryActions.Pull : RepositoryActions.None;
        switch (caller.Kind)
        {
            case CallerKind.User when caller.IsSysAdmin:
                actions = RepositoryActions.All;
                break;
            case CallerKind.User:
                var role = await members.GetRoleAsync(project.Id, caller.User!.Id, cancellationToken).ConfigureAwait(false);
                if (role is not null)
                {
                    actions |= role.Value.Actions();
                }

                break;
            case CallerKind.Robot when caller.Robot!.ProjectId == project.Id:
                actions |= caller.Robot.Access;
                break;
        }

        return new ProjectAccess(true, project.Public, actions);
    }

    /// <summary>The caller's role in the project, with system admins counted as project admins.</summary>
    public async Task<ProjectRole?> RoleAsync(Caller caller, Project project, CancellationToken cancellationToken)
    {
        if (caller.IsSysAdmin)
        {
            return ProjectRole.ProjectAdmin;
        }

        return caller.User is null ? null : await members.GetRoleAsync(project.Id, caller.User.Id, cancellationToken).ConfigureAwait(false);
    }
}
