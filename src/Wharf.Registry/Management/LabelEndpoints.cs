using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Labels;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Management;

/// <summary>
/// Harbor's labels: <c>/labels</c> (global labels, scope <c>g</c>, and a project's, scope <c>p</c>) and
/// the labels of an artifact, <c>…/artifacts/{reference}/labels</c>. The rules are <see cref="LabelRules"/>.
/// </summary>
internal static class LabelEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/labels", Api.Handle(ListAsync));
        api.MapPost("/labels", Api.Handle(CreateAsync));
        api.MapGet("/labels/{label_id}", Api.Handle(GetAsync));
        api.MapPut("/labels/{label_id}", Api.Handle(UpdateAsync));
        api.MapDelete("/labels/{label_id}", Api.Handle(DeleteAsync));
        api.MapPost(RepositoryEndpoints.ArtifactRoute + "/labels", Api.Handle(AttachAsync));
        api.MapDelete(RepositoryEndpoints.ArtifactRoute + "/labels/{label_id}", Api.Handle(DetachAsync));
    }

    private static LabelRules Rules(HttpContext context) => context.RequestServices.GetRequiredService<LabelRules>();

    // GET /labels?scope=g|p&project_id=N&name=… (a part of the name) or q=name=~… / q=name=…
    private static async Task<IResult> ListAsync(HttpContext context)
    {
        var caller = await Api.CallerAsync(context).ConfigureAwait(false);
        var query = context.Request.Query;
        long? projectId = query["project_id"].ToString() is { Length: > 0 } raw
            ? long.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out long id) ? id : throw ApiException.BadRequest("project_id must be a number")
            : null;
        string? contains = query["name"].ToString() is { Length: > 0 } name ? name : null;
        string? exact = null;
        if (query["q"].ToString() is { Length: > 0 } q)
        {
            foreach (string term in q.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (term.StartsWith("name=~", StringComparison.Ordinal))
                {
                    contains = term[6..];
                }
                else if (term.StartsWith("name=", StringComparison.Ordinal))
                {
                    exact = term[5..];
                }
                else
                {
                    throw ApiException.BadRequest($"labels can be queried by name only, not \"{term}\"");
                }
            }
        }

        var labels = await Rules(context).ListAsync(caller, query["scope"].ToString() is { Length: > 0 } s ? s : null, projectId, contains, exact, context.RequestAborted)
            .ConfigureAwait(false);
        return Results.Json(Api.Page(context, labels).Select(LabelResponse.From), Api.Json);
    }

    private static async Task<IResult> CreateAsync(HttpContext context)
    {
        var caller = await Api.CallerAsync(context).ConfigureAwait(false);
        var request = await Api.BodyAsync<LabelRequest>(context).ConfigureAwait(false);
        var label = await Rules(context).CreateAsync(caller, request.Name, request.Description, request.Color, request.Scope, request.ProjectId, context.RequestAborted)
            .ConfigureAwait(false);
        Api.Audit(context, caller, "create", "label", label.Name, null);
        return Api.Created(context, $"{Api.Prefix}/labels/{label.Id}");
    }

    private static async Task<IResult> GetAsync(HttpContext context)
    {
        var caller = await Api.CallerAsync(context).ConfigureAwait(false);
        var label = await Rules(context).GetAsync(caller, Api.Id(context, "label_id"), context.RequestAborted).ConfigureAwait(false);
        return Results.Json(LabelResponse.From(label), Api.Json);
    }

    private static async Task<IResult> UpdateAsync(HttpContext context)
    {
        var caller = await Api.CallerAsync(context).ConfigureAwait(false);
        long id = Api.Id(context, "label_id");
        var request = await Api.BodyAsync<LabelRequest>(context).ConfigureAwait(false);
        var label = await Rules(context).UpdateAsync(caller, id, request.Name, request.Description, request.Color, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "update", "label", label.Name, null);
        return Results.Ok();
    }

    private static async Task<IResult> DeleteAsync(HttpContext context)
    {
        var caller = await Api.CallerAsync(context).ConfigureAwait(false);
        var label = await Rules(context).DeleteAsync(caller, Api.Id(context, "label_id"), context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "delete", "label", label.Name, null);
        return Results.Ok();
    }

    // POST …/artifacts/{reference}/labels {"id": N}: developers and up, as a tag is added.
    private static async Task<IResult> AttachAsync(HttpContext context)
    {
        var (caller, project, repository, artifact) = await RepositoryEndpoints.ArtifactOfRouteAsync(context, RepositoryActions.Push).ConfigureAwait(false);
        var request = await Api.BodyAsync<LabelRequest>(context).ConfigureAwait(false);
        var label = await Rules(context).AttachAsync(project, artifact, request.Id ?? throw ApiException.BadRequest("id (the label's) is required"), context.RequestAborted)
            .ConfigureAwait(false);
        Api.Audit(context, caller, "create", "artifact_label", $"{repository}@{artifact.Digest} {label.Name}", project.Name);
        return Results.Ok();
    }

    private static async Task<IResult> DetachAsync(HttpContext context)
    {
        var (caller, project, repository, artifact) = await RepositoryEndpoints.ArtifactOfRouteAsync(context, RepositoryActions.Push).ConfigureAwait(false);
        var label = await Rules(context).DetachAsync(artifact, Api.Id(context, "label_id"), context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "delete", "artifact_label", $"{repository}@{artifact.Digest} {label.Name}", project.Name);
        return Results.Ok();
    }

    private sealed record LabelRequest(long? Id, string? Name, string? Description, string? Color, string? Scope, long? ProjectId);

    /// <summary>Harbor's Label.</summary>
    internal sealed record LabelResponse(long Id, string Name, string Description, string Color, string Scope, long ProjectId, string CreationTime, string UpdateTime)
    {
        public static LabelResponse From(Label label) => new(
            label.Id, label.Name, label.Description, label.Color, label.Scope, label.ProjectId ?? 0, Api.Time(label.CreatedAt), Api.Time(label.UpdatedAt));
    }
}
