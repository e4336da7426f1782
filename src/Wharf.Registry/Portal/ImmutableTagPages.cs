using Microsoft.AspNetCore.Http;
using Wharf.Registry.Management;
using Wharf.Registry.Policies;
using Wharf.Registry.Projects;
using ManagementApi = Wharf.Registry.Management.Api;

namespace Wharf.Registry.Portal;

/// <summary>Immutable tag rules: list, add, remove; project admins only (<see cref="ImmutableTagRules"/> decides).</summary>
internal static class ImmutableTagPages
{
    /// <summary>The section, or nothing for a caller who may not list the rules.</summary>
    public static async Task<Markup> SectionAsync(PortalPage page, Project project)
    {
        IReadOnlyList<ImmutableTagRule> rules;
        try
        {
            rules = await page.Service<ImmutableTagRules>().ListAsync(page.Caller, project, page.Aborted).ConfigureAwait(false);
        }
        catch (ApiException e) when (e.Status == StatusCodes.Status403Forbidden)
        {
            return Markup.Empty;
        }

        string self = PolicyPages.PoliciesOf(project) + "/immutable";
        var rows = rules.Select(r => Html.Of($"""
            <tr><th scope="row">{r.Id}</th><td>{(r.TagExcludes ? "excluding" : "matching")} <code>{r.TagPattern}</code></td>
            <td>{(r.RepositoryExcludes ? "excluding" : "matching")} <code>{r.RepositoryPattern}</code></td><td>{(r.Disabled ? "disabled" : "enabled")}</td>
            <td>{page.ButtonForm($"{self}/{r.Id}/delete", $"Remove rule {r.Id}", css: "danger")}</td></tr>
            """));
        Markup table = rules.Count == 0
            ? Html.Of($"<p>No immutable tag rules: every tag can be moved and deleted.</p>")
            : Html.Of($"""
                <table><caption class="visually-hidden">Immutable tag rules of {project.Name}</caption>
                <thead><tr><th scope="col">Rule</th><th scope="col">Tags</th><th scope="col">Repositories</th><th scope="col">State</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
                <tbody>{Html.Join(rows)}</tbody></table>
                """);
        return Html.Of($"""
            <section aria-labelledby="immutable"><h2 id="immutable">Immutable tags</h2>
            <p class="hint">A tag a rule selects can be pushed once; then it can be neither moved nor deleted.</p>
            {table}
            <h3>Add a rule</h3>
            <form method="post" action="{self}" class="row">
            {page.Antiforgery()}
            <label for="immutable_tag">Tags matching</label>
            <input id="immutable_tag" name="tag_pattern" required placeholder="v*" autocomplete="off">
            <label for="immutable_repo">in repositories matching</label>
            <input id="immutable_repo" name="repository_pattern" value="**" required autocomplete="off">
            <button type="submit">Add immutable rule</button>
            </form>
            </section>
            """);
    }

    /// <summary>As POST …/immutabletagrules.</summary>
    public static async Task<IResult> AddAsync(PortalPage page, IFormCollection form)
    {
        var caller = page.RequireUser();
        var project = await ProjectPages.ProjectAsync(page).ConfigureAwait(false);
        var request = new ImmutableTagRuleRequest(0, false, "immutable", "immutable_template",
            [new ImmutableSelector("doublestar", "matches", form.Field("tag_pattern"))],
            new Dictionary<string, IReadOnlyList<ImmutableSelector>> { ["repository"] = [new ImmutableSelector("doublestar", "repoMatches", form.Field("repository_pattern"))] });
        var rule = await page.Service<ImmutableTagRules>().AddAsync(caller, project, request, page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "create", "immutable_tag_rule", $"{project.Name} rule {rule.Id}", project.Name);
        return PortalPage.Back(PolicyPages.PoliciesOf(project) + "#immutable", $"Immutable tag rule {rule.Id} added.");
    }

    /// <summary>As DELETE …/immutabletagrules/{id}.</summary>
    public static async Task<IResult> DeleteAsync(PortalPage page, IFormCollection form)
    {
        _ = form;
        var caller = page.RequireUser();
        var project = await ProjectPages.ProjectAsync(page).ConfigureAwait(false);
        long id = PolicyPages.RouteId(page, "rule");
        await page.Service<ImmutableTagRules>().DeleteAsync(caller, project, id, page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "delete", "immutable_tag_rule", $"{project.Name} rule {id}", project.Name);
        return PortalPage.Back(PolicyPages.PoliciesOf(project) + "#immutable", $"Immutable tag rule {id} removed.");
    }
}
