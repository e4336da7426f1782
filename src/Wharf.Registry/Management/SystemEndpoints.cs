using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Identity;
using Wharf.Registry.Data;

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
            var db = context.RequestServices.GetRequiredService<RegistryDatabase>();
            await using var connection = await db.OpenAsync(context.RequestAborted).ConfigureAwait(false);
            _ = await connection.ScalarAsync<long>("SELECT 1;", context.RequestAborted).ConfigureAwait(false);
        }
        catch (System.Data.Common.DbException)
        {
            database = "unhealthy";
        }

        string? storageProblem = Health.HealthChecks.StorageProblem(context.RequestServices.GetRequiredService<RegistryOptions>().DataDirectory);
        string overall = database == "healthy" && storageProblem is null ? "healthy" : "unhealthy";
        var components = new List<HealthComponent>
        {
            new("core", "healthy"), new("database", database),
            storageProblem is null ? new("storage", "healthy") : new("storage", "unhealthy", storageProblem),
        };
        if (await DirectoryHealthAsync(context).ConfigureAwait(false) is { } directory)
        {
            // The directory's state is shown but does not make the registry unhealthy: pulls, robots and
            // the local admin go on without it.
            components.Add(directory);
        }

        return Results.Json(
            new { status = overall, components },
            Api.Json, statusCode: overall == "healthy" ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    /// <summary>In ldap_auth mode, the directory's state as one line for <c>/healthz</c> (<c>directory: healthy</c>, or unhealthy with the reason); null otherwise.</summary>
    public static async Task<string?> DirectoryLineAsync(HttpContext context)
    {
        var component = await DirectoryHealthAsync(context).ConfigureAwait(false);
        return component is null ? null
            : component.Error is null ? $"directory: {component.Status}" : $"directory: {component.Status}: {component.Error}";
    }

    /// <summary>In ldap_auth mode, whether the directory answers the service account now (Harbor's component "ldap").</summary>
    private static async Task<HealthComponent?> DirectoryHealthAsync(HttpContext context)
    {
        var configuration = context.RequestServices.GetRequiredService<Identity.Ldap.AuthConfiguration>();
        var settings = await configuration.GetAsync(context.RequestAborted).ConfigureAwait(false);
        if (!settings.IsLdap)
        {
            return null;
        }

        try
        {
            string? problem = await context.RequestServices.GetRequiredService<Identity.Ldap.LdapDirectory>().PingAsync(settings, context.RequestAborted).ConfigureAwait(false);
            return problem is null ? new HealthComponent("ldap", "healthy") : new HealthComponent("ldap", "unhealthy", problem);
        }
        catch (Identity.Ldap.DirectoryUnavailableException e)
        {
            return new HealthComponent("ldap", "unhealthy", e.Message);
        }
    }

    private sealed record HealthComponent(string Name, string Status, string? Error = null);

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
