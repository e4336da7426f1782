using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Audit;

namespace Wharf.Registry.Management;

/// <summary>
/// Harbor's audit log purge, system admins only: <c>GET/POST/PUT /system/purgeaudit/schedule</c> with
/// <c>{"schedule":{"type":"Daily"},"parameters":{"audit_retention_hour":168,"include_operations":"pull"}}</c>
/// (type <c>Manual</c> purges now: 201 with the run's Location), the run history <c>/system/purgeaudit</c>,
/// one run and its log.
/// </summary>
internal static class AuditPurgeEndpoints
{
    private const string JobName = "PURGE_AUDIT_LOG";

    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/system/purgeaudit/schedule", Api.Handle(GetScheduleAsync));
        api.MapPost("/system/purgeaudit/schedule", Api.Handle(SetScheduleAsync));
        api.MapPut("/system/purgeaudit/schedule", Api.Handle(SetScheduleAsync));
        api.MapGet("/system/purgeaudit", Api.Handle(ListAsync));
        api.MapGet("/system/purgeaudit/{purge_id}", Api.Handle(GetAsync));
        api.MapGet("/system/purgeaudit/{purge_id}/log", Api.Handle(LogAsync));
    }

    private static AuditPurge Purge(HttpContext context) => context.RequestServices.GetRequiredService<AuditPurge>();

    private static AuditPurgeStore Store(HttpContext context) => context.RequestServices.GetRequiredService<AuditPurgeStore>();

    private static async Task<IResult> GetScheduleAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        var schedule = await Purge(context).CurrentScheduleAsync(context.RequestAborted).ConfigureAwait(false);
        return Results.Json(new ScheduleResponse(
            new ScheduleObject(schedule.Type, schedule.Cron),
            new Dictionary<string, object> { ["audit_retention_hour"] = schedule.RetentionHours, ["include_operations"] = string.Join(',', schedule.Operations ?? []), ["dry_run"] = false }),
            Api.Json);
    }

    private static async Task<IResult> SetScheduleAsync(HttpContext context)
    {
        var caller = await Api.SysAdminAsync(context).ConfigureAwait(false);
        var request = await Api.BodyAsync<ScheduleRequest>(context).ConfigureAwait(false);
        string type = request.Schedule?.Type ?? throw ApiException.BadRequest("schedule.type is required");
        var parameters = request.Parameters ?? [];
        int hours = RetentionHours(parameters);
        var operations = Operations(parameters);
        bool dryRun = parameters.TryGetValue("dry_run", out var dry) && dry.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw ApiException.BadRequest("parameters.dry_run must be true or false"),
        };

        if (type == AuditPurge.Manual)
        {
            var run = await Purge(context).RunAsync(AuditPurge.Manual, dryRun, hours, operations, context.RequestAborted).ConfigureAwait(false);
            Api.Audit(context, caller, "create", "purge_audit", $"purge {run.Id}", null);
            return Api.Created(context, $"{Api.Prefix}/system/purgeaudit/{run.Id}");
        }

        if (!AuditPurge.Types.TryGetValue(type, out string? cron))
        {
            throw ApiException.BadRequest($"schedule.type must be one of Manual, None, Hourly, Daily, Weekly, Custom; not \"{type}\"");
        }

        if (type == "Custom")
        {
            cron = request.Schedule!.Cron;
            if (!AuditPurge.TryParseCron(cron, out _, out string? error))
            {
                throw ApiException.BadRequest(error!.Replace("trigger.trigger_settings.cron", "schedule.cron", StringComparison.Ordinal));
            }
        }

        await Store(context).SetScheduleAsync(new AuditPurgeSchedule(type, cron, hours, operations), context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "update", "purge_audit", "schedule", null);
        return HttpMethods.IsPost(context.Request.Method) ? Results.StatusCode(StatusCodes.Status201Created) : Results.Ok();
    }

    private static int RetentionHours(Dictionary<string, JsonElement> parameters)
    {
        if (!parameters.TryGetValue("audit_retention_hour", out var value))
        {
            throw ApiException.BadRequest("parameters.audit_retention_hour is required");
        }

        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int hours) && hours is > 0 and <= 24 * 365 * 100
            ? hours
            : throw ApiException.BadRequest("parameters.audit_retention_hour must be a whole number of hours, at least 1");
    }

    private static List<string>? Operations(Dictionary<string, JsonElement> parameters)
    {
        if (!parameters.TryGetValue("include_operations", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            throw ApiException.BadRequest("parameters.include_operations must be a comma-separated string");
        }

        var list = value.GetString()!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
        foreach (string op in list)
        {
            if (!AuditPurge.KnownOperations.Contains(op))
            {
                throw ApiException.BadRequest($"parameters.include_operations: unknown operation \"{op}\" (known: {string.Join(", ", AuditPurge.KnownOperations.Order())})");
            }
        }

        return list.Count == 0 ? null : list;
    }

    private static async Task<IResult> ListAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        var (page, pageSize) = Api.Paging(context);
        var (runs, total) = await Store(context).ListRunsAsync(page, pageSize, context.RequestAborted).ConfigureAwait(false);
        Api.WritePaging(context, total, page, pageSize);
        return Results.Json(runs.Select(RunResponse.From).ToList(), Api.Json);
    }

    private static async Task<IResult> GetAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        long id = Api.Id(context, "purge_id");
        var run = await Store(context).FindRunAsync(id, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"purge run {id} not found");
        return Results.Json(RunResponse.From(run), Api.Json);
    }

    private static async Task<IResult> LogAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        long id = Api.Id(context, "purge_id");
        string log = await Store(context).RunLogAsync(id, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"purge run {id} not found");
        return Results.Text(log, "text/plain");
    }

    private sealed record ScheduleRequest(ScheduleObject? Schedule, Dictionary<string, JsonElement>? Parameters);

    private sealed record ScheduleObject(string? Type, string? Cron);

    private sealed record ScheduleResponse(ScheduleObject Schedule, Dictionary<string, object> Parameters);

    /// <summary>Harbor's ExecHistory, with the count the run deleted.</summary>
    private sealed record RunResponse(
        long Id, string JobName, string JobKind, string JobParameters, ScheduleObject Schedule, string JobStatus, bool Deleted,
        string CreationTime, string UpdateTime, long PurgedCount)
    {
        public static RunResponse From(AuditPurgeRun run) => new(
            run.Id, AuditPurgeEndpoints.JobName, run.Trigger == AuditPurge.Manual ? "MANUAL" : "SCHEDULE",
            JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["audit_retention_hour"] = run.RetentionHours,
                ["include_operations"] = string.Join(',', run.Operations ?? []),
                ["dry_run"] = run.DryRun,
            }),
            new ScheduleObject(run.Trigger, null), run.Status, false,
            Api.Time(run.StartTime), Api.Time(run.EndTime ?? run.StartTime), run.Deleted);
    }
}
