using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Gc;
using Wharf.Registry.Metadata;

namespace Wharf.Registry.Management;

/// <summary>
/// Harbor's garbage collection API, system admins only: <c>POST /system/gc/schedule</c> with
/// <c>{"schedule":{"type":"Manual"},"parameters":{"dry_run":true}}</c> starts a run (201, Location
/// of its history entry); <c>GET /system/gc</c> lists the history newest first; <c>GET /system/gc/{id}</c>
/// is one run; <c>GET /system/gc/{id}/log</c> its decisions as text. Only manual runs are taken
/// here: the periodic schedule is the server's <see cref="RegistryOptions.GcInterval"/>.
/// </summary>
internal static class GcEndpoints
{
    private const string GcJobName = "GARBAGE_COLLECTION";

    public static void Map(RouteGroupBuilder api)
    {
        api.MapPost("/system/gc/schedule", Api.Handle(ScheduleAsync));
        api.MapGet("/system/gc", Api.Handle(ListAsync));
        api.MapGet("/system/gc/{gc_id}", Api.Handle(GetAsync));
        api.MapGet("/system/gc/{gc_id}/log", Api.Handle(LogAsync));
    }

    private static async Task<IResult> ScheduleAsync(HttpContext context)
    {
        var caller = await Api.SysAdminAsync(context).ConfigureAwait(false);
        var request = await Api.BodyAsync<GcScheduleRequest>(context).ConfigureAwait(false);
        string? type = request.Schedule?.Type;
        if (type is null)
        {
            throw ApiException.BadRequest("schedule.type is required");
        }

        if (!string.Equals(type, "Manual", StringComparison.OrdinalIgnoreCase))
        {
            throw ApiException.BadRequest($"schedule type {type} is not supported: only Manual runs are started here; the periodic run is the server's Registry:GcInterval setting");
        }

        bool dryRun = false;
        if (request.Parameters is { } parameters && parameters.TryGetValue("dry_run", out var value))
        {
            dryRun = value.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw ApiException.BadRequest("parameters.dry_run must be true or false"),
            };
        }

        long id = await context.RequestServices.GetRequiredService<GcJobs>().StartAsync(dryRun, GcJobs.Manual, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.Conflict("a garbage collection is already running");
        Api.Audit(context, caller, "create", "gc", $"gc {id}{(dryRun ? " (dry run)" : string.Empty)}", null);
        return Api.Created(context, $"{Api.Prefix}/system/gc/{id}");
    }

    private static async Task<IResult> ListAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        var (page, pageSize) = Api.Paging(context);
        var (runs, total) = await Store(context).ListGcRunsAsync(page, pageSize, context.RequestAborted).ConfigureAwait(false);
        Api.WritePaging(context, total, page, pageSize);
        return Results.Json(runs.Select(GcHistory.From).ToList(), Api.Json);
    }

    private static async Task<IResult> GetAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        return Results.Json(GcHistory.From(await RunAsync(context).ConfigureAwait(false)), Api.Json);
    }

    private static async Task<IResult> LogAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        var run = await RunAsync(context).ConfigureAwait(false);
        return Results.Text(run.Log, "text/plain; charset=utf-8");
    }

    private static async Task<GcRun> RunAsync(HttpContext context)
    {
        long id = Api.Id(context, "gc_id");
        return await Store(context).GetGcRunAsync(id, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"gc {id} not found");
    }

    private static IGcMetadataStore Store(HttpContext context) => context.RequestServices.GetRequiredService<IGcMetadataStore>();

    private sealed record GcScheduleRequest(GcScheduleObject? Schedule, Dictionary<string, JsonElement>? Parameters);

    private sealed record GcScheduleObject(string? Type, string? Cron);

    /// <summary>Harbor's GCHistory; job_parameters is a JSON string, as Harbor sends it.</summary>
    private sealed record GcHistory(
        long Id, string JobName, string JobKind, string JobParameters, GcScheduleObject Schedule, string JobStatus, bool Deleted,
        string CreationTime, string UpdateTime, int BlobsRemoved, long BytesFreed)
    {
        public static GcHistory From(GcRun run) => new(
            run.Id, GcJobName, run.Trigger == GcJobs.Schedule ? "SCHEDULE" : "MANUAL",
            run.DryRun ? "{\"dry_run\":true}" : "{\"dry_run\":false}",
            new GcScheduleObject(run.Trigger, null), run.Status, false,
            Api.Time(run.CreatedAt), Api.Time(run.UpdatedAt), run.BlobsRemoved, run.BytesFreed);
    }
}
