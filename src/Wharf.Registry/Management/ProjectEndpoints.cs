using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Auth;
using Wharf.Registry.Identity;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Management;

/// <summary>Projects: create, list, read, update, delete, and their summary.</summary>
internal static class ProjectEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapPost("/projects", Api.Handle(CreateProjectAsync));
        api.MapGet("/projects", Api.Handle(ListProjectsAsync));
        api.MapMethods("/projects", [HttpMethods.Head], Api.Handle(ProjectExistsAsync));
        api.MapGet("/projects/{project_name_or_id}", Api.Handle(GetProjectAsync));
        api.MapPut("/projects/{project_name_or_id}", Api.Handle(UpdateProjectAsync));
        api.MapDelete("/projects/{project_name_or_id}", Api.Handle(DeleteProjectAsync));
        api.MapGet("/projects/{project_name_or_id}/summary", Api.Handle(ProjectSummaryAsync));
        api.MapGet("/projects/{project_name_or_id}/shared-store", Api.Handle(SharedStoreStatusAsync));
    }

    /// <summary>Harbor's project summary: repository count, members per role, and the quota.</summary>
    private static async Task<IResult> ProjectSummaryAsync(HttpContext context)
    {
        var caller = await Api.CallerAsync(context).ConfigureAwait(false);
        var project = await Api.ProjectAsync(context, caller).ConfigureAwait(false);
        var repositories = context.RequestServices.GetRequiredService<IProjectRepositories>();
        long repoCount = 0;
        string? last = null;
        while (true)
        {
            var page = await repositories.ListProjectRepositoriesAsync(project.Name, last, 1000, context.RequestAborted).ConfigureAwait(false);
            repoCount += page.Count;
            if (page.Count < 1000)
            {
                break;
            }

            last = page[^1];
        }

        var members = await context.RequestServices.GetRequiredService<IMemberStore>().ListAsync(project.Id, null, context.RequestAborted).ConfigureAwait(false);
        long used = await repositories.GetProjectUsageAsync(project.Name, context.RequestAborted).ConfigureAwait(false);
        int Count(ProjectRole role) => members.Count(m => m.Role == role);
        return Results.Json(new ProjectSummary(
            repoCount, Count(ProjectRole.ProjectAdmin), Count(ProjectRole.Maintainer), Count(ProjectRole.Developer), Count(ProjectRole.Guest), Count(ProjectRole.LimitedGuest),
            new ProjectSummaryQuota(new Dictionary<string, long> { ["storage"] = project.StorageLimit ?? -1 }, new Dictionary<string, long> { ["storage"] = used })), Api.Json);
    }

    private sealed record ProjectSummaryQuota(Dictionary<string, long> Hard, Dictionary<string, long> Used);

    private sealed record ProjectSummary(long RepoCount, int ProjectAdminCount, int MaintainerCount, int DeveloperCount, int GuestCount, int LimitedGuestCount, ProjectSummaryQuota Quota);

    private static async Task<IResult> CreateProjectAsync(HttpContext context)
    {
        var caller = await Api.UserAsync(context).ConfigureAwait(false);
        var rules = Rules(context);
        rules.RequireMayCreate(caller);
        var request = await Api.BodyAsync<ProjectRequest>(context).ConfigureAwait(false);
        bool isPublic = PublicFlag(request) ?? false;
        bool? publish = SharedStoreFlag(context, request);
        _ = rules.CheckNew(caller, request.ProjectName, request.StorageLimit, proxyCache: request.RegistryId is not null);
        var upstreams = context.RequestServices.GetRequiredService<Proxy.IUpstreamRegistryStore>();
        if (request.RegistryId is long registryId)
        {
            _ = await upstreams.FindByIdAsync(registryId, context.RequestAborted).ConfigureAwait(false)
                ?? throw ApiException.BadRequest($"registry_id {registryId} names no registry endpoint");
        }

        var project = await rules.CreateAsync(caller, request.ProjectName, isPublic, request.StorageLimit, request.RegistryId is not null, context.RequestAborted).ConfigureAwait(false);
        if (request.RegistryId is long boundId)
        {
            try
            {
                await upstreams.BindProjectAsync(project.Id, boundId, context.RequestAborted).ConfigureAwait(false);
            }
            catch (System.Data.Common.DbException)
            {
                // The endpoint was deleted in between: no half-made project stays behind.
                await context.RequestServices.GetRequiredService<IProjectStore>().DeleteAsync(project.Id, CancellationToken.None).ConfigureAwait(false);
                throw ApiException.BadRequest($"registry_id {boundId} names no registry endpoint");
            }
        }

        if (publish == true)
        {
            await SetSharedStoreAsync(context, caller, project, publish.Value).ConfigureAwait(false);
        }

        Api.Audit(context, caller, "create", "project", project.Name, project.Name);
        // Harbor answers the Location by name when asked with X-Resource-Name-In-Location: true.
        bool byName = string.Equals(context.Request.Headers["X-Resource-Name-In-Location"], "true", StringComparison.OrdinalIgnoreCase);
        return Api.Created(context, $"{Api.Prefix}/projects/{(byName ? project.Name : project.Id)}");
    }

    private static async Task<IResult> ProjectExistsAsync(HttpContext context)
    {
        await Api.UserAsync(context).ConfigureAwait(false);
        string? name = context.Request.Query["project_name"];
        if (string.IsNullOrEmpty(name))
        {
            throw ApiException.BadRequest("project_name is required");
        }

        var project = await context.RequestServices.GetRequiredService<IProjectStore>().FindByNameAsync(name, context.RequestAborted).ConfigureAwait(false);
        return project is null ? Results.NotFound() : Results.Ok();
    }

    private static async Task<IResult> ListProjectsAsync(HttpContext context)
    {
        var caller = await Api.CallerAsync(context).ConfigureAwait(false);
        var (page, pageSize) = Api.Paging(context);
        string? name = context.Request.Query["name"];
        bool? isPublic = context.Request.Query["public"].ToString() switch
        {
            "" => null,
            "true" or "1" => true,
            "false" or "0" => false,
            _ => throw ApiException.BadRequest("public must be true or false"),
        };
        string? owner = context.Request.Query["owner"];
        var (list, total) = await Rules(context).ListAsync(caller, name, isPublic, owner, page, pageSize, context.RequestAborted).ConfigureAwait(false);
        if (caller.Kind == CallerKind.Robot)
        {
            list = [.. list.Where(p => p.Public || p.Id == caller.Robot!.ProjectId)];
        }

        var responses = new List<ProjectResponse>();
        foreach (var project in list)
        {
            responses.Add(await ProjectResponse.FromAsync(context, caller, project).ConfigureAwait(false));
        }

        Api.WritePaging(context, total, page, pageSize);
        return Results.Json(responses, Api.Json);
    }

    private static async Task<IResult> GetProjectAsync(HttpContext context)
    {
        var caller = await Api.CallerAsync(context).ConfigureAwait(false);
        var project = await Api.ProjectAsync(context, caller).ConfigureAwait(false);
        return Results.Json(await ProjectResponse.FromAsync(context, caller, project).ConfigureAwait(false), Api.Json);
    }

    private static async Task<IResult> UpdateProjectAsync(HttpContext context)
    {
        var caller = await Api.UserAsync(context).ConfigureAwait(false);
        var project = await Api.ProjectAsync(context, caller).ConfigureAwait(false);
        var rules = Rules(context);
        await rules.RequireProjectAdminAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
        var request = await Api.BodyAsync<ProjectRequest>(context).ConfigureAwait(false);
        if (request.ProjectName is not null && request.ProjectName != project.Name)
        {
            throw ApiException.BadRequest("a project cannot be renamed");
        }

        bool? publish = SharedStoreFlag(context, request);
        if (await rules.UpdateAsync(caller, project, PublicFlag(request), request.StorageLimit, context.RequestAborted).ConfigureAwait(false))
        {
            Api.Audit(context, caller, "update", "quota", $"{project.Name} storage {request.StorageLimit}", project.Name);
        }

        if (publish is bool value)
        {
            await SetSharedStoreAsync(context, caller, project, value).ConfigureAwait(false);
        }

        return Results.Ok();
    }

    private static async Task<IResult> DeleteProjectAsync(HttpContext context)
    {
        var caller = await Api.UserAsync(context).ConfigureAwait(false);
        var project = await Api.ProjectAsync(context, caller).ConfigureAwait(false);
        bool force = string.Equals(context.Request.Query["force"], "true", StringComparison.OrdinalIgnoreCase);
        await Rules(context).DeleteAsync(caller, project, force, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "delete", "project", project.Name, project.Name);
        return Results.Ok();
    }

    private static ProjectRules Rules(HttpContext context) => context.RequestServices.GetRequiredService<ProjectRules>();

    /// <summary>
    /// <c>metadata.publish_to_shared_store</c> ("true"/"false", as Harbor's other metadata): null when not given.
    /// Asking for it on a registry without a shared image store is refused, so nobody waits for images that never come.
    /// </summary>
    private static bool? SharedStoreFlag(HttpContext context, ProjectRequest request)
    {
        if (request.Metadata is null || !request.Metadata.TryGetValue(SharedStore.SharedStoreMetadata.Key, out var value))
        {
            return null;
        }

        bool publish = value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.String when value.GetString() is "true" => true,
            JsonValueKind.String when value.GetString() is "false" => false,
            _ => throw ApiException.BadRequest($"metadata.{SharedStore.SharedStoreMetadata.Key} must be \"true\" or \"false\""),
        };
        context.RequestServices.GetRequiredService<SharedStore.SharedStoreProjects>().RequireAvailable(publish);
        return publish;
    }

    private static async Task SetSharedStoreAsync(HttpContext context, Caller caller, Project project, bool publish)
    {
        if (!await context.RequestServices.GetRequiredService<SharedStore.SharedStoreProjects>().SetAsync(project, publish, context.RequestAborted).ConfigureAwait(false))
        {
            return;
        }

        Api.Audit(context, caller, "update", "project", $"{project.Name} {SharedStore.SharedStoreMetadata.Key} {(publish ? "true" : "false")}", project.Name);
    }

    /// <summary>What wharfd published from this project into the shared image store, or failed to, with the error.</summary>
    private static async Task<IResult> SharedStoreStatusAsync(HttpContext context)
    {
        var caller = await Api.CallerAsync(context).ConfigureAwait(false);
        var project = await Api.ProjectAsync(context, caller).ConfigureAwait(false);
        var options = context.RequestServices.GetRequiredService<SharedStore.SharedStoreOptions>();
        var records = context.RequestServices.GetRequiredService<SharedStore.SharedStoreRecords>();
        bool publishing = await records.IsPublishingAsync(project.Id, context.RequestAborted).ConfigureAwait(false);
        var entries = await records.ListProjectAsync(project.Name, context.RequestAborted).ConfigureAwait(false);
        return Results.Json(new SharedStoreStatus(
            publishing,
            options.Enabled ? options.Path : null,
            [.. entries.Select(e => new SharedStoreImageStatus(e.Name, e.Repository, e.Tag, e.Digest, e.State, e.Error, Api.Time(e.UpdateTime)))]), Api.Json);
    }

    private sealed record SharedStoreStatus(bool Publishing, string? Store, IReadOnlyList<SharedStoreImageStatus> Images);

    private sealed record SharedStoreImageStatus(string Name, string Repository, string Tag, string Digest, string State, string? Error, string UpdateTime);

    /// <summary>Harbor takes visibility as metadata.public ("true"/"false"); the older top-level boolean is accepted too.</summary>
    private static bool? PublicFlag(ProjectRequest request)
    {
        if (request.Metadata is not null && request.Metadata.TryGetValue("public", out var value))
        {
            return value.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                JsonValueKind.String when value.GetString() is "true" => true,
                JsonValueKind.String when value.GetString() is "false" => false,
                _ => throw ApiException.BadRequest("metadata.public must be \"true\" or \"false\""),
            };
        }

        return request.Public;
    }

    private sealed record ProjectRequest(string? ProjectName, bool? Public, Dictionary<string, JsonElement>? Metadata, long? StorageLimit, long? RegistryId = null);

    internal sealed record ProjectResponse(
        long ProjectId,
        string Name,
        long? OwnerId,
        string? OwnerName,
        string CreationTime,
        string UpdateTime,
        bool Deleted,
        Dictionary<string, string> Metadata,
        int CurrentUserRoleId,
        int[] CurrentUserRoleIds,
        long? RegistryId = null)
    {
        public static async Task<ProjectResponse> FromAsync(HttpContext context, Caller caller, Project project)
        {
            var evaluator = context.RequestServices.GetRequiredService<AccessEvaluator>();
            var role = await evaluator.RoleAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
            string? owner = null;
            if (project.OwnerId is long ownerId)
            {
                owner = (await context.RequestServices.GetRequiredService<IUserStore>().FindByIdAsync(ownerId, context.RequestAborted).ConfigureAwait(false))?.Username;
            }

            int roleId = role is null ? 0 : (int)role.Value;
            // Harbor's registry_id: set on a proxy-cache project, absent otherwise.
            long? registryId = await context.RequestServices.GetRequiredService<Proxy.IUpstreamRegistryStore>()
                .RegistryOfProjectAsync(project.Id, context.RequestAborted).ConfigureAwait(false);
            var metadata = new Dictionary<string, string> { ["public"] = project.Public ? "true" : "false" };
            // Harbor's retention_id: the project's retention policy, when it has one.
            if (await context.RequestServices.GetRequiredService<Retention.RetentionStore>().PolicyIdOfProjectAsync(project.Id, context.RequestAborted).ConfigureAwait(false) is long retentionId)
            {
                metadata["retention_id"] = retentionId.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            if (await context.RequestServices.GetRequiredService<SharedStore.SharedStoreRecords>().IsPublishingAsync(project.Id, context.RequestAborted).ConfigureAwait(false))
            {
                metadata[SharedStore.SharedStoreMetadata.Key] = "true";
            }

            return new ProjectResponse(
                project.Id, project.Name, project.OwnerId, owner, Api.Time(project.CreatedAt), Api.Time(project.UpdatedAt), false,
                metadata,
                roleId, role is null ? [] : [roleId], registryId);
        }
    }
}
