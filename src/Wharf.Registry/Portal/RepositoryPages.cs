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

    /// <summary>Tags shown with one artifact; the rest are reached with the tag lookup (one image may carry thousands).</summary>
    private const int TagsShown = 10;

    private static RepositoryName RepositoryOf(Project project, string name) =>
        RepositoryName.TryParse($"{project.Name}/{name}", out var repository, out _)
            ? repository
            : throw ApiException.BadRequest($"invalid repository name {name}");

    public static async Task<IResult> ShowAsync(PortalPage page)
    {
        var project = await ProjectPages.ProjectAsync(page).ConfigureAwait(false);
        string name = page.Context.Request.RouteValues["repository"] as string ?? "";
        var repository = RepositoryOf(project, name);
        var rules = page.Service<ArtifactRules>();
        bool canDelete = await rules.MayAsync(page.Caller, project, RepositoryActions.Delete, page.Aborted).ConfigureAwait(false);
        int number = ProjectPages.PageNumber(page.Context);
        var store = page.Service<IArtifactStore>();
        _ = await store.GetRepositoryInfoAsync(repository, page.Aborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"repository {repository} not found");
        // ?tag= looks one tag up (an index lookup), for a tag past the first ones of its artifact or the first page.
        string wanted = page.Context.Request.Query["tag"].ToString().Trim();
        IReadOnlyList<ArtifactInfo> artifacts;
        long total;
        if (wanted.Length > 0)
        {
            var found = Tag.TryParse(wanted, out var tag)
                ? await store.GetArtifactAsync(repository, ManifestReference.FromTag(tag), page.Aborted).ConfigureAwait(false)
                : null;
            artifacts = found is null ? [] : [found];
            total = artifacts.Count;
        }
        else
        {
            (artifacts, total) = await store.ListArtifactsAsync(repository, number, PageSize, page.Aborted).ConfigureAwait(false);
        }

        string host = page.Context.Request.Host.Value ?? "localhost";
        string tagsAction = $"/portal/projects/{Html.Segment(project.Name)}/tags/delete";
        string artifactAction = $"/portal/projects/{Html.Segment(project.Name)}/artifacts/delete";
        var rows = new List<Markup>();
        int index = 0;
        foreach (var artifact in artifacts)
        {
            index++;
            // The looked-up tag first, then in the store's order; at most TagsShown of them.
            var shown = artifact.Tags
                .OrderByDescending(t => t.Name == wanted)
                .Take(TagsShown);
            var tags = shown.Select(t =>
            {
                string pull = $"podman pull {host}/{repository}:{t.Name}";
                string wharfPull = $"wharf pull {host}/{repository}:{t.Name}";
                Markup delete = canDelete
                    ? page.ButtonForm(tagsAction, $"Delete tag {t.Name}", Html.Of($"<input type=\"hidden\" name=\"repository\" value=\"{name}\"><input type=\"hidden\" name=\"tag\" value=\"{t.Name}\">"), "danger")
                    : Markup.Empty;
                return Html.Of($"""
                    <li><span class="tag">{t.Name}</span>
                    <code class="pull">{pull}</code>
                    <button type="button" class="copy" data-copy="{pull}" aria-label="Copy pull command for {t.Name}">Copy</button>
                    <button type="button" class="copy" data-copy="{wharfPull}" aria-label="Copy wharf pull command for {t.Name}">Copy for wharf</button>
                    {delete}</li>
                    """);
            }).ToList();
            int hidden = artifact.Tags.Count - tags.Count;
            Markup more = hidden > 0 ? Html.Of($"<p class=\"hint\">and {hidden} more {(hidden == 1 ? "tag" : "tags")}: look one up by name above</p>") : Markup.Empty;
            Markup tagList = tags.Count == 0 ? Html.Of($"<span class=\"hint\">untagged</span>") : Html.Of($"<ul class=\"tags\">{Html.Join(tags)}</ul>{more}");
            Markup children = await ChildrenAsync(rules, repository, artifact, page.Aborted).ConfigureAwait(false);
            Markup referrers = await ReferrersAsync(rules, repository, artifact, page.Aborted).ConfigureAwait(false);
            Markup deleteArtifact = canDelete
                ? page.ButtonForm(artifactAction, $"Delete artifact {Short(artifact.Digest)}", Html.Of($"<input type=\"hidden\" name=\"repository\" value=\"{name}\"><input type=\"hidden\" name=\"digest\" value=\"{artifact.Digest.ToString()}\">"), "danger")
                : Markup.Empty;
            string byDigest = $"podman pull {host}/{repository}@{artifact.Digest}";
            rows.Add(Html.Of($"""
                <tr>
                <th scope="row"><code class="digest" title="{artifact.Digest.ToString()}">{Short(artifact.Digest)}</code>
                <button type="button" class="copy" data-copy="{byDigest}" aria-label="Copy pull command by digest for artifact {index}">Copy</button>
                {deleteArtifact}</th>
                <td>{tagList}</td>
                <td>{Kind(artifact)}{children}{referrers}</td>
                <td class="num">{ProjectPages.Size(artifact.Size)}</td>
                <td>{ProjectPages.When(artifact.PushTime)}</td>
                </tr>
                """));
        }

        string self = $"/portal/projects/{Html.Segment(project.Name)}/repositories/{name}";
        Markup lookup = Html.Of($"""
            <form method="get" action="{self}" role="search" class="row">
            <label for="tag">Find a tag</label>
            <input id="tag" name="tag" type="search" value="{wanted}" autocomplete="off">
            <button type="submit">Find</button>
            {(wanted.Length > 0 ? Html.Of($"<a href=\"{self}\">All artifacts</a>") : Markup.Empty)}
            </form>
            """);
        Markup table = total == 0
            ? Html.Of($"<p>{(wanted.Length > 0 ? $"No tag {wanted} in {repository.Value}." : "No artifacts.")}</p>")
            : Html.Of($"""
                <div class="scroll"><table><caption class="visually-hidden">Artifacts of {repository.Value}</caption>
                <thead><tr><th scope="col">Digest</th><th scope="col">Tags and pull commands</th><th scope="col">Type</th><th scope="col">Size</th><th scope="col">Pushed</th></tr></thead>
                <tbody>{Html.Join(rows)}</tbody></table></div>
                {(wanted.Length > 0 ? Markup.Empty : ProjectPages.Pager(page.Context, self, number, total))}
                """);
        return page.Render(repository.Value, Html.Of($"""
            <p><a href="/portal/projects/{Html.Segment(project.Name)}">Back to project {project.Name}</a></p>
            <p>With the wharf CLI: <code>wharf pull {host}/{repository.Value}:TAG</code></p>
            {lookup}
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
        // The artifact type falls back to the config's media type (image-spec's rule): an image's is an image config.
        bool imageConfig = artifact.ArtifactType is null or "" or MediaTypes.OciConfig or MediaTypes.DockerConfig;
        string kind = artifact.MediaType switch
        {
            MediaTypes.OciIndex or MediaTypes.DockerManifestList => "index",
            _ when !imageConfig => "artifact",
            _ => "image",
        };
        Markup type = !imageConfig ? Html.Of($"<br><span class=\"hint\">{artifact.ArtifactType}</span>") : Markup.Empty;
        return Html.Of($"{kind}<br><span class=\"hint\">{artifact.MediaType}</span>{type}");
    }

    /// <summary>An index's manifests with their platforms (os/architecture/variant), folded.</summary>
    private static async Task<Markup> ChildrenAsync(ArtifactRules rules, RepositoryName repository, ArtifactInfo artifact, CancellationToken cancellationToken)
    {
        if (artifact.References.Count == 0)
        {
            return Markup.Empty;
        }

        var platforms = await rules.PlatformsAsync(repository, artifact, cancellationToken).ConfigureAwait(false);
        var items = platforms.Count > 0
            ? platforms.Select(p => Html.Of($"<li><span class=\"platform\">{Platform(p.Platform)}</span> <code>{Short(p.Digest)}</code></li>"))
            : artifact.References.Select(d => Html.Of($"<li><code>{Short(d)}</code></li>"));
        string summary = platforms.Count > 0 ? $"{platforms.Count} platforms" : $"{artifact.References.Count} manifests in this index";
        return Html.Of($"<details class=\"platforms\"><summary>{summary}</summary><ul>{Html.Join(items)}</ul></details>");
    }

    private static string Platform(Platform? platform) => platform is null
        ? "unknown platform"
        : $"{platform.Os}/{platform.Architecture}{(platform.Variant is { Length: > 0 } v ? "/" + v : "")}";

    /// <summary>Signatures, SBOMs and other artifacts whose subject is this one.</summary>
    private static async Task<Markup> ReferrersAsync(ArtifactRules rules, RepositoryName repository, ArtifactInfo artifact, CancellationToken cancellationToken)
    {
        var referrers = await rules.ReferrersAsync(repository, artifact, cancellationToken).ConfigureAwait(false);
        if (referrers.Count == 0)
        {
            return Markup.Empty;
        }

        var items = referrers.Select(r => Html.Of($"<li><span class=\"hint\">{r.ArtifactType ?? r.MediaType}</span> <code>{Short(r.Digest)}</code> {ProjectPages.Size(r.Size)}</li>"));
        return Html.Of($"<details class=\"referrers\"><summary>{referrers.Count} {(referrers.Count == 1 ? "referrer" : "referrers")} (signatures, SBOMs)</summary><ul>{Html.Join(items)}</ul></details>");
    }

    /// <summary>As DELETE .../artifacts/{digest}: the delete action; an index still listing it keeps it (Harbor's 412).</summary>
    public static async Task<IResult> DeleteArtifactAsync(PortalPage page, IFormCollection form)
    {
        var caller = page.RequireUser();
        var project = await ProjectPages.ProjectAsync(page).ConfigureAwait(false);
        string name = form.Field("repository");
        var repository = RepositoryOf(project, name);
        var rules = page.Service<ArtifactRules>();
        await rules.RequireAsync(caller, project, RepositoryActions.Delete, page.Aborted).ConfigureAwait(false);
        string digest = form.Field("digest");
        var artifact = (Digest.TryParse(digest, out var parsedDigest) ? await page.Service<IArtifactStore>().GetArtifactAsync(repository, parsedDigest, page.Aborted).ConfigureAwait(false) : null)
            ?? throw ApiException.NotFound($"artifact {digest} not found in {repository}");
        await rules.DeleteArtifactAsync(caller, project, repository, artifact, page.Context.Request.Host.Value ?? "", page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "delete", "artifact", $"{repository}@{artifact.Digest}", project.Name);
        return PortalPage.Back($"/portal/projects/{Html.Segment(project.Name)}/repositories/{name}", $"Artifact {Short(artifact.Digest)} deleted.");
    }

    /// <summary>As DELETE .../artifacts/{reference}/tags/{tag}: maintainers and project admins (the delete action) only.</summary>
    public static async Task<IResult> DeleteTagAsync(PortalPage page, IFormCollection form)
    {
        var caller = page.RequireUser();
        var project = await ProjectPages.ProjectAsync(page).ConfigureAwait(false);
        string name = form.Field("repository");
        string tag = form.Field("tag");
        var repository = RepositoryOf(project, name);
        await page.Service<ArtifactRules>().DeleteTagAsync(caller, project, repository, tag, page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "delete", "tag", $"{repository}:{tag}", project.Name);
        return PortalPage.Back($"/portal/projects/{Html.Segment(project.Name)}/repositories/{name}", $"Tag {tag} deleted.");
    }
}
