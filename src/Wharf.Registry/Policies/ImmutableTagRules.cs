using Wharf.Registry.Identity;
using Wharf.Registry.Management;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Policies;

/// <summary>A rule as a caller asks for it; the selectors are Harbor's (one tag and one repository selector).</summary>
public sealed record ImmutableTagRuleRequest(
    int Priority, bool Disabled, string? Action, string? Template,
    IReadOnlyList<ImmutableSelector>? TagSelectors, IReadOnlyDictionary<string, IReadOnlyList<ImmutableSelector>>? ScopeSelectors);

public sealed record ImmutableSelector(string? Kind, string? Decoration, string? Pattern) : IRuleSelector;

/// <summary>
/// Harbor's rules for immutable tag rules, for every front end: only project admins (and system
/// admins) list, add, change or delete them, as Harbor's RBAC gives the immutable-tag resource to the
/// project admin role alone; patterns are doublestar patterns, checked before anything is stored;
/// two rules with the same selectors are one rule too many (409, as Harbor).
/// </summary>
public sealed class ImmutableTagRules(ProjectMembership membership, IImmutableTagRuleStore store)
{
    public async Task<IReadOnlyList<ImmutableTagRule>> ListAsync(Caller caller, Project project, CancellationToken cancellationToken)
    {
        await membership.RequireProjectAdminAsync(caller, project, cancellationToken).ConfigureAwait(false);
        return await store.ListImmutableTagRulesAsync(project.Id, cancellationToken).ConfigureAwait(false);
    }

    public async Task<ImmutableTagRule> AddAsync(Caller caller, Project project, ImmutableTagRuleRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(project);
        await membership.RequireProjectAdminAsync(caller, project, cancellationToken).ConfigureAwait(false);
        var rule = Check(project, 0, request);
        await RequireUniqueAsync(rule, cancellationToken).ConfigureAwait(false);
        return await store.AddImmutableTagRuleAsync(rule, cancellationToken).ConfigureAwait(false);
    }

    public async Task<ImmutableTagRule> UpdateAsync(Caller caller, Project project, long ruleId, ImmutableTagRuleRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(project);
        await membership.RequireProjectAdminAsync(caller, project, cancellationToken).ConfigureAwait(false);
        var rule = Check(project, ruleId, request);
        await RequireUniqueAsync(rule, cancellationToken).ConfigureAwait(false);
        return await store.UpdateImmutableTagRuleAsync(rule, cancellationToken).ConfigureAwait(false)
            ? rule
            : throw ApiException.NotFound($"immutable tag rule {ruleId} not found in {project.Name}");
    }

    public async Task DeleteAsync(Caller caller, Project project, long ruleId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(project);
        await membership.RequireProjectAdminAsync(caller, project, cancellationToken).ConfigureAwait(false);
        if (!await store.DeleteImmutableTagRuleAsync(project.Id, ruleId, cancellationToken).ConfigureAwait(false))
        {
            throw ApiException.NotFound($"immutable tag rule {ruleId} not found in {project.Name}");
        }
    }

    private async Task RequireUniqueAsync(ImmutableTagRule rule, CancellationToken cancellationToken)
    {
        foreach (var other in await store.ListImmutableTagRulesAsync(rule.ProjectId, cancellationToken).ConfigureAwait(false))
        {
            if (other.Id != rule.Id && other.TagPattern == rule.TagPattern && other.TagExcludes == rule.TagExcludes
                && other.RepositoryPattern == rule.RepositoryPattern && other.RepositoryExcludes == rule.RepositoryExcludes)
            {
                throw ApiException.Conflict($"immutable tag rule {other.Id} already has these selectors");
            }
        }
    }

    /// <summary>The request as a rule, or 400 naming the first thing wrong with it.</summary>
    public static ImmutableTagRule Check(Project project, long id, ImmutableTagRuleRequest request)
    {
        ArgumentNullException.ThrowIfNull(project);
        ArgumentNullException.ThrowIfNull(request);
        if (request.Action is not (null or "immutable"))
        {
            throw ApiException.BadRequest($"action must be \"immutable\", not \"{request.Action}\"");
        }

        if (request.Template is not (null or "immutable_template"))
        {
            throw ApiException.BadRequest($"template must be \"immutable_template\", not \"{request.Template}\"");
        }

        if (request.TagSelectors is not { Count: 1 })
        {
            throw ApiException.BadRequest("tag_selectors must hold exactly one selector");
        }

        if (request.ScopeSelectors is null || request.ScopeSelectors.Count != 1
            || !request.ScopeSelectors.TryGetValue("repository", out var scopes) || scopes is not { Count: 1 })
        {
            throw ApiException.BadRequest("scope_selectors must hold exactly one \"repository\" selector");
        }

        var (tagPattern, tagExcludes) = RuleSelectors.ParseTag("tag_selectors", request.TagSelectors[0]);
        var (repoPattern, repoExcludes) = RuleSelectors.ParseRepository("scope_selectors.repository", scopes[0]);
        return new ImmutableTagRule(id, project.Name, project.Id, request.Priority, request.Disabled, tagPattern, tagExcludes, repoPattern, repoExcludes);
    }
}
