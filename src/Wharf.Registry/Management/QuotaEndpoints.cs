using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Identity;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Management;

/// <summary>
/// Harbor's quotas: one per project, here with the project's id as the quota id; hard.storage is the
/// limit in bytes (-1 unlimited), used.storage the metadata store's count of the project's bytes.
/// </summary>
internal static class QuotaEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/quotas", Api.Handle(ListQuotasAsync));
        api.MapGet("/quotas/{id}", Api.Handle(GetQuotaAsync));
        api.MapPut("/quotas/{id}", Api.Handle(UpdateQuotaAsync));
    }

    private static async Task<IResult> ListQuotasAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        string? reference = context.Request.Query["reference"];
        if (reference is not null and not "project")
        {
            throw ApiException.BadRequest("reference must be project");
        }

        var projects = context.RequestServices.GetRequiredService<IProjectStore>();
        var quotas = new List<QuotaResponse>();
        string? referenceId = context.Request.Query["reference_id"];
        long total;
        var (page, pageSize) = Api.Paging(context);
        if (!string.IsNullOrEmpty(referenceId))
        {
            var project = long.TryParse(referenceId, System.Globalization.CultureInfo.InvariantCulture, out long id)
                ? await projects.FindByIdAsync(id, context.RequestAborted).ConfigureAwait(false)
                : throw ApiException.BadRequest("reference_id must be a project id");
            if (project is not null)
            {
                quotas.Add(await QuotaResponse.FromAsync(context, project).ConfigureAwait(false));
            }

            total = quotas.Count;
        }
        else
        {
            var (list, count) = await projects.ListAsync(null, null, null, page, pageSize, context.RequestAborted).ConfigureAwait(false);
            foreach (var project in list)
            {
                quotas.Add(await QuotaResponse.FromAsync(context, project).ConfigureAwait(false));
            }

            total = count;
        }

        Api.WritePaging(context, total, page, pageSize);
        return Results.Json(quotas, Api.Json);
    }

    private static async Task<IResult> GetQuotaAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        return Results.Json(await QuotaResponse.FromAsync(context, await QuotaProjectAsync(context).ConfigureAwait(false)).ConfigureAwait(false), Api.Json);
    }

    private static async Task<IResult> UpdateQuotaAsync(HttpContext context)
    {
        var caller = await Api.SysAdminAsync(context).ConfigureAwait(false);
        var project = await QuotaProjectAsync(context).ConfigureAwait(false);
        var request = await Api.BodyAsync<QuotaUpdateRequest>(context).ConfigureAwait(false);
        if (request.Hard is null || !request.Hard.TryGetValue("storage", out long storage))
        {
            throw ApiException.BadRequest("hard.storage is required");
        }

        if (request.Hard.Keys.Any(k => k != "storage"))
        {
            throw ApiException.BadRequest("only the storage quota is supported");
        }

        await context.RequestServices.GetRequiredService<IProjectStore>().SetStorageLimitAsync(project.Id, StorageLimits.FromRequested(storage), context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "update", "quota", $"{project.Name} storage {storage}", project.Name);
        return Results.Ok();
    }

    private static async Task<Project> QuotaProjectAsync(HttpContext context)
    {
        long id = Api.Id(context, "id");
        return await context.RequestServices.GetRequiredService<IProjectStore>().FindByIdAsync(id, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"quota {id} not found");
    }

    private sealed record QuotaUpdateRequest(Dictionary<string, long>? Hard);

    private sealed record QuotaReference(long Id, string Name, string? OwnerName);

    private sealed record QuotaResponse(long Id, QuotaReference Ref, string CreationTime, string UpdateTime, Dictionary<string, long> Hard, Dictionary<string, long> Used)
    {
        public static async Task<QuotaResponse> FromAsync(HttpContext context, Project project)
        {
            long used = await context.RequestServices.GetRequiredService<IProjectRepositories>().GetProjectUsageAsync(project.Name, context.RequestAborted).ConfigureAwait(false);
            string? owner = project.OwnerId is long ownerId
                ? (await context.RequestServices.GetRequiredService<IUserStore>().FindByIdAsync(ownerId, context.RequestAborted).ConfigureAwait(false))?.Username
                : null;
            return new QuotaResponse(
                project.Id, new QuotaReference(project.Id, project.Name, owner), Api.Time(project.CreatedAt), Api.Time(project.UpdatedAt),
                new Dictionary<string, long> { ["storage"] = project.StorageLimit ?? -1 },
                new Dictionary<string, long> { ["storage"] = used });
        }
    }
}
