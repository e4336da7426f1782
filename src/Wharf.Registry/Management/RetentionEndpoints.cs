using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Identity;
using Wharf.Registry.Projects;
using Wharf.Registry.Retention;

namespace Wharf.Registry.Management;

/// <summary>
/// Harbor's tag retention API: <c>/retentions</c> (one policy per project, its id in the project's
/// <c>retention_id</c> metadata), <c>/retentions/{id}/executions</c> (POST <c>{"dry_run":true}</c> runs it),
/// their tasks (one per repository) and each task's log.
/// </summary>
internal static class RetentionEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/retentions/metadatas", Api.Handle(MetadataAsync));
        api.MapPost("/retentions", Api.Handle(CreateAsync));
        api.MapGet("/retentions/{id}", Api.Handle(GetAsync));
        api.MapPut("/retentions/{id}", Api.Handle(UpdateAsync));
        api.MapDelete("/retentions/{id}", Api.Handle(DeleteAsync));
        api.MapPost("/retentions/{id}/executions", Api.Handle(ExecuteAsync));
        api.MapGet("/retentions/{id}/executions", Api.Handle(ListExecutionsAsync));
        api.MapGet("/retentions/{id}/executions/{eid}", Api.Handle(GetExecutionAsync));
        api.MapMethods("/retentions/{id}/executions/{eid}", [HttpMethods.Patch], Api.Handle(OperateExecutionAsync));
        api.MapGet("/retentions/{id}/executions/{eid}/tasks", Api.Handle(ListTasksAsync));
        api.MapGet("/retentions/{id}/executions/{eid}/tasks/{tid}", Api.Handle(TaskLogAsync));
    }

    private static RetentionPolicies Policies(HttpContext context) => context.RequestServices.GetRequiredService<RetentionPolicies>();

    private static RetentionStore Store(HttpContext context) => context.RequestServices.GetRequiredService<RetentionStore>();

    private static Func<Project, Task<bool>> CanSee(HttpContext context, Caller caller) => project => Api.CanSeeAsync(context, caller, project);

    private static async Task<(Caller Caller, RetentionPolicy Policy, Project Project)> PolicyOfRouteAsync(HttpContext context)
    {
        var caller = await Api.CallerAsync(context).ConfigureAwait(false);
        long id = Api.Id(context, "id");
        var (policy, project) = await Policies(context).FindAsync(caller, id, CanSee(context, caller), context.RequestAborted).ConfigureAwait(false);
        return (caller, policy, project);
    }

    private static async Task<IResult> MetadataAsync(HttpContext context)
    {
        await Api.UserAsync(context).ConfigureAwait(false);
        var templates = RetentionTemplates.All.Select(t => new
        {
            rule_template = t.Key,
            display_text = t.Value.Display,
            action = "retain",
            @params = t.Value.Unit is null ? [] : new[] { new { type = "int", unit = t.Value.Unit, required = true } },
        });
        var selectors = new[] { new { display_text = "matches", kind = "doublestar", decoration = "matches" }, new { display_text = "excludes", kind = "doublestar", decoration = "excludes" } };
        var scopes = new[] { new { display_text = "repoMatches", kind = "doublestar", decoration = "repoMatches" }, new { display_text = "repoExcludes", kind = "doublestar", decoration = "repoExcludes" } };
        return Results.Json(new { templates, scope_selectors = scopes, tag_selectors = selectors }, Api.Json);
    }

    private static async Task<IResult> CreateAsync(HttpContext context)
    {
        var caller = await Api.CallerAsync(context).ConfigureAwait(false);
        var request = await Api.BodyAsync<RetentionPolicyRequest>(context).ConfigureAwait(false);
        var policies = Policies(context);
        var project = await policies.ScopeProjectAsync(request, CanSee(context, caller), context.RequestAborted).ConfigureAwait(false);
        var policy = await policies.CreateAsync(caller, project, request, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "create", "retention", $"{project.Name} retention {policy.Id}", project.Name);
        return Api.Created(context, $"{Api.Prefix}/retentions/{policy.Id}");
    }

    private static async Task<IResult> GetAsync(HttpContext context)
    {
        var (_, policy, _) = await PolicyOfRouteAsync(context).ConfigureAwait(false);
        return Results.Json(PolicyResponse.From(policy), Api.Json);
    }

    private static async Task<IResult> UpdateAsync(HttpContext context)
    {
        var (caller, policy, project) = await PolicyOfRouteAsync(context).ConfigureAwait(false);
        var policies = Policies(context);
        await policies.RequireManageAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
        var request = await Api.BodyAsync<RetentionPolicyRequest>(context).ConfigureAwait(false);
        await policies.UpdateAsync(caller, project, policy, request, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "update", "retention", $"{project.Name} retention {policy.Id}", project.Name);
        return Results.Ok();
    }

    private static async Task<IResult> DeleteAsync(HttpContext context)
    {
        var (caller, policy, project) = await PolicyOfRouteAsync(context).ConfigureAwait(false);
        await Policies(context).DeleteAsync(caller, project, policy, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "delete", "retention", $"{project.Name} retention {policy.Id}", project.Name);
        return Results.Ok();
    }

    private static async Task<IResult> ExecuteAsync(HttpContext context)
    {
        var (caller, policy, project) = await PolicyOfRouteAsync(context).ConfigureAwait(false);
        await Policies(context).RequireManageAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
        bool dryRun = false;
        if (context.Request.ContentLength is > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            var body = await Api.BodyAsync<Dictionary<string, JsonElement>>(context).ConfigureAwait(false);
            if (body.TryGetValue("dry_run", out var value))
            {
                dryRun = value.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    _ => throw ApiException.BadRequest("dry_run must be true or false"),
                };
            }
        }

        long? id = await context.RequestServices.GetRequiredService<RetentionRunner>()
            .StartAsync(policy, RetentionRunner.Manual, dryRun, context.Request.Host.Value ?? "", context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.Conflict($"retention policy {policy.Id} is already running");
        Api.Audit(context, caller, "create", "retention_execution", $"{project.Name} retention {policy.Id} execution {id}{(dryRun ? " (dry run)" : "")}", project.Name);
        return Api.Created(context, $"{Api.Prefix}/retentions/{policy.Id}/executions/{id}");
    }

    private static async Task<IResult> ListExecutionsAsync(HttpContext context)
    {
        var (_, policy, _) = await PolicyOfRouteAsync(context).ConfigureAwait(false);
        var (page, pageSize) = Api.Paging(context);
        var (list, total) = await Store(context).ListExecutionsAsync(policy.Id, page, pageSize, context.RequestAborted).ConfigureAwait(false);
        Api.WritePaging(context, total, page, pageSize);
        return Results.Json(list.Select(ExecutionResponse.From).ToList(), Api.Json);
    }

    private static async Task<RetentionExecution> ExecutionOfRouteAsync(HttpContext context, RetentionPolicy policy)
    {
        long eid = Api.Id(context, "eid");
        return await Store(context).FindExecutionAsync(policy.Id, eid, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"execution {eid} of retention policy {policy.Id} not found");
    }

    private static async Task<IResult> GetExecutionAsync(HttpContext context)
    {
        var (_, policy, _) = await PolicyOfRouteAsync(context).ConfigureAwait(false);
        return Results.Json(ExecutionResponse.From(await ExecutionOfRouteAsync(context, policy).ConfigureAwait(false)), Api.Json);
    }

    /// <summary>
    /// Harbor's <c>PATCH …/executions/{eid}</c> with <c>{"action":"stop"}</c>: a running execution stops
    /// after the deletion under way (what went stays gone) and ends Stopped; one already finished is
    /// left as it is (200, as Harbor). Any other action is 400.
    /// </summary>
    private static async Task<IResult> OperateExecutionAsync(HttpContext context)
    {
        var (caller, policy, project) = await PolicyOfRouteAsync(context).ConfigureAwait(false);
        await Policies(context).RequireManageAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
        var execution = await ExecutionOfRouteAsync(context, policy).ConfigureAwait(false);
        var body = await Api.BodyAsync<Dictionary<string, JsonElement>>(context).ConfigureAwait(false);
        if (!body.TryGetValue("action", out var action) || action.ValueKind != JsonValueKind.String || action.GetString() != "stop")
        {
            throw ApiException.BadRequest("action must be \"stop\"");
        }

        if (execution.Status == RetentionStatus.Running
            && context.RequestServices.GetRequiredService<RetentionRunner>().Stop(execution.Id))
        {
            Api.Audit(context, caller, "update", "retention_execution", $"{project.Name} retention {policy.Id} execution {execution.Id} stopped", project.Name);
        }

        return Results.Ok();
    }

    private static async Task<IResult> ListTasksAsync(HttpContext context)
    {
        var (_, policy, _) = await PolicyOfRouteAsync(context).ConfigureAwait(false);
        var execution = await ExecutionOfRouteAsync(context, policy).ConfigureAwait(false);
        var (page, pageSize) = Api.Paging(context);
        var (list, total) = await Store(context).ListTasksAsync(execution.Id, page, pageSize, context.RequestAborted).ConfigureAwait(false);
        Api.WritePaging(context, total, page, pageSize);
        return Results.Json(list.Select(TaskResponse.From).ToList(), Api.Json);
    }

    private static async Task<IResult> TaskLogAsync(HttpContext context)
    {
        var (_, policy, _) = await PolicyOfRouteAsync(context).ConfigureAwait(false);
        var execution = await ExecutionOfRouteAsync(context, policy).ConfigureAwait(false);
        long tid = Api.Id(context, "tid");
        string log = await Store(context).TaskLogAsync(execution.Id, tid, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"task {tid} of execution {execution.Id} not found");
        return Results.Text(log, "text/plain");
    }

    /// <summary>Harbor's RetentionPolicy.</summary>
    internal sealed record PolicyResponse(long Id, string Algorithm, IReadOnlyList<RuleResponse> Rules, TriggerResponse Trigger, ScopeResponse Scope)
    {
        public static PolicyResponse From(RetentionPolicy p) => new(
            p.Id, p.Algorithm, p.Rules.Select(RuleResponse.From).ToList(),
            new TriggerResponse("Schedule", new Dictionary<string, string> { ["cron"] = p.Cron ?? "" }, []),
            new ScopeResponse("project", p.ProjectId));
    }

    internal sealed record RuleResponse(
        int Id, int Priority, bool Disabled, string Action, string Template, Dictionary<string, int> Params,
        IReadOnlyList<SelectorResponse> TagSelectors, Dictionary<string, IReadOnlyList<SelectorResponse>> ScopeSelectors)
    {
        public static RuleResponse From(RetentionRule r) => new(
            r.Id, r.Priority, r.Disabled, "retain", r.Template,
            r.Parameter is { } n ? new Dictionary<string, int> { [r.Template] = n } : [],
            [new SelectorResponse("doublestar", r.TagExcludes ? "excludes" : "matches", r.TagPattern, r.Untagged ? "{\"untagged\":true}" : "{\"untagged\":false}")],
            new() { ["repository"] = [new SelectorResponse("doublestar", r.RepositoryExcludes ? "repoExcludes" : "repoMatches", r.RepositoryPattern, null)] });
    }

    internal sealed record SelectorResponse(string Kind, string Decoration, string Pattern, string? Extras);

    internal sealed record TriggerResponse(string Kind, Dictionary<string, string> Settings, Dictionary<string, string> References);

    internal sealed record ScopeResponse(string Level, long Ref);

    /// <summary>Harbor's RetentionExecution, with what the run removed and freed.</summary>
    internal sealed record ExecutionResponse(
        long Id, long PolicyId, string StartTime, string? EndTime, string Status, string Trigger, bool DryRun,
        long Removed, long ReleasedBytes, long? GcId, long? GcBytesFreed)
    {
        public static ExecutionResponse From(RetentionExecution e) => new(
            e.Id, e.PolicyId, Api.Time(e.StartTime), e.EndTime is { } end ? Api.Time(end) : null, e.Status, e.Trigger, e.DryRun,
            e.Removed, e.ReleasedBytes, e.GcRunId, e.GcBytesFreed);
    }

    /// <summary>Harbor's RetentionExecutionTask.</summary>
    internal sealed record TaskResponse(
        long Id, long ExecutionId, string Repository, string JobId, string Status, int StatusCode, long StatusRevision,
        string StartTime, string? EndTime, int Total, int Retained)
    {
        public static TaskResponse From(RetentionTask t) => new(
            t.Id, t.ExecutionId, t.Repository, t.Id.ToString(CultureInfo.InvariantCulture), t.Status, 0, 0,
            Api.Time(t.StartTime), t.EndTime is { } end ? Api.Time(end) : null, t.Total, t.Retained);
    }
}
