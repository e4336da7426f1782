using System.Text.Json;
using Wharf.Registry.Auth;
using Wharf.Registry.Identity;
using Wharf.Registry.Management;
using Wharf.Registry.Policies;
using Wharf.Registry.Projects;
using Wharf.Registry.Replication;

namespace Wharf.Registry.Retention;

/// <summary>A policy as a caller sends it (Harbor's RetentionPolicy).</summary>
public sealed record RetentionPolicyRequest(
    string? Algorithm, IReadOnlyList<RetentionRuleRequest>? Rules, RetentionTriggerRequest? Trigger, RetentionScopeRequest? Scope);

public sealed record RetentionRuleRequest(
    int? Id, int Priority, bool Disabled, string? Action, string? Template, Dictionary<string, JsonElement>? Params,
    IReadOnlyList<RetentionSelectorRequest>? TagSelectors, Dictionary<string, IReadOnlyList<RetentionSelectorRequest>>? ScopeSelectors);

public sealed record RetentionSelectorRequest(string? Kind, string? Decoration, string? Pattern, string? Extras) : IRuleSelector;

public sealed record RetentionTriggerRequest(string? Kind, Dictionary<string, JsonElement>? Settings);

public sealed record RetentionScopeRequest(string? Level, long? Ref);

/// <summary>
/// Harbor's rules for retention policies, for every front end: one policy per project; project admins
/// and maintainers (and system admins) create, change, delete and run it, as Harbor's RBAC gives them
/// the tag-retention resource; developers and guests may read it and its runs; limited guests and
/// robots nothing. A policy is checked whole before anything is stored.
/// </summary>
public sealed class RetentionPolicies(RetentionStore store, IProjectStore projects, AccessEvaluator access)
{
    /// <summary>Harbor's limit of rules in one policy.</summary>
    public const int MaxRules = 15;

    public async Task RequireReadAsync(Caller caller, Project project, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (caller.Kind != CallerKind.User
            || await access.RoleAsync(caller, project, cancellationToken).ConfigureAwait(false) is null or ProjectRole.LimitedGuest)
        {
            throw caller.IsAnonymous ? ApiException.Unauthorized() : ApiException.Forbidden($"{caller.Name} may not read the retention policy of {project.Name}");
        }
    }

    public async Task RequireManageAsync(Caller caller, Project project, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (caller.Kind != CallerKind.User
            || await access.RoleAsync(caller, project, cancellationToken).ConfigureAwait(false) is not (ProjectRole.ProjectAdmin or ProjectRole.Maintainer))
        {
            throw caller.IsAnonymous ? ApiException.Unauthorized() : ApiException.Forbidden($"only project admins and maintainers of {project.Name} may change or run its retention policy");
        }
    }

    /// <summary>The policy and its project, or 404 (also when the caller may not see the project).</summary>
    public async Task<(RetentionPolicy Policy, Project Project)> FindAsync(Caller caller, long id, Func<Project, Task<bool>> canSee, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(canSee);
        var policy = await store.FindPolicyAsync(id, cancellationToken).ConfigureAwait(false);
        var project = policy is null ? null : await projects.FindByIdAsync(policy.ProjectId, cancellationToken).ConfigureAwait(false);
        if (policy is null || project is null || !await canSee(project).ConfigureAwait(false))
        {
            throw ApiException.NotFound($"retention policy {id} not found");
        }

        await RequireReadAsync(caller, project, cancellationToken).ConfigureAwait(false);
        return (policy, project);
    }

    /// <summary>The project the request's scope names, or 400/404.</summary>
    public async Task<Project> ScopeProjectAsync(RetentionPolicyRequest request, Func<Project, Task<bool>> canSee, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(canSee);
        if (request.Scope is not { Level: "project", Ref: long projectId })
        {
            throw ApiException.BadRequest("scope must be {\"level\":\"project\",\"ref\":<project id>}");
        }

        var project = await projects.FindByIdAsync(projectId, cancellationToken).ConfigureAwait(false);
        return project is not null && await canSee(project).ConfigureAwait(false)
            ? project
            : throw ApiException.NotFound($"project {projectId} not found");
    }

    public async Task<RetentionPolicy> CreateAsync(Caller caller, Project project, RetentionPolicyRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(project);
        await RequireManageAsync(caller, project, cancellationToken).ConfigureAwait(false);
        var policy = Check(project, 0, request);
        return await store.CreatePolicyAsync(policy, cancellationToken).ConfigureAwait(false)
            ?? throw ApiException.Conflict($"project {project.Name} already has a retention policy");
    }

    public async Task<RetentionPolicy> UpdateAsync(Caller caller, Project project, RetentionPolicy existing, RetentionPolicyRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(project);
        ArgumentNullException.ThrowIfNull(existing);
        await RequireManageAsync(caller, project, cancellationToken).ConfigureAwait(false);
        if (request.Scope is { Ref: long other } && other != project.Id)
        {
            throw ApiException.BadRequest("a policy's scope cannot move to another project");
        }

        var policy = Check(project, existing.Id, request with { Scope = new RetentionScopeRequest("project", project.Id) });
        return await store.UpdatePolicyAsync(policy, cancellationToken).ConfigureAwait(false)
            ? policy with { CreatedAt = existing.CreatedAt }
            : throw ApiException.NotFound($"retention policy {existing.Id} not found");
    }

    public async Task DeleteAsync(Caller caller, Project project, RetentionPolicy policy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        await RequireManageAsync(caller, project, cancellationToken).ConfigureAwait(false);
        if (!await store.DeletePolicyAsync(policy.Id, cancellationToken).ConfigureAwait(false))
        {
            throw ApiException.NotFound($"retention policy {policy.Id} not found");
        }
    }

    /// <summary>The request as a policy, or 400 naming the first thing wrong with it.</summary>
    public static RetentionPolicy Check(Project project, long id, RetentionPolicyRequest request)
    {
        ArgumentNullException.ThrowIfNull(project);
        ArgumentNullException.ThrowIfNull(request);
        if (request.Algorithm is not (null or "or"))
        {
            throw ApiException.BadRequest($"algorithm must be \"or\", not \"{request.Algorithm}\"");
        }

        var rules = request.Rules ?? [];
        if (rules.Count > MaxRules)
        {
            throw ApiException.BadRequest($"a policy holds at most {MaxRules} rules, not {rules.Count}");
        }

        var checkedRules = new List<RetentionRule>(rules.Count);
        for (int i = 0; i < rules.Count; i++)
        {
            checkedRules.Add(CheckRule($"rules[{i}]", i + 1, rules[i]));
        }

        string? cron = Cron(request.Trigger);
        var now = DateTimeOffset.UnixEpoch;
        return new RetentionPolicy(id, project.Id, "or", checkedRules, cron, now, now);
    }

    private static string? Cron(RetentionTriggerRequest? trigger)
    {
        if (trigger is null)
        {
            return null;
        }

        if (trigger.Kind is not (null or "Schedule"))
        {
            throw ApiException.BadRequest($"trigger.kind must be \"Schedule\", not \"{trigger.Kind}\"");
        }

        if (trigger.Settings is null || !trigger.Settings.TryGetValue("cron", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            throw ApiException.BadRequest("trigger.settings.cron must be a string");
        }

        string text = value.GetString()!;
        if (text.Trim().Length == 0)
        {
            return null; // Harbor's "None": run on demand only
        }

        if (!ReplicationPolicy.TryParseCron(text, out _, out string? error))
        {
            throw ApiException.BadRequest(error!.Replace("trigger.trigger_settings.cron", "trigger.settings.cron", StringComparison.Ordinal));
        }

        return text.Trim();
    }

    private static RetentionRule CheckRule(string field, int id, RetentionRuleRequest? rule)
    {
        if (rule is null)
        {
            throw ApiException.BadRequest($"{field}: the rule is missing");
        }

        if (rule.Action is not (null or "retain"))
        {
            throw ApiException.BadRequest($"{field}.action must be \"retain\", not \"{rule.Action}\"");
        }

        if (rule.Template is null || !RetentionTemplates.All.TryGetValue(rule.Template, out var template))
        {
            throw ApiException.BadRequest($"{field}.template must be one of {string.Join(", ", RetentionTemplates.All.Keys)}; not \"{rule.Template}\"");
        }

        int? parameter = null;
        if (template.Unit is not null)
        {
            if (rule.Params is null || !rule.Params.TryGetValue(rule.Template, out var value))
            {
                throw ApiException.BadRequest($"{field}.params.{rule.Template} is required");
            }

            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int n) || n < 0 || n > 10_000_000)
            {
                throw ApiException.BadRequest($"{field}.params.{rule.Template} must be a whole number from 0");
            }

            parameter = n;
        }

        if (rule.TagSelectors is not { Count: 1 })
        {
            throw ApiException.BadRequest($"{field}.tag_selectors must hold exactly one selector");
        }

        if (rule.ScopeSelectors is null || rule.ScopeSelectors.Count != 1
            || !rule.ScopeSelectors.TryGetValue("repository", out var scopes) || scopes is not { Count: 1 })
        {
            throw ApiException.BadRequest($"{field}.scope_selectors must hold exactly one \"repository\" selector");
        }

        var (tagPattern, tagExcludes) = RuleSelectors.ParseTag($"{field}.tag_selectors[0]", rule.TagSelectors[0]);
        var (repoPattern, repoExcludes) = RuleSelectors.ParseRepository($"{field}.scope_selectors.repository[0]", scopes[0]);
        bool untagged = Untagged($"{field}.tag_selectors[0].extras", rule.TagSelectors[0].Extras);
        return new RetentionRule(id, rule.Priority, rule.Disabled, rule.Template, parameter, tagPattern, tagExcludes, untagged, repoPattern, repoExcludes);
    }

    /// <summary>Harbor carries the untagged option as a JSON string in the tag selector's extras: <c>{"untagged":true}</c>.</summary>
    private static bool Untagged(string field, string? extras)
    {
        if (string.IsNullOrWhiteSpace(extras))
        {
            return false;
        }

        try
        {
            using var doc = JsonDocument.Parse(extras);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw ApiException.BadRequest($"{field} must be a JSON object such as {{\"untagged\":true}}");
            }

            if (!doc.RootElement.TryGetProperty("untagged", out var value))
            {
                return false;
            }

            return value.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw ApiException.BadRequest($"{field}: untagged must be true or false"),
            };
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"{field} is not JSON: {e.Message}");
        }
    }
}
