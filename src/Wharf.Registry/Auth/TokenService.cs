using Wharf.Oci;
using Wharf.Registry.Identity;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Auth;

/// <summary>
/// Decides what a token grants: for each requested scope, the intersection of the actions asked
/// for and those the caller holds (Docker token spec, "Requesting a Token"). Scopes the caller holds
/// nothing of are left out rather than refused, as the spec describes.
/// </summary>
public sealed class TokenService(AccessEvaluator evaluator)
{
    public async Task<IReadOnlyList<GrantedAccess>> GrantAsync(Caller caller, IEnumerable<string> scopes, CancellationToken cancellationToken)
    {
        var requested = new Dictionary<(string Type, string Name), RepositoryActions>();
        bool catalog = false;
        foreach (string scope in scopes.SelectMany(s => s.Split(' ', StringSplitOptions.RemoveEmptyEntries)))
        {
            if (!TryParseScope(scope, out string type, out string name, out string[] actions))
            {
                continue;
            }

            if (type == "registry" && name == "catalog" && actions.Contains("*"))
            {
                catalog = true;
            }
            else if (type == "repository" && RepositoryName.TryParse(name, out _, out _))
            {
                var asked = actions.Aggregate(RepositoryActions.None, (all, a) => all | ProjectRoles.ParseAction(a));
                requested[(type, name)] = requested.GetValueOrDefault((type, name)) | asked;
            }
        }

        var granted = new List<GrantedAccess>();
        var byProject = new Dictionary<string, ProjectAccess>(StringComparer.Ordinal);
        foreach (var ((type, name), asked) in requested)
        {
            string project = RepositoryName.Parse(name).Project;
            if (!byProject.TryGetValue(project, out var access))
            {
                access = await evaluator.EvaluateAsync(caller, project, cancellationToken).ConfigureAwait(false);
                byProject[project] = access;
            }

            var actions = asked & access.Actions;
            if (actions != RepositoryActions.None)
            {
                granted.Add(new GrantedAccess(type, name, [.. actions.Names()]));
            }
        }

        // Anyone may list the catalog; the listing shows each caller only what it may pull.
        if (catalog)
        {
            granted.Add(new GrantedAccess("registry", "catalog", ["*"]));
        }

        return granted;
    }

    /// <summary>
    /// <c>type[(class)]:name:actions</c>; the name may itself hold colons (a host with a port), so
    /// type ends at the first colon and actions start after the last.
    /// </summary>
    public static bool TryParseScope(string scope, out string type, out string name, out string[] actions)
    {
        type = name = "";
        actions = [];
        int first = scope.IndexOf(':', StringComparison.Ordinal);
        int last = scope.LastIndexOf(':');
        if (first <= 0 || last <= first + 1)
        {
            return false;
        }

        type = scope[..first];
        int paren = type.IndexOf('(', StringComparison.Ordinal);
        if (paren >= 0)
        {
            type = type[..paren];
        }

        name = scope[(first + 1)..last];
        actions = scope[(last + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return actions.Length > 0;
    }
}
