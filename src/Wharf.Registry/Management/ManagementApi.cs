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
internal static class ManagementApi
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup(Api.Prefix);
        SystemEndpoints.Map(api);
        UserEndpoints.Map(api);
        ProjectEndpoints.Map(api);
        MemberEndpoints.Map(api);
        RobotEndpoints.Map(api);
        QuotaEndpoints.Map(api);
        GcEndpoints.Map(api);
        RepositoryEndpoints.Map(api);
        AuditEndpoints.Map(api);
        ConfigurationEndpoints.Map(api);
        UserGroupEndpoints.Map(api);
        RegistryEndpointsApi.Map(api);
        ReplicationEndpoints.Map(api);
        ImmutableTagRuleEndpoints.Map(api);
        LabelEndpoints.Map(api);
        WebhookEndpoints.Map(api);
        AuditPurgeEndpoints.Map(api);
        RetentionEndpoints.Map(api);
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
        var (list, _) = await context.RequestServices.GetRequiredService<Projects.ProjectRules>().ListAsync(caller, term, null, null, 1, 100, context.RequestAborted).ConfigureAwait(false);
        var projectResponses = new List<ProjectEndpoints.ProjectResponse>();
        foreach (var project in list)
        {
            projectResponses.Add(await ProjectEndpoints.ProjectResponse.FromAsync(context, caller, project).ConfigureAwait(false));
        }

        var repositories = (await SearchEndpoint.MatchesAsync(context, caller, term).ConfigureAwait(false))
            .Select(m => new RepositorySearchResult(m.Project.Id, m.Project.Name, m.Project.Public, m.Repository, 0, 0));
        return Results.Json(new { project = projectResponses, repository = repositories }, Api.Json);
    }

    private sealed record RepositorySearchResult(long ProjectId, string ProjectName, bool ProjectPublic, string RepositoryName, long PullCount, long ArtifactCount);
}
