using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Identity;

namespace Wharf.Registry.Management;

/// <summary>
/// The management API under /api/v2.0 in Harbor's shapes (its swagger: users, projects, members,
/// robots, quotas, systeminfo, health), so Harbor's scripts work against wharfd. Basic auth.
/// </summary>
internal static partial class ManagementApi
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup(Api.Prefix);
        api.MapGet("/health", Api.Handle(HealthAsync));
        api.MapGet("/systeminfo", Api.Handle(SystemInfoAsync));
        MapUsers(api);
        MapProjects(api);
        MapMembers(api);
        MapRobots(api);
        MapQuotas(api);
        MapRepositories(api);
        MapAudit(api);
        api.MapGet("/search", Api.Handle(SearchAsync));
        api.MapGet("/swagger.json", OpenApiAsync);
    }

    /// <summary>
    /// The OpenAPI 3 document of this API, written by hand next to the handlers (Management/openapi.json)
    /// and embedded; a test checks that it lists every mapped route.
    /// </summary>
    private static async Task OpenApiAsync(HttpContext context)
    {
        await using var document = typeof(ManagementApi).Assembly.GetManifestResourceStream("Wharf.Registry.Management.openapi.json")
            ?? throw new InvalidOperationException("the OpenAPI document is not embedded");
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = document.Length;
        await document.CopyToAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// Harbor's search: projects whose name contains q and repositories whose name contains q, among
    /// those the caller can see (anonymous: public ones).
    /// </summary>
    private static async Task<IResult> SearchAsync(HttpContext context)
    {
        var caller = await SearchEndpoint.CallerAsync(context).ConfigureAwait(false) ?? Caller.Anonymous;
        string term = context.Request.Query["q"].ToString();
        var projects = context.RequestServices.GetRequiredService<Projects.IProjectStore>();
        long? visibleTo = caller.IsSysAdmin ? null : caller.User?.Id ?? 0;
        var (list, _) = await projects.ListAsync(term, null, visibleTo, 1, 100, context.RequestAborted).ConfigureAwait(false);
        var projectResponses = new List<ProjectResponse>();
        foreach (var project in list)
        {
            projectResponses.Add(await ProjectResponse.FromAsync(context, caller, project).ConfigureAwait(false));
        }

        var repositories = (await SearchEndpoint.MatchesAsync(context, caller, term).ConfigureAwait(false))
            .Select(m => new RepositorySearchResult(m.Project.Id, m.Project.Name, m.Project.Public, m.Repository, 0, 0));
        return Results.Json(new { project = projectResponses, repository = repositories }, Api.Json);
    }

    private sealed record RepositorySearchResult(long ProjectId, string ProjectName, bool ProjectPublic, string RepositoryName, long PullCount, long ArtifactCount);

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
        string version = typeof(ManagementApi).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
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
