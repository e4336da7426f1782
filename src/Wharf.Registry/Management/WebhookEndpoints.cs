using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Projects;
using Wharf.Registry.Webhooks;

namespace Wharf.Registry.Management;

/// <summary>
/// Harbor's webhook API of a project: policies (<c>/projects/{project_name_or_id}/webhook/policies</c>),
/// the supported event types (<c>…/webhook/events</c>) and the delivery log as Harbor 2.8+ shows it:
/// executions of a policy, their tasks, and each task's log.
/// </summary>
internal static class WebhookEndpoints
{
    private const string Path = "/projects/{project_name_or_id}/webhook";
    private const string Policy = Path + "/policies/{webhook_policy_id}";
    private const string Execution = Policy + "/executions/{execution_id}";

    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet(Path + "/policies", Api.Handle(ListAsync));
        api.MapPost(Path + "/policies", Api.Handle(CreateAsync));
        api.MapGet(Policy, Api.Handle(GetAsync));
        api.MapPut(Policy, Api.Handle(UpdateAsync));
        api.MapDelete(Policy, Api.Handle(DeleteAsync));
        api.MapGet(Path + "/events", Api.Handle(EventTypesAsync));
        api.MapGet(Policy + "/executions", Api.Handle(ExecutionsAsync));
        api.MapGet(Execution + "/tasks", Api.Handle(TasksAsync));
        api.MapGet(Execution + "/tasks/{task_id}/log", Api.Handle(TaskLogAsync));
    }

    private static WebhookPolicies Policies(HttpContext context) => context.RequestServices.GetRequiredService<WebhookPolicies>();

    private static WebhookStore Store(HttpContext context) => context.RequestServices.GetRequiredService<WebhookStore>();

    private static async Task<(Identity.Caller Caller, Project Project)> ProjectAsync(HttpContext context)
    {
        var caller = await Api.CallerAsync(context).ConfigureAwait(false);
        var project = await Api.ProjectAsync(context, caller).ConfigureAwait(false);
        return (caller, project);
    }

    private static async Task<IResult> ListAsync(HttpContext context)
    {
        var (caller, project) = await ProjectAsync(context).ConfigureAwait(false);
        var policies = await Policies(context).ListAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
        return Results.Json(Api.Page(context, policies).Select(PolicyResponse.From).ToList(), Api.Json);
    }

    private static async Task<IResult> GetAsync(HttpContext context)
    {
        var (caller, project) = await ProjectAsync(context).ConfigureAwait(false);
        long id = Api.Id(context, "webhook_policy_id");
        var policy = await Policies(context).GetAsync(caller, project, id, context.RequestAborted).ConfigureAwait(false);
        return Results.Json(PolicyResponse.From(policy), Api.Json);
    }

    private static async Task<IResult> CreateAsync(HttpContext context)
    {
        var (caller, project) = await ProjectAsync(context).ConfigureAwait(false);
        var policies = Policies(context);
        // Permission before the body, so a caller who may not learns nothing from a 400.
        await policies.RequireAdminAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
        var request = await Api.BodyAsync<WebhookPolicyRequest>(context).ConfigureAwait(false);
        var policy = await policies.CreateAsync(caller, project, request, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "create", "webhook_policy", $"{project.Name} webhook {policy.Name}", project.Name);
        return Api.Created(context, $"{Api.Prefix}/projects/{project.Id}/webhook/policies/{policy.Id}");
    }

    private static async Task<IResult> UpdateAsync(HttpContext context)
    {
        var (caller, project) = await ProjectAsync(context).ConfigureAwait(false);
        long id = Api.Id(context, "webhook_policy_id");
        var policies = Policies(context);
        await policies.RequireAdminAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
        var request = await Api.BodyAsync<WebhookPolicyRequest>(context).ConfigureAwait(false);
        var policy = await policies.UpdateAsync(caller, project, id, request, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "update", "webhook_policy", $"{project.Name} webhook {policy.Name}", project.Name);
        return Results.Ok();
    }

    private static async Task<IResult> DeleteAsync(HttpContext context)
    {
        var (caller, project) = await ProjectAsync(context).ConfigureAwait(false);
        long id = Api.Id(context, "webhook_policy_id");
        await Policies(context).DeleteAsync(caller, project, id, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "delete", "webhook_policy", $"{project.Name} webhook {id}", project.Name);
        return Results.Ok();
    }

    private static async Task<IResult> EventTypesAsync(HttpContext context)
    {
        var (caller, project) = await ProjectAsync(context).ConfigureAwait(false);
        await Policies(context).RequireAdminAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
        return Results.Json(new
        {
            event_type = WebhookEventTypes.All,
            notify_type = new[] { "http" },
            payload_formats = new[] { new { notify_type = "http", formats = new[] { WebhookPayloadFormats.Default, WebhookPayloadFormats.CloudEvents } } },
        }, Api.Json);
    }

    private static async Task<IResult> ExecutionsAsync(HttpContext context)
    {
        var (caller, project) = await ProjectAsync(context).ConfigureAwait(false);
        var policy = await Policies(context).GetAsync(caller, project, Api.Id(context, "webhook_policy_id"), context.RequestAborted).ConfigureAwait(false);
        var (page, pageSize) = Api.Paging(context);
        var (executions, total) = await Store(context).ListExecutionsAsync(policy.Id, page, pageSize, context.RequestAborted).ConfigureAwait(false);
        Api.WritePaging(context, total, page, pageSize);
        return Results.Json(executions.Select(ExecutionResponse.From).ToList(), Api.Json);
    }

    private static async Task<WebhookExecution> ExecutionOfAsync(HttpContext context)
    {
        var (caller, project) = await ProjectAsync(context).ConfigureAwait(false);
        var policy = await Policies(context).GetAsync(caller, project, Api.Id(context, "webhook_policy_id"), context.RequestAborted).ConfigureAwait(false);
        long executionId = Api.Id(context, "execution_id");
        return await Store(context).FindExecutionAsync(policy.Id, executionId, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"execution {executionId} of webhook policy {policy.Id} not found");
    }

    private static async Task<IResult> TasksAsync(HttpContext context)
    {
        var execution = await ExecutionOfAsync(context).ConfigureAwait(false);
        var tasks = await Store(context).ListTasksAsync(execution.Id, context.RequestAborted).ConfigureAwait(false);
        return Results.Json(Api.Page(context, tasks).Select(TaskResponse.From).ToList(), Api.Json);
    }

    private static async Task<IResult> TaskLogAsync(HttpContext context)
    {
        var execution = await ExecutionOfAsync(context).ConfigureAwait(false);
        long taskId = Api.Id(context, "task_id");
        string log = await Store(context).TaskLogAsync(execution.Id, taskId, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"task {taskId} of execution {execution.Id} not found");
        return Results.Text(log, "text/plain; charset=utf-8");
    }

    /// <summary>Harbor's WebhookPolicy.</summary>
    internal sealed record PolicyResponse(
        long Id, string Name, string? Description, long ProjectId, IReadOnlyList<TargetResponse> Targets, IReadOnlyList<string> EventTypes,
        string Creator, string CreationTime, string UpdateTime, bool Enabled)
    {
        public static PolicyResponse From(WebhookPolicy p) => new(
            p.Id, p.Name, p.Description, p.ProjectId,
            p.Targets.Select(t => new TargetResponse(t.Type, t.Address, t.AuthHeader, t.SkipCertVerify, t.PayloadFormat)).ToList(),
            p.EventTypes, p.Creator, Api.Time(p.CreatedAt), Api.Time(p.UpdatedAt), p.Enabled);
    }

    /// <summary>Harbor's WebhookTargetObject.</summary>
    internal sealed record TargetResponse(string Type, string Address, string? AuthHeader, bool SkipCertVerify, string PayloadFormat);

    /// <summary>Harbor's Execution (vendor WEBHOOK: one event for one policy).</summary>
    internal sealed record ExecutionResponse(
        long Id, string VendorType, long VendorId, string Status, ExecutionMetrics Metrics, string Trigger, Dictionary<string, string> ExtraAttrs,
        string StartTime, string? EndTime)
    {
        public static ExecutionResponse From(WebhookExecution e) => new(
            e.Id, "WEBHOOK", e.PolicyId, e.Status,
            new ExecutionMetrics(e.Total, e.Succeeded, e.Failed, e.InProgress, 0, 0, 0), "EVENT",
            new() { ["event_type"] = e.EventType }, Api.Time(e.StartTime), e.EndTime is { } end ? Api.Time(end) : null);
    }

    internal sealed record ExecutionMetrics(
        int TaskCount, int SuccessTaskCount, int ErrorTaskCount, int PendingTaskCount, int RunningTaskCount, int ScheduledTaskCount, int StoppedTaskCount);

    /// <summary>Harbor's Task: one delivery to one target; run_count is the attempts made.</summary>
    internal sealed record TaskResponse(
        long Id, long ExecutionId, string Status, string? StatusMessage, int RunCount, Dictionary<string, string> ExtraAttrs,
        string CreationTime, string? StartTime, string UpdateTime, string? EndTime)
    {
        public static TaskResponse From(WebhookTask t) => new(
            t.Id, t.ExecutionId, t.Status, t.StatusMessage, t.RunCount, new() { ["address"] = t.Address }, Api.Time(t.CreatedAt),
            t.StartTime is { } s ? Api.Time(s) : null, Api.Time(t.UpdatedAt), t.EndTime is { } e ? Api.Time(e) : null);
    }
}
