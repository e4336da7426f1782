using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Proxy;
using Wharf.Registry.Replication;

namespace Wharf.Registry.Management;

/// <summary>
/// Harbor's replication API (/replication/policies, /replication/executions and their tasks) in its
/// swagger's shapes. System admins only, as in Harbor. Registry id 0 or null names this wharfd.
/// </summary>
internal static class ReplicationEndpoints
{
    private static readonly HashSet<string> FilterTypes = new(StringComparer.Ordinal) { "name", "tag", "label", "resource" };

    public static void Map(RouteGroupBuilder api)
    {
        api.MapPost("/replication/policies", Api.Handle(CreateAsync));
        api.MapGet("/replication/policies", Api.Handle(ListAsync));
        api.MapGet("/replication/policies/{id}", Api.Handle(GetAsync));
        api.MapPut("/replication/policies/{id}", Api.Handle(UpdateAsync));
        api.MapDelete("/replication/policies/{id}", Api.Handle(DeleteAsync));
        api.MapPost("/replication/executions", Api.Handle(StartAsync));
        api.MapGet("/replication/executions", Api.Handle(ListExecutionsAsync));
        api.MapGet("/replication/executions/{id}", Api.Handle(GetExecutionAsync));
        api.MapPut("/replication/executions/{id}", Api.Handle(StopAsync));
        api.MapGet("/replication/executions/{id}/tasks", Api.Handle(ListTasksAsync));
        api.MapGet("/replication/executions/{id}/tasks/{task_id}/log", Api.Handle(TaskLogAsync));
    }

    private static async Task<IResult> CreateAsync(HttpContext context)
    {
        var caller = await Api.SysAdminAsync(context).ConfigureAwait(false);
        var request = await Api.BodyAsync<PolicyRequest>(context).ConfigureAwait(false);
        var policy = await ValidateAsync(context, request, existing: null).ConfigureAwait(false);
        var created = await Store(context).CreatePolicyAsync(policy, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.Conflict($"policy {policy.Name} already exists");
        Api.Audit(context, caller, "create", "replication_policy", created.Name, null);
        return Api.Created(context, $"{Api.Prefix}/replication/policies/{created.Id}");
    }

    private static async Task<IResult> ListAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        var all = await Store(context).ListPoliciesAsync(context.Request.Query["name"], context.RequestAborted).ConfigureAwait(false);
        var page = Api.Page(context, all).ToList();
        var responses = new List<PolicyResponse>();
        foreach (var policy in page)
        {
            responses.Add(await PolicyResponse.FromAsync(context, policy).ConfigureAwait(false));
        }

        return Results.Json(responses, Api.Json);
    }

    private static async Task<IResult> GetAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        return Results.Json(await PolicyResponse.FromAsync(context, await FindPolicyAsync(context, Api.Id(context, "id")).ConfigureAwait(false)).ConfigureAwait(false), Api.Json);
    }

    private static async Task<IResult> UpdateAsync(HttpContext context)
    {
        var caller = await Api.SysAdminAsync(context).ConfigureAwait(false);
        var existing = await FindPolicyAsync(context, Api.Id(context, "id")).ConfigureAwait(false);
        var request = await Api.BodyAsync<PolicyRequest>(context).ConfigureAwait(false);
        var updated = await ValidateAsync(context, request, existing).ConfigureAwait(false);
        bool? done = await Store(context).UpdatePolicyAsync(updated, context.RequestAborted).ConfigureAwait(false);
        if (done is null)
        {
            throw ApiException.Conflict($"policy {updated.Name} already exists");
        }

        if (done == false)
        {
            throw ApiException.NotFound($"policy {existing.Id} not found");
        }

        Api.Audit(context, caller, "update", "replication_policy", updated.Name, null);
        return Results.Ok();
    }

    private static async Task<IResult> DeleteAsync(HttpContext context)
    {
        var caller = await Api.SysAdminAsync(context).ConfigureAwait(false);
        var existing = await FindPolicyAsync(context, Api.Id(context, "id")).ConfigureAwait(false);
        if (await Store(context).PolicyHasRunningExecutionAsync(existing.Id, context.RequestAborted).ConfigureAwait(false))
        {
            throw ApiException.Precondition($"policy {existing.Name} has a running execution; stop it first");
        }

        await Store(context).DeletePolicyAsync(existing.Id, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "delete", "replication_policy", existing.Name, null);
        return Results.Ok();
    }

    private static async Task<IResult> StartAsync(HttpContext context)
    {
        var caller = await Api.SysAdminAsync(context).ConfigureAwait(false);
        var request = await Api.BodyAsync<ExecutionRequest>(context).ConfigureAwait(false);
        if (request.PolicyId is not long policyId || policyId <= 0)
        {
            throw ApiException.BadRequest("policy_id is required");
        }

        var policy = await Store(context).FindPolicyAsync(policyId, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"policy {policyId} not found");
        if (!policy.Enabled)
        {
            throw ApiException.Precondition($"policy {policy.Name} is disabled");
        }

        long id = await context.RequestServices.GetRequiredService<ReplicationRunner>()
            .StartAsync(policy, ReplicationTriggers.Manual, null, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "create", "replication_execution", policy.Name, null);
        return Api.Created(context, $"{Api.Prefix}/replication/executions/{id}");
    }

    private static async Task<IResult> ListExecutionsAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        long? policyId = context.Request.Query.ContainsKey("policy_id") ? Api.IntQuery(context, "policy_id", 0) : null;
        string? status = context.Request.Query["status"];
        string? trigger = context.Request.Query["trigger"];
        var all = await Store(context).ListExecutionsAsync(policyId, string.IsNullOrEmpty(status) ? null : status,
            string.IsNullOrEmpty(trigger) ? null : trigger, context.RequestAborted).ConfigureAwait(false);
        return Results.Json(Api.Page(context, all).Select(ExecutionResponse.From), Api.Json);
    }

    private static async Task<IResult> GetExecutionAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        return Results.Json(ExecutionResponse.From(await FindExecutionAsync(context).ConfigureAwait(false)), Api.Json);
    }

    /// <summary>Harbor's stop: running tasks end as Stopped; a finished execution is left as it is.</summary>
    private static async Task<IResult> StopAsync(HttpContext context)
    {
        var caller = await Api.SysAdminAsync(context).ConfigureAwait(false);
        var execution = await FindExecutionAsync(context).ConfigureAwait(false);
        if (execution.Status == ReplicationStatus.InProgress && context.RequestServices.GetRequiredService<ReplicationRunner>().Stop(execution.Id))
        {
            Api.Audit(context, caller, "stop", "replication_execution", execution.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), null);
        }

        return Results.Ok();
    }

    private static async Task<IResult> ListTasksAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        var execution = await FindExecutionAsync(context).ConfigureAwait(false);
        var all = await Store(context).ListTasksAsync(execution.Id, context.RequestAborted).ConfigureAwait(false);
        return Results.Json(Api.Page(context, all).Select(TaskResponse.From), Api.Json);
    }

    private static async Task<IResult> TaskLogAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        var execution = await FindExecutionAsync(context).ConfigureAwait(false);
        long taskId = Api.Id(context, "task_id");
        string log = await Store(context).TaskLogAsync(execution.Id, taskId, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"task {taskId} of execution {execution.Id} not found");
        return Results.Text(log, "text/plain; charset=utf-8");
    }

    /// <summary>The policy the request describes, over <paramref name="existing"/> for an update; 400 on bad input.</summary>
    private static async Task<ReplicationPolicy> ValidateAsync(HttpContext context, PolicyRequest request, ReplicationPolicy? existing)
    {
        string? name = request.Name ?? existing?.Name;
        if (string.IsNullOrWhiteSpace(name) || name.Length > 255)
        {
            throw ApiException.BadRequest("name is required (at most 255 characters)");
        }

        long? source = request.SrcRegistry is null ? (existing is null ? null : existing.SourceRegistryId) : RegistryId(request.SrcRegistry);
        long? destination = request.DestRegistry is null ? (existing is null ? null : existing.DestinationRegistryId) : RegistryId(request.DestRegistry);
        if (source is null == (destination is null))
        {
            throw ApiException.BadRequest("exactly one of src_registry and dest_registry must be a registered endpoint; the other (null or id 0) is this registry");
        }

        var registries = context.RequestServices.GetRequiredService<IUpstreamRegistryStore>();
        long remote = (source ?? destination)!.Value;
        if (await registries.FindByIdAsync(remote, context.RequestAborted).ConfigureAwait(false) is null)
        {
            throw ApiException.BadRequest($"registry {remote} not found");
        }

        string triggerType = request.Trigger?.Type ?? existing?.TriggerType ?? ReplicationTriggers.Manual;
        string? cron = request.Trigger is null ? existing?.Cron : request.Trigger.TriggerSettings?.Cron;
        switch (triggerType)
        {
            case ReplicationTriggers.Manual:
                cron = null;
                break;
            case ReplicationTriggers.Scheduled:
                if (!ReplicationPolicy.TryParseCron(cron, out _, out string? cronError))
                {
                    throw ApiException.BadRequest(cronError!);
                }

                cron = cron!.Trim();
                break;
            case ReplicationTriggers.EventBased when source is not null:
                throw ApiException.BadRequest("an event_based trigger needs a push-based policy (src_registry is this registry)");
            case ReplicationTriggers.EventBased:
                cron = null;
                break;
            default:
                throw ApiException.BadRequest("trigger.type must be manual, scheduled or event_based");
        }

        var filters = request.Filters is null ? existing?.Filters ?? [] : request.Filters.Select(ValidateFilter).ToList();
        if (source is not null && filters.Any(f => f.Type == "label"))
        {
            throw ApiException.BadRequest("label filters select this registry's labelled artifacts: only a push-based policy (src_registry is this registry) can use them");
        }
        string? destinationNamespace = request.DestNamespace ?? existing?.DestinationNamespace;
        if (!string.IsNullOrEmpty(destinationNamespace) && !Wharf.Oci.RepositoryName.TryParse(destinationNamespace, out _, out string? nsError))
        {
            throw ApiException.BadRequest($"dest_namespace: {nsError}");
        }

        int replaceCount = request.DestNamespaceReplaceCount ?? existing?.DestinationNamespaceReplaceCount ?? -1;
        if (replaceCount < -1)
        {
            throw ApiException.BadRequest("dest_namespace_replace_count must be -1 or more");
        }

        int speed = request.Speed ?? existing?.Speed ?? -1;
        return new ReplicationPolicy(
            existing?.Id ?? 0, name.Trim(), request.Description ?? existing?.Description, source, destination,
            string.IsNullOrEmpty(destinationNamespace) ? null : destinationNamespace, replaceCount, triggerType, cron, filters,
            request.ReplicateDeletion ?? request.Deletion ?? existing?.Deletion ?? false, request.Override ?? existing?.Override ?? true,
            request.Enabled ?? existing?.Enabled ?? true, speed <= 0 ? -1 : speed, request.CopyByChunk ?? existing?.CopyByChunk ?? false,
            existing?.CreatedAt ?? default, existing?.UpdatedAt ?? default);
    }

    private static long? RegistryId(RegistryRef reference) => reference.Id is null or 0 ? null : reference.Id < 0
        ? throw ApiException.BadRequest("registry id must not be negative")
        : reference.Id;

    private static ReplicationFilter ValidateFilter(FilterRequest filter)
    {
        if (filter.Type is null || !FilterTypes.Contains(filter.Type))
        {
            throw ApiException.BadRequest("filter type must be name, tag, label or resource");
        }

        string decoration = filter.Decoration ?? "matches";
        if (decoration is not ("matches" or "excludes"))
        {
            throw ApiException.BadRequest("filter decoration must be matches or excludes");
        }

        if (filter.Type == "label")
        {
            // Harbor's label filter: an array of label names (a single name is taken as one).
            string[] names = filter.Value.ValueKind switch
            {
                JsonValueKind.Array when filter.Value.EnumerateArray().All(v => v.ValueKind == JsonValueKind.String && v.GetString()!.Trim().Length > 0) =>
                    [.. filter.Value.EnumerateArray().Select(v => v.GetString()!.Trim()).Distinct(StringComparer.Ordinal)],
                JsonValueKind.String when filter.Value.GetString()!.Trim().Length > 0 => [filter.Value.GetString()!.Trim()],
                _ => throw ApiException.BadRequest("the label filter's value must be an array of label names"),
            };
            if (names.Length == 0)
            {
                throw ApiException.BadRequest("the label filter names no label");
            }

            return new ReplicationFilter("label", JsonSerializer.Serialize(names), decoration);
        }

        if (filter.Value.ValueKind != JsonValueKind.String || filter.Value.GetString() is not { Length: > 0 } value)
        {
            throw ApiException.BadRequest($"the {filter.Type} filter needs a string value");
        }

        if (filter.Type == "resource")
        {
            // Harbor's resource filter picks images or all artifacts; every artifact here is copied the same way.
            return value is "image" or "artifact"
                ? new ReplicationFilter("resource", value, "matches")
                : throw ApiException.BadRequest("the resource filter's value must be image or artifact");
        }

        if (!DoublestarPattern.TryCompile(value, out _, out string? error))
        {
            throw ApiException.BadRequest(error!);
        }

        return new ReplicationFilter(filter.Type, value, decoration);
    }

    private static async Task<ReplicationPolicy> FindPolicyAsync(HttpContext context, long id) =>
        await Store(context).FindPolicyAsync(id, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"policy {id} not found");

    private static async Task<ReplicationExecution> FindExecutionAsync(HttpContext context)
    {
        long id = Api.Id(context, "id");
        return await Store(context).FindExecutionAsync(id, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"execution {id} not found");
    }

    private static ReplicationStore Store(HttpContext context) => context.RequestServices.GetRequiredService<ReplicationStore>();

    private sealed record RegistryRef(long? Id);

    private sealed record TriggerSettings(string? Cron);

    private sealed record TriggerRequest(string? Type, TriggerSettings? TriggerSettings);

    private sealed record FilterRequest(string? Type, JsonElement Value, string? Decoration);

    private sealed record PolicyRequest(
        string? Name, string? Description, RegistryRef? SrcRegistry, RegistryRef? DestRegistry, string? DestNamespace, int? DestNamespaceReplaceCount,
        TriggerRequest? Trigger, IReadOnlyList<FilterRequest>? Filters, bool? Deletion, bool? ReplicateDeletion, bool? Override, bool? Enabled,
        int? Speed, bool? CopyByChunk);

    private sealed record ExecutionRequest(long? PolicyId);

    private sealed record RegistrySummary(long Id, string Name, string Type, string Url, bool Insecure);

    /// <summary>A filter as Harbor shows it: a label filter's value is its array of names, the others' a pattern.</summary>
    private sealed record FilterResponse(string Type, object Value, string Decoration)
    {
        public static FilterResponse From(ReplicationFilter f) => new(f.Type, f.Type == "label" ? f.LabelNames : f.Value, f.Decoration);
    }

    private sealed record PolicyResponse(
        long Id, string Name, string Description, RegistrySummary SrcRegistry, RegistrySummary DestRegistry, string DestNamespace,
        int DestNamespaceReplaceCount, TriggerRequest Trigger, IReadOnlyList<FilterResponse> Filters, bool Deletion, bool ReplicateDeletion,
        bool Override, bool Enabled, int Speed, bool CopyByChunk, string CreationTime, string UpdateTime)
    {
        /// <summary>This registry appears as Harbor's "Local" registry, id 0.</summary>
        private static readonly RegistrySummary Local = new(0, "Local", "harbor", "", false);

        public static async Task<PolicyResponse> FromAsync(HttpContext context, ReplicationPolicy p)
        {
            var registries = context.RequestServices.GetRequiredService<IUpstreamRegistryStore>();
            async Task<RegistrySummary> SummaryAsync(long? id) =>
                id is not long value ? Local
                : await registries.FindByIdAsync(value, context.RequestAborted).ConfigureAwait(false) is { } r
                    ? new RegistrySummary(r.Id, r.Name, r.Type, r.Url.ToString(), r.Insecure)
                    : new RegistrySummary(value, "(deleted)", "", "", false);
            return new PolicyResponse(
                p.Id, p.Name, p.Description ?? "", await SummaryAsync(p.SourceRegistryId).ConfigureAwait(false), await SummaryAsync(p.DestinationRegistryId).ConfigureAwait(false),
                p.DestinationNamespace ?? "", p.DestinationNamespaceReplaceCount, new TriggerRequest(p.TriggerType, new TriggerSettings(p.Cron ?? "")),
                [.. p.Filters.Select(FilterResponse.From)], p.Deletion, p.Deletion, p.Override, p.Enabled,
                p.Speed, p.CopyByChunk, Api.Time(p.CreatedAt), Api.Time(p.UpdatedAt));
        }
    }

    private sealed record ExecutionResponse(
        long Id, long PolicyId, string Status, string StatusText, string Trigger, string StartTime, string? EndTime,
        int Total, int Failed, int Succeed, int InProgress, int Stopped, long Bytes)
    {
        public static ExecutionResponse From(ReplicationExecution e) => new(
            e.Id, e.PolicyId, e.Status, e.StatusText ?? "", e.Trigger, Api.Time(e.StartTime), e.EndTime is { } end ? Api.Time(end) : null,
            e.Total, e.Failed, e.Succeed, e.InProgress, e.Stopped, e.Bytes);
    }

    private sealed record TaskResponse(
        long Id, long ExecutionId, string ResourceType, string SrcResource, string DstResource, string Operation, string Status,
        string StartTime, string? EndTime, long Bytes, int BlobsCopied, int BlobsSkipped)
    {
        public static TaskResponse From(ReplicationTask t) => new(
            t.Id, t.ExecutionId, "image", t.SourceResource, t.DestinationResource, t.Operation, t.Status, Api.Time(t.StartTime),
            t.EndTime is { } end ? Api.Time(end) : null, t.Bytes, t.BlobsCopied, t.BlobsSkipped);
    }
}
