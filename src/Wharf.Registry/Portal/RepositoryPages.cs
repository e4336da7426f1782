using Microsoft.AspNetCore.Http;
using Wharf.Oci;
using Wharf.Registry.Api;
using Wharf.Registry.Auth;
using Wharf.Registry.Management;
using ManagementApi = Wharf.Registry.Management.Api;
using Wharf.Registry.Metadata;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Portal;

/// <summary>A repository's artifacts and tags, the pull command to copy, and tag deletion for roles that may delete.</summary>
internal static class RepositoryPages
{
    private const int PageSize = 20;

    private static RepositoryName RepositoryOf(Project project, string name) =>
        RepositoryName.TryParse($"{project.Name}/{name}", out var repository, out _)
            ? repository
            : throw ApiException.BadRequest($"invalid repository name {name}");

    public static async Task<IResult> ShowAsync(PortalPage page)
    {
        var project = await ProjectPages.ProjectAsync(page).ConfigureAwait(false);
        string name = page.Context.Request.RouteValues["repository"] as string ?? "";
        var repository = RepositoryOf(project, name);
        var access = await page.Service<AccessEvaluator>().EvaluateAsync(page.Caller, project, page.Aborted).ConfigureAwait(false);
        bool canDelete = access.Actions.HasFlag(RepositoryActions.Delete);
        int number = ProjectPages.PageNumber(page.Context);
        var store = page.Service<IArtifactStore>();
        _ = await store.GetRepositoryInfoAsync(repository, page.Aborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"repository {repository} not found");
        var (artifacts, total) = await store.ListArtifactsAsync(repository, number, PageSize, page.Aborted).ConfigureAwait(false);
        string host = page.Context.Request.Host.Value ?? "localhost";
        string tagsAction = $"/portal/projects/{Html.Segment(project.Name)}/tags/delete";
        var rows = new List<Markup>();
        int index = 0;
        foreach (var artifact in artifacts)
        {
            index++;
            var tags = artifact.Tags.Select(t =>
            {
                string pull = $"podman pull {host}/{repository}:{t.Name}";
                Markup delete = canDelete
                    ? page.ButtonForm(tagsAction, $"Delete tag {t.Name}", Html.Of($"<input type=\"hidden\" name=\"repository\" value=\"{name}\"><input type=\"hidden\" name=\"tag\" value=\"{t.Name}\">"), "danger")
                    : Markup.Empty;
                return Html.Of($"""
                    <li><span class="tag">{t.Name}</span>
                    <code class="pull">{pull}</code>
                    <button type="button" class="copy" data-copy="{pull}" aria-label="Copy pull command for {t.Name}">Copy</button>
                    {delete}</li>
                    """);
            }).ToList();
            Markup tagList = tags.Count == 0 ? Html.Of($"<span class=\"hint\">untagged</span>") : Html.Of($"<ul class=\"tags\">{Html.Join(tags)}</ul>");
            Markup children = artifact.References.Count == 0
                ? Markup.Empty
                : Html.Of($"<details><summary>{artifact.References.Count} manifests in this index</summary><ul>{Html.Join(artifact.References.Select(d => Html.Of($"<li><code>{d.ToString()}</code></li>")))}</ul></details>");
            string byDigest = $"podman pull {host}/{repository}@{artifact.Digest}";
            rows.Add(Html.Of($"""
                <tr>
                <th scope="row"><code class="digest" title="{artifact.Digest.ToString()}">{Short(artifact.Digest)}</code>
                <button type="button" class="copy" data-copy="{byDigest}" aria-label="Copy pull command by digest for artifact {index}">Copy</button></th>
                <td>{tagList}</td>
                <td>{Kind(artifact)}{children}</td>
                <td class="num">{ProjectPages.Size(artifact.Size)}</td>
                <td>{ProjectPages.When(artifact.PushTime)}</td>
                </tr>
                """));
        }

        Markup table = total == 0
            ? Html.Of($"<p>No artifacts.</p>")
            : Html.Of($"""
                <table><caption class="visually-hidden">Artifacts of {repository.Value}</caption>
                <thead><tr><th scope="col">Digest</th><th scope="col">Tags and pull commands</th><th scope="col">Type</th><th scope="col">Size</th><th scope="col">Pushed</th></tr></thead>
                <tbody>{Html.Join(rows)}</tbody></table>
                {ProjectPages.Pager(page.Context, $"/portal/projects/{Html.Segment(project.Name)}/repositories/{name}", number, total)}
                """);
        return page.Render(repository.Value, Html.Of($"""
            <p><a href="/portal/projects/{Html.Segment(project.Name)}">Back to project {project.Name}</a></p>
            <p>With the wharf CLI: <code>wharf pull {host}/{repository.Value}:TAG</code></p>
            {table}
            """));
    }

    private static string Short(Digest digest)
    {
        string text = digest.ToString();
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        return text.Length > colon + 13 ? text[..(colon + 13)] : text;
    }

    private static Markup Kind(ArtifactInfo artifact)
    {
        string kind = artifact.MediaType switch
        {
            "application/vnd.oci.image.index.v1+json" or "application/vnd.docker.distribution.manifest.list.v2+json" => "index",
            _ when artifact.ArtifactType is { Length: > 0 } => "artifact",
            _ => "image",
        };
        Markup type = artifact.ArtifactType is { Length: > 0 } t ? Html.Of($"<br><span class=\"hint\">{t}</span>") : Markup.Empty;
        return Html.Of($"{kind}<br><span class=\"hint\">{artifact.MediaType}</span>{type}");
    }

    /// <summary>As DELETE .../artifacts/{reference}/tags/{tag}: maintainers and project admins (the delete action) only.</summary>
    public static async Task<IResult> DeleteTagAsync(PortalPage page, IFormCollection form)
    {
        var caller = page.RequireUser();
        var project = await ProjectPages.ProjectAsync(page).ConfigureAwait(false);
        string name = form.Field("repository");
        string tag = form.Field("tag");
        var repository = RepositoryOf(project, name);
        var access = await page.Service<AccessEvaluator>().EvaluateAsync(caller, project, page.Aborted).ConfigureAwait(false);
        if (!access.Actions.HasFlag(RepositoryActions.Delete))
        {
            throw ApiException.Forbidden($"{caller.Name} may not delete in {project.Name}");
        }

        if (!Tag.TryParse(tag, out var validTag) || await page.Service<IArtifactStore>().GetArtifactAsync(repository, validTag, page.Aborted).ConfigureAwait(false) is null)
        {
            throw ApiException.NotFound($"tag {tag} not found in {repository}");
        }

        var cache = page.Service<ManifestCache>();
        cache.Invalidate(repository.Value);
        try
        {
            await page.Service<IMetadataStore>().DeleteTagAsync(repository, tag, page.Aborted).ConfigureAwait(false);
        }
        finally
        {
            cache.Invalidate(repository.Value);
        }

        ManagementApi.Audit(page.Context, caller, "delete", "tag", $"{repository}:{tag}", project.Name);
        return PortalPage.Back($"/portal/projects/{Html.Segment(project.Name)}/repositories/{name}", $"Tag {tag} deleted.");
    }
}
