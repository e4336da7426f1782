using System.Text.RegularExpressions;
using Wharf.Registry.Auth;
using Wharf.Registry.Identity;
using Wharf.Registry.Management;
using Wharf.Registry.Metadata;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Labels;

/// <summary>
/// Harbor's rules for labels, for every front end. Global labels are the system admins' to make,
/// change and delete, and every signed-in account sees them; a project's labels are its project
/// admins' and maintainers' (Harbor's RBAC gives the label resource to those two roles), and whoever
/// sees the project sees them. Putting a label on an artifact or taking it off needs the right to push
/// to the project (developer and up, as Harbor's artifact-label resource); the label must be global
/// or the artifact's own project's.
/// </summary>
public sealed partial class LabelRules(LabelStore store, IProjectStore projects, AccessEvaluator access)
{
    private const int MaxName = 128;

    public async Task<IReadOnlyList<Label>> ListAsync(Caller caller, string? scope, long? projectId, string? nameContains, string? exactName, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        scope ??= Label.Global;
        if (scope == Label.Global)
        {
            RequireSignedIn(caller);
            return await store.ListAsync(Label.Global, null, nameContains, exactName, cancellationToken).ConfigureAwait(false);
        }

        if (scope != Label.ProjectScope)
        {
            throw ApiException.BadRequest($"scope must be g or p, not \"{scope}\"");
        }

        var project = await VisibleProjectAsync(caller, projectId ?? throw ApiException.BadRequest("project_id is required for scope p"), cancellationToken).ConfigureAwait(false);
        return await store.ListAsync(Label.ProjectScope, project.Id, nameContains, exactName, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Label> GetAsync(Caller caller, long id, CancellationToken cancellationToken)
    {
        var label = await store.FindAsync(id, cancellationToken).ConfigureAwait(false) ?? throw NotFound(id);
        if (label.ProjectId is long projectId)
        {
            try
            {
                await VisibleProjectAsync(caller, projectId, cancellationToken).ConfigureAwait(false);
            }
            catch (ApiException)
            {
                throw NotFound(id);
            }
        }
        else
        {
            RequireSignedIn(caller);
        }

        return label;
    }

    public async Task<Label> CreateAsync(Caller caller, string? name, string? description, string? color, string? scope, long? projectId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        scope ??= Label.Global;
        long? owner = null;
        if (scope == Label.Global)
        {
            RequireSysAdmin(caller);
        }
        else if (scope == Label.ProjectScope)
        {
            var project = await VisibleProjectAsync(caller, projectId ?? throw ApiException.BadRequest("project_id is required for a project label (scope p)"), cancellationToken).ConfigureAwait(false);
            await RequireManagerAsync(caller, project, cancellationToken).ConfigureAwait(false);
            owner = project.Id;
        }
        else
        {
            throw ApiException.BadRequest($"scope must be g or p, not \"{scope}\"");
        }

        var (checkedName, checkedDescription, checkedColor) = Check(name, description, color);
        return await store.CreateAsync(checkedName, checkedDescription, checkedColor, scope, owner, cancellationToken).ConfigureAwait(false)
            ?? throw ApiException.Conflict($"a label named {checkedName} already exists in this scope");
    }

    /// <summary>Changes name, description and color; what the request leaves out stays as it is. Scope and project never change.</summary>
    public async Task<Label> UpdateAsync(Caller caller, long id, string? name, string? description, string? color, CancellationToken cancellationToken)
    {
        var label = await ManageableAsync(caller, id, cancellationToken).ConfigureAwait(false);
        var (checkedName, checkedDescription, checkedColor) = Check(name ?? label.Name, description ?? label.Description, color ?? label.Color);
        return await store.UpdateAsync(id, checkedName, checkedDescription, checkedColor, cancellationToken).ConfigureAwait(false) switch
        {
            true => label with { Name = checkedName, Description = checkedDescription, Color = checkedColor },
            false => throw NotFound(id),
            null => throw ApiException.Conflict($"a label named {checkedName} already exists in this scope"),
        };
    }

    public async Task<Label> DeleteAsync(Caller caller, long id, CancellationToken cancellationToken)
    {
        var label = await ManageableAsync(caller, id, cancellationToken).ConfigureAwait(false);
        if (!await store.DeleteAsync(id, cancellationToken).ConfigureAwait(false))
        {
            throw NotFound(id);
        }

        return label;
    }

    /// <summary>Puts the label on the artifact; the caller's right to push to the project was checked by the caller of this method.</summary>
    public async Task<Label> AttachAsync(Project project, ArtifactInfo artifact, long labelId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(project);
        ArgumentNullException.ThrowIfNull(artifact);
        var label = await store.FindAsync(labelId, cancellationToken).ConfigureAwait(false) ?? throw NotFound(labelId);
        if (label.ProjectId is long owner && owner != project.Id)
        {
            throw ApiException.BadRequest($"label {label.Name} belongs to another project: only global labels and {project.Name}'s own go on its artifacts");
        }

        bool added;
        try
        {
            added = await store.AttachAsync(labelId, artifact.RepositoryId, artifact.Digest, cancellationToken).ConfigureAwait(false);
        }
        catch (KeyNotFoundException)
        {
            throw ApiException.NotFound($"artifact {artifact.Digest} or label {labelId} was deleted meanwhile");
        }

        return added ? label : throw ApiException.Conflict($"the artifact already has label {label.Name}");
    }

    public async Task<Label> DetachAsync(ArtifactInfo artifact, long labelId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(artifact);
        var label = await store.FindAsync(labelId, cancellationToken).ConfigureAwait(false) ?? throw NotFound(labelId);
        return await store.DetachAsync(labelId, artifact.RepositoryId, artifact.Digest, cancellationToken).ConfigureAwait(false)
            ? label
            : throw ApiException.NotFound($"the artifact does not have label {label.Name}");
    }

    public Task<IReadOnlyDictionary<string, IReadOnlyList<Label>>> OfArtifactsAsync(long repositoryId, IReadOnlyCollection<string> digests, CancellationToken cancellationToken) =>
        store.OfArtifactsAsync(repositoryId, digests, cancellationToken);

    private async Task<Label> ManageableAsync(Caller caller, long id, CancellationToken cancellationToken)
    {
        var label = await GetAsync(caller, id, cancellationToken).ConfigureAwait(false);
        if (label.ProjectId is long projectId)
        {
            var project = await projects.FindByIdAsync(projectId, cancellationToken).ConfigureAwait(false) ?? throw NotFound(id);
            await RequireManagerAsync(caller, project, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            RequireSysAdmin(caller);
        }

        return label;
    }

    private async Task<Project> VisibleProjectAsync(Caller caller, long projectId, CancellationToken cancellationToken)
    {
        var project = await projects.FindByIdAsync(projectId, cancellationToken).ConfigureAwait(false);
        // The evaluator gives public projects' readers and system admins pull too.
        if (project is null || !(await access.EvaluateAsync(caller, project, cancellationToken).ConfigureAwait(false)).Actions.HasFlag(RepositoryActions.Pull))
        {
            throw ApiException.NotFound($"project {projectId} not found");
        }

        return project;
    }

    private async Task RequireManagerAsync(Caller caller, Project project, CancellationToken cancellationToken)
    {
        if (caller.IsSysAdmin)
        {
            return;
        }

        var role = caller.Kind == CallerKind.User ? await access.RoleAsync(caller, project, cancellationToken).ConfigureAwait(false) : null;
        if (role is not (ProjectRole.ProjectAdmin or ProjectRole.Maintainer))
        {
            throw ApiException.Forbidden($"only project admins and maintainers of {project.Name} manage its labels");
        }
    }

    private static void RequireSignedIn(Caller caller)
    {
        if (caller.IsAnonymous)
        {
            throw ApiException.Unauthorized();
        }
    }

    private static void RequireSysAdmin(Caller caller)
    {
        RequireSignedIn(caller);
        if (!caller.IsSysAdmin)
        {
            throw ApiException.Forbidden("only system admins manage global labels");
        }
    }

    private static (string Name, string Description, string Color) Check(string? name, string? description, string? color)
    {
        name = name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > MaxName || name.Any(char.IsControl))
        {
            throw ApiException.BadRequest($"a label's name is 1 to {MaxName} characters, none of them control characters");
        }

        description ??= string.Empty;
        if (description.Length > 1024)
        {
            throw ApiException.BadRequest("a label's description is at most 1024 characters");
        }

        color ??= string.Empty;
        if (color.Length > 0 && !ColorPattern().IsMatch(color))
        {
            throw ApiException.BadRequest($"color must be #RRGGBB, not \"{color}\"");
        }

        return (name, description, color);
    }

    private static ApiException NotFound(long id) => ApiException.NotFound($"label {id} not found");

    [GeneratedRegex("^#[0-9A-Fa-f]{6}$")]
    private static partial Regex ColorPattern();
}
