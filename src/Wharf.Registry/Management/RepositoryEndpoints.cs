using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Oci;
using Wharf.Registry.Auth;
using Wharf.Registry.Identity;
using Wharf.Registry.Metadata;
using Wharf.Registry.Projects;
using ManifestCache = Wharf.Registry.Api.ManifestCache;

namespace Wharf.Registry.Management;

/// <summary>
/// Harbor's repositories, artifacts and tags. A repository is named without its project, with '/'
/// encoded twice (<c>a%252Fb</c>), as Harbor's clients send it; once-encoded works too. Reading needs
/// pull in the project, deleting needs delete (maintainers, project admins), adding a tag needs push.
/// </summary>
internal static class RepositoryEndpoints
{
    private const string RepositoryRoute = "/projects/{project_name_or_id}/repositories/{repository_name}";
    internal const string ArtifactRoute = RepositoryRoute + "/artifacts/{reference}";

    /// <summary>What Harbor writes for a time that never happened (an artifact never pulled).</summary>
    private const string NeverTime = "0001-01-01T00:00:00.000Z";

    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/projects/{project_name_or_id}/repositories", Api.Handle(ListRepositoriesAsync));
        api.MapGet(RepositoryRoute, Api.Handle(GetRepositoryAsync));
        api.MapDelete(RepositoryRoute, Api.Handle(DeleteRepositoryAsync));
        api.MapGet(RepositoryRoute + "/artifacts", Api.Handle(ListArtifactsAsync));
        api.MapGet(ArtifactRoute, Api.Handle(GetArtifactAsync));
        api.MapDelete(ArtifactRoute, Api.Handle(DeleteArtifactAsync));
        api.MapGet(ArtifactRoute + "/tags", Api.Handle(ListTagsAsync));
        api.MapPost(ArtifactRoute + "/tags", Api.Handle(CreateTagAsync));
        api.MapDelete(ArtifactRoute + "/tags/{tag_name}", Api.Handle(DeleteTagAsync));
    }

    private static async Task<IResult> ListRepositoriesAsync(HttpContext context)
    {
        var caller = await Api.CallerAsync(context).ConfigureAwait(false);
        var project = await Api.ProjectAsync(context, caller).ConfigureAwait(false);
        var (page, pageSize) = Api.Paging(context);
        string? name = null;
        foreach (string clause in context.Request.Query["q"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // Harbor's portal filters with q=name=~part.
            name = clause.StartsWith("name=~", StringComparison.Ordinal) ? clause[6..]
                : clause.StartsWith("name=", StringComparison.Ordinal) ? clause[5..]
                : throw ApiException.BadRequest("q: only name=~part is supported on repositories");
        }

        await PullsRecordedAsync(context).ConfigureAwait(false);
        var (list, total) = await Artifacts(context).ListRepositoryInfoAsync(project.Name, name, page, pageSize, context.RequestAborted).ConfigureAwait(false);
        Api.WritePaging(context, total, page, pageSize);
        return Results.Json(list.Select(r => RepositoryResponse.From(project, r)), Api.Json);
    }

    private static async Task<IResult> GetRepositoryAsync(HttpContext context)
    {
        var (_, project, repository) = await RepositoryOfRouteAsync(context, RepositoryActions.Pull).ConfigureAwait(false);
        await PullsRecordedAsync(context).ConfigureAwait(false);
        var info = await Artifacts(context).GetRepositoryInfoAsync(repository, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"repository {repository} not found");
        return Results.Json(RepositoryResponse.From(project, info), Api.Json);
    }

    private static async Task<IResult> DeleteRepositoryAsync(HttpContext context)
    {
        var (caller, project, repository) = await RepositoryOfRouteAsync(context, RepositoryActions.Delete).ConfigureAwait(false);
        await Rules(context).DeleteRepositoryAsync(caller, project, repository, context.Request.Host.Value ?? "", context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "delete", "repository", repository.Value, project.Name);
        return Results.Ok();
    }

    private static async Task<IResult> ListArtifactsAsync(HttpContext context)
    {
        var (_, project, repository) = await RepositoryOfRouteAsync(context, RepositoryActions.Pull).ConfigureAwait(false);
        var (page, pageSize) = Api.Paging(context);
        await PullsRecordedAsync(context).ConfigureAwait(false);
        var (list, total) = await Artifacts(context).ListArtifactsAsync(repository, page, pageSize, context.RequestAborted).ConfigureAwait(false);
        if (total == 0 && await Artifacts(context).GetRepositoryInfoAsync(repository, context.RequestAborted).ConfigureAwait(false) is null)
        {
            throw ApiException.NotFound($"repository {repository} not found");
        }

        bool withTags = !string.Equals(context.Request.Query["with_tag"], "false", StringComparison.OrdinalIgnoreCase);
        var labels = await LabelsAsync(context, list).ConfigureAwait(false);
        Api.WritePaging(context, total, page, pageSize);
        return Results.Json(list.Select(a => ArtifactResponse.From(project, repository, a, withTags, labels)), Api.Json);
    }

    private static async Task<IResult> GetArtifactAsync(HttpContext context)
    {
        var (_, project, repository, artifact) = await ArtifactOfRouteAsync(context, RepositoryActions.Pull).ConfigureAwait(false);
        var labels = await LabelsAsync(context, [artifact]).ConfigureAwait(false);
        return Results.Json(ArtifactResponse.From(project, repository, artifact, withTags: true, labels), Api.Json);
    }

    private static async Task<IResult> DeleteArtifactAsync(HttpContext context)
    {
        var (caller, project, repository, artifact) = await ArtifactOfRouteAsync(context, RepositoryActions.Delete).ConfigureAwait(false);
        await Rules(context).DeleteArtifactAsync(caller, project, repository, artifact, context.Request.Host.Value ?? "", context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "delete", "artifact", $"{repository}@{artifact.Digest}", project.Name);
        return Results.Ok();
    }

    private static async Task<IResult> ListTagsAsync(HttpContext context)
    {
        var (_, _, repository, artifact) = await ArtifactOfRouteAsync(context, RepositoryActions.Pull).ConfigureAwait(false);
        return Results.Json(Api.Page(context, artifact.Tags).Select(t => TagResponse.From(repository, artifact, t)), Api.Json);
    }

    private static async Task<IResult> CreateTagAsync(HttpContext context)
    {
        var (caller, project, repository, artifact) = await ArtifactOfRouteAsync(context, RepositoryActions.Push).ConfigureAwait(false);
        var request = await Api.BodyAsync<TagRequest>(context).ConfigureAwait(false);
        await Rules(context).AddTagAsync(caller, project, repository, artifact.Digest, request.Name, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "create", "tag", $"{repository}:{request.Name}", project.Name);
        return Api.Created(context, $"{context.Request.PathBase}{context.Request.Path}/{request.Name}");
    }

    private static async Task<IResult> DeleteTagAsync(HttpContext context)
    {
        var (caller, project, repository, artifact) = await ArtifactOfRouteAsync(context, RepositoryActions.Delete).ConfigureAwait(false);
        string tag = context.Request.RouteValues["tag_name"] as string ?? "";
        if (!artifact.Tags.Any(t => t.Name == tag))
        {
            throw ApiException.NotFound($"tag {tag} not found on {repository}@{artifact.Digest}");
        }

        await Rules(context).DeleteTagAsync(caller, project, repository, tag, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "delete", "tag", $"{repository}:{tag}", project.Name);
        return Results.Ok();
    }

    private static ArtifactRules Rules(HttpContext context) => context.RequestServices.GetRequiredService<ArtifactRules>();

    private static IArtifactStore Artifacts(HttpContext context) => context.RequestServices.GetRequiredService<IArtifactStore>();

    /// <summary>With <c>with_label=true</c>, as Harbor: the labels of each artifact, by digest; otherwise null (the field is left out).</summary>
    private static async Task<IReadOnlyDictionary<string, IReadOnlyList<Wharf.Registry.Labels.Label>>?> LabelsAsync(HttpContext context, IReadOnlyList<ArtifactInfo> artifacts)
    {
        if (!string.Equals(context.Request.Query["with_label"], "true", StringComparison.OrdinalIgnoreCase) || artifacts.Count == 0)
        {
            return null;
        }

        return await context.RequestServices.GetRequiredService<Wharf.Registry.Labels.LabelRules>()
            .OfArtifactsAsync(artifacts[0].RepositoryId, [.. artifacts.Select(a => a.Digest.ToString())], context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Pull counts are written in the background; reads wait for what was already recorded, so they are never behind the caller's own pulls.</summary>
    private static Task PullsRecordedAsync(HttpContext context) =>
        context.RequestServices.GetService<Accounting.PullAccounting>()?.FlushAsync(context.RequestAborted) ?? Task.CompletedTask;

    /// <summary>The project (visible to the caller), the repository of the route, and a check that the caller may do <paramref name="needed"/>.</summary>
    private static async Task<(Caller Caller, Project Project, RepositoryName Repository)> RepositoryOfRouteAsync(HttpContext context, RepositoryActions needed)
    {
        var caller = await Api.CallerAsync(context).ConfigureAwait(false);
        var project = await Api.ProjectAsync(context, caller).ConfigureAwait(false);
        string raw = context.Request.RouteValues["repository_name"] as string ?? "";

        // The server decoded the path once; Harbor's clients encode '/' twice, so decode what is left.
        string name = Uri.UnescapeDataString(raw);
        if (!RepositoryName.TryParse($"{project.Name}/{name}", out var repository, out _))
        {
            throw ApiException.BadRequest($"invalid repository name {name}");
        }

        if (needed != RepositoryActions.Pull)
        {
            await Rules(context).RequireAsync(caller, project, needed, context.RequestAborted).ConfigureAwait(false);
        }

        return (caller, project, repository);
    }

    internal static async Task<(Caller Caller, Project Project, RepositoryName Repository, ArtifactInfo Artifact)> ArtifactOfRouteAsync(HttpContext context, RepositoryActions needed)
    {
        var (caller, project, repository) = await RepositoryOfRouteAsync(context, needed).ConfigureAwait(false);
        await PullsRecordedAsync(context).ConfigureAwait(false);
        string text = context.Request.RouteValues["reference"] as string ?? "";
        if (!ManifestReference.TryParse(text, out var reference, out _))
        {
            throw ApiException.BadRequest($"reference {text} is neither a digest nor a tag");
        }

        var artifact = await Artifacts(context).GetArtifactAsync(repository, reference, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"artifact {repository}:{reference} not found");
        return (caller, project, repository, artifact);
    }

    private sealed record TagRequest(string? Name);

    private sealed record RepositoryResponse(long Id, long ProjectId, string Name, string Description, long ArtifactCount, long PullCount, string CreationTime, string UpdateTime)
    {
        public static RepositoryResponse From(Project project, RepositoryInfo r) =>
            new(r.Id, project.Id, r.Name, "", r.ArtifactCount, r.PullCount, Api.Time(r.CreatedAt), Api.Time(r.UpdatedAt));
    }

    private sealed record TagResponse(long Id, long RepositoryId, long ArtifactId, string Name, string PushTime, string PullTime, bool Immutable)
    {
        public static TagResponse From(RepositoryName repository, ArtifactInfo artifact, TagInfo tag) =>
            new(0, artifact.RepositoryId, 0, tag.Name, Api.Time(tag.PushTime), artifact.PullTime is { } p ? Api.Time(p) : NeverTime, false);
    }

    private sealed record ArtifactReference(string ChildDigest);

    private sealed record ArtifactResponse(
        string Type, string MediaType, string ManifestMediaType, string? ArtifactType, long ProjectId, long RepositoryId, string RepositoryName,
        string Digest, long Size, string PushTime, string PullTime, TagResponse[]? Tags, ArtifactReference[] References,
        LabelEndpoints.LabelResponse[]? Labels)
    {
        public static ArtifactResponse From(
            Project project, RepositoryName repository, ArtifactInfo a, bool withTags, IReadOnlyDictionary<string, IReadOnlyList<Wharf.Registry.Labels.Label>>? labels) => new(
            MediaTypes.IsManifest(a.MediaType) && a.ArtifactType is null or MediaTypes.OciConfig or MediaTypes.DockerConfig ? "IMAGE" : "UNKNOWN",
            a.MediaType, a.MediaType, a.ArtifactType, project.Id, a.RepositoryId, repository.Value, a.Digest.ToString(), a.Size,
            Api.Time(a.PushTime), a.PullTime is { } p ? Api.Time(p) : NeverTime,
            withTags ? [.. a.Tags.Select(t => TagResponse.From(repository, a, t))] : null,
            [.. a.References.Select(d => new ArtifactReference(d.ToString()))],
            labels is null ? null : [.. (labels.GetValueOrDefault(a.Digest.ToString()) ?? []).Select(LabelEndpoints.LabelResponse.From)]);
    }
}
