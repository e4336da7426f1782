using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Policies;

namespace Wharf.Registry.Management;

/// <summary>Harbor's immutable tag rules of a project: <c>/projects/{project_name_or_id}/immutabletagrules</c>.</summary>
internal static class ImmutableTagRuleEndpoints
{
    private const string Path = "/projects/{project_name_or_id}/immutabletagrules";

    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet(Path, Api.Handle(ListAsync));
        api.MapPost(Path, Api.Handle(CreateAsync));
        api.MapPut(Path + "/{immutable_rule_id}", Api.Handle(UpdateAsync));
        api.MapDelete(Path + "/{immutable_rule_id}", Api.Handle(DeleteAsync));
    }

    private static ImmutableTagRules Rules(HttpContext context) => context.RequestServices.GetRequiredService<ImmutableTagRules>();

    private static async Task<IResult> ListAsync(HttpContext context)
    {
        var caller = await Api.CallerAsync(context).ConfigureAwait(false);
        var project = await Api.ProjectAsync(context, caller).ConfigureAwait(false);
        var rules = await Rules(context).ListAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
        return Results.Json(Api.Page(context, rules).Select(RuleResponse.From).ToList(), Api.Json);
    }

    private static async Task<IResult> CreateAsync(HttpContext context)
    {
        var caller = await Api.CallerAsync(context).ConfigureAwait(false);
        var project = await Api.ProjectAsync(context, caller).ConfigureAwait(false);
        var rules = Rules(context);
        // Permission before the body, so a caller who may not learns nothing from a 400.
        await rules.ListAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
        var request = await Api.BodyAsync<ImmutableTagRuleRequest>(context).ConfigureAwait(false);
        var rule = await rules.AddAsync(caller, project, request, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "create", "immutable_tag_rule", $"{project.Name} rule {rule.Id}", project.Name);
        return Api.Created(context, $"{Api.Prefix}/projects/{project.Id}/immutabletagrules/{rule.Id}");
    }

    private static async Task<IResult> UpdateAsync(HttpContext context)
    {
        var caller = await Api.CallerAsync(context).ConfigureAwait(false);
        var project = await Api.ProjectAsync(context, caller).ConfigureAwait(false);
        long id = Api.Id(context, "immutable_rule_id");
        var rules = Rules(context);
        await rules.ListAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
        var request = await Api.BodyAsync<ImmutableTagRuleRequest>(context).ConfigureAwait(false);
        await rules.UpdateAsync(caller, project, id, request, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "update", "immutable_tag_rule", $"{project.Name} rule {id}", project.Name);
        return Results.Ok();
    }

    private static async Task<IResult> DeleteAsync(HttpContext context)
    {
        var caller = await Api.CallerAsync(context).ConfigureAwait(false);
        var project = await Api.ProjectAsync(context, caller).ConfigureAwait(false);
        long id = Api.Id(context, "immutable_rule_id");
        await Rules(context).DeleteAsync(caller, project, id, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "delete", "immutable_tag_rule", $"{project.Name} rule {id}", project.Name);
        return Results.Ok();
    }

    /// <summary>Harbor's ImmutableRule.</summary>
    internal sealed record RuleResponse(
        long Id, long ProjectId, int Priority, bool Disabled, string Action, string Template, Dictionary<string, object> Params,
        IReadOnlyList<SelectorResponse> TagSelectors, Dictionary<string, IReadOnlyList<SelectorResponse>> ScopeSelectors)
    {
        public static RuleResponse From(ImmutableTagRule rule) => new(
            rule.Id, rule.ProjectId, rule.Priority, rule.Disabled, "immutable", "immutable_template", [],
            [new SelectorResponse("doublestar", rule.TagExcludes ? "excludes" : "matches", rule.TagPattern)],
            new() { ["repository"] = [new SelectorResponse("doublestar", rule.RepositoryExcludes ? "repoExcludes" : "repoMatches", rule.RepositoryPattern)] });
    }

    internal sealed record SelectorResponse(string Kind, string Decoration, string Pattern);
}
