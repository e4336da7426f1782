using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Identity;

namespace Wharf.Registry.Management;

/// <summary>Harbor's /health and /systeminfo: what a client or load balancer asks before anything else.</summary>
internal static class SystemEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/health", Api.Handle(HealthAsync));
        api.MapGet("/systeminfo", Api.Handle(SystemInfoAsync));
    }

    private static async Task<IResult> HealthAsync(HttpContext context)
    {
        string database = "healthy";
        try
        {
            var db = context.RequestServices.GetRequiredService<IdentityDatabase>();
            await using var connection = await db.OpenAsync(context.RequestAborted).ConfigureAwait(false);
            _ = await connection.ScalarAsync<long>("SELECT 1;", context.RequestAborted).ConfigureAwait(false);
        }
        catch (Microsoft.Data.Sqlite.SqliteException)
        {
            database = "unhealthy";
        }

        string overall = database == "healthy" ? "healthy" : "unhealthy";
        return Results.Json(
            new { status = overall, components = new[] { new { name = "core", status = "healthy" }, new { name = "database", status = database } } },
            Api.Json, statusCode: overall == "healthy" ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<IResult> SystemInfoAsync(HttpContext context)
    {
        var caller = await Api.CallerAsync(context).ConfigureAwait(false);
        var options = context.RequestServices.GetRequiredService<IdentityOptions>();
        var identities = context.RequestServices.GetRequiredService<IIdentitySource>();
        string version = typeof(SystemEndpoints).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
        string host = context.Request.Host.ToString();
        return Results.Json(new SystemInfo(
            AuthMode: identities.AuthMode,
            ProjectCreationRestriction: options.AllowUserProjectCreation ? "everyone" : "adminonly",
            SelfRegistration: false,
            HarborVersion: "wharf-" + version,
            RegistryUrl: caller.IsAnonymous ? null : host,
            ExternalUrl: caller.IsAnonymous ? null : $"{context.Request.Scheme}://{host}",
            HasCaRoot: false,
            ReadOnly: false,
            WithNotary: false,
            WithChartmuseum: false,
            NotificationEnable: false,
            RegistryStorageProviderName: caller.IsAnonymous ? null : "filesystem"), Api.Json);
    }

    private sealed record SystemInfo(
        string AuthMode,
        string ProjectCreationRestriction,
        bool SelfRegistration,
        string HarborVersion,
        string? RegistryUrl,
        string? ExternalUrl,
        bool HasCaRoot,
        bool ReadOnly,
        bool WithNotary,
        bool WithChartmuseum,
        bool NotificationEnable,
        string? RegistryStorageProviderName);
}
