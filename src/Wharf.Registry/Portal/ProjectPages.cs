using System.Globalization;
using Microsoft.AspNetCore.Http;
using Wharf.Registry.Auth;
using Wharf.Registry.Identity;
using Wharf.Registry.Management;
using ManagementApi = Wharf.Registry.Management.Api;
using Wharf.Registry.Metadata;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Portal;

/// <summary>The project list (/), a project's page, and an admin's create / edit / delete.</summary>
internal static class ProjectPages
{
    private const int PageSize = 20;

    public static async Task<IResult> ListAsync(PortalPage page)
    {
        var caller = page.Caller;
        string term = page.Context.Request.Query["q"].ToString().Trim();
        int number = PageNumber(page.Context);
        var (projects, total) = await page.Service<ProjectRules>().ListAsync(caller, term.Length == 0 ? null : term, null, null, number, PageSize, page.Aborted).ConfigureAwait(false);
        var rows = new List<Markup>();
        foreach (var project in projects)
        {
            var role = await page.Service<AccessEvaluator>().RoleAsync(caller, project, page.Aborted).ConfigureAwait(false);
            var (_, repositories) = await page.Service<IArtifactStore>().ListRepositoryInfoAsync(project.Name, null, 1, 1, page.Aborted).ConfigureAwait(false);
            long used = await page.Service<IProjectRepositories>().GetProjectUsageAsync(project.Name, page.Aborted).ConfigureAwait(false);
            rows.Add(Html.Of($"""
                <tr><th scope="row"><a href="/portal/projects/{Html.Segment(project.Name)}">{project.Name}</a></th>
                <td>{(project.Public ? "public" : "private")}</td><td>{RoleName(caller, role)}</td><td class="num">{repositories}</td><td>{Usage(used, project.StorageLimit)}</td></tr>
                """));
        }

        Markup table = rows.Count == 0
            ? Html.Of($"<p>No projects{(term.Length > 0 ? " match" : " to show")}.</p>")
            : Html.Of($"""
                <table><caption class="visually-hidden">Projects</caption>
                <thead><tr><th scope="col">Name</th><th scope="col">Access</th><th scope="col">Your role</th><th scope="col">Repositories</th><th scope="col">Storage</th></tr></thead>
                <tbody>{Html.Join(rows)}</tbody></table>
                """);
        Markup create = CanCreate(page) ? CreateForm(page) : Markup.Empty;
        Markup hint = caller.IsAnonymous ? Html.Of($"<p class=\"hint\">Showing public projects. <a href=\"/portal/login\">Sign in</a> to see your own.</p>") : Markup.Empty;
        return page.Render("Projects", Html.Of($"""
            {hint}
            <form method="get" action="/" role="search" class="row">
            <label for="q">Filter projects by name</label>
            <input id="q" name="q" type="search" value="{term}">
            <button type="submit">Filter</button>
            </form>
            {table}
            {Pager(page.Context, "/", number, total)}
            {create}
            """));
    }

    private static bool CanCreate(PortalPage page) => page.Service<ProjectRules>().MayCreate(page.Caller);

    private static Markup CreateForm(PortalPage page) => Html.Of($"""
        <h2>New project</h2>
        <form method="post" action="/portal/projects" class="stack">
        {page.Antiforgery()}
        <label for="project_name">Name</label>
        <input id="project_name" name="project_name" required pattern="[a-z0-9]+([._-][a-z0-9]+)*" aria-describedby="project_name_hint">
        <p id="project_name_hint" class="hint">Lower-case letters and digits joined by '.', '_' or '-'.</p>
        <label><input type="checkbox" name="public" value="true"> Public (anyone may pull)</label>
        {(page.Caller.IsSysAdmin ? QuotaField("") : Markup.Empty)}
        <button type="submit">Create project</button>
        </form>
        """);

    private static Markup QuotaField(string value) => Html.Of($"""
        <label for="quota_mib">Storage quota in MiB</label>
        <input id="quota_mib" name="quota_mib" inputmode="numeric" pattern="[0-9]*" value="{value}" aria-describedby="quota_hint">
        <p id="quota_hint" class="hint">Empty for unlimited.</p>
        """);

    /// <summary>The same rules as POST /api/v2.0/projects (<see cref="ProjectRules"/>).</summary>
    public static async Task<IResult> CreateAsync(PortalPage page, IFormCollection form)
    {
        var caller = page.RequireUser();
        var rules = page.Service<ProjectRules>();
        rules.RequireMayCreate(caller);
        var project = await rules.CreateAsync(caller, form.Field("project_name"), form.Field("public") == "true", QuotaBytes(form), proxyCache: false, page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "create", "project", project.Name, project.Name);
        return PortalPage.Back($"/portal/projects/{Html.Segment(project.Name)}", $"Project {project.Name} created.");
    }

    /// <summary>The quota field in MiB as bytes; -1 (unlimited) when empty.</summary>
    private static long QuotaBytes(IFormCollection form)
    {
        string raw = form.Field("quota_mib");
        if (raw.Length == 0)
        {
            return -1;
        }

        return long.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out long mib) && mib is > 0 and < long.MaxValue / (1024 * 1024)
            ? mib * 1024 * 1024
            : throw ApiException.BadRequest("the storage quota must be a positive whole number of MiB, or empty for unlimited");
    }

    public static async Task<Project> ProjectAsync(PortalPage page)
    {
        string name = page.Context.Request.RouteValues["project"] as string ?? "";
        var project = await page.Service<IProjectStore>().FindByNameAsync(name, page.Aborted).ConfigureAwait(false);
        if (project is null || !await ManagementApi.CanSeeAsync(page.Context, page.Caller, project).ConfigureAwait(false))
        {
            // An invisible project is missing, as in the API; anonymous visitors are asked to sign in first.
            throw page.Caller.IsAnonymous ? ApiException.Unauthorized() : ApiException.NotFound($"project {name} not found");
        }

        return project!;
    }

    public static async Task<IResult> ShowAsync(PortalPage page)
    {
        var project = await ProjectAsync(page).ConfigureAwait(false);
        var caller = page.Caller;
        var evaluator = page.Service<AccessEvaluator>();
        var role = await evaluator.RoleAsync(caller, project, page.Aborted).ConfigureAwait(false);
        bool isAdmin = caller.IsSysAdmin || role == ProjectRole.ProjectAdmin;
        int number = PageNumber(page.Context);
        // The pulls column shows what was counted up to now, not up to the last background flush.
        await page.Service<Accounting.PullAccounting>().FlushAsync(page.Aborted).ConfigureAwait(false);
        var (repositories, total) = await page.Service<IArtifactStore>().ListRepositoryInfoAsync(project.Name, null, number, PageSize, page.Aborted).ConfigureAwait(false);
        long used = await page.Service<IProjectRepositories>().GetProjectUsageAsync(project.Name, page.Aborted).ConfigureAwait(false);
        string self = $"/portal/projects/{Html.Segment(project.Name)}";
        var rows = repositories.Select(r =>
        {
            string shortName = r.Name[(project.Name.Length + 1)..];
            return Html.Of($"""
                <tr><th scope="row"><a href="{self}/repositories/{shortName}">{shortName}</a></th><td class="num">{r.ArtifactCount}</td><td>{When(r.UpdatedAt)}</td><td class="num">{r.PullCount}</td></tr>
                """);
        });
        Markup repositoryTable = total == 0
            ? Html.Of($"<p>No repositories yet. Push one with <code>podman push {page.Context.Request.Host.Value}/{project.Name}/NAME:TAG</code>.</p>")
            : Html.Of($"""
                <table><caption class="visually-hidden">Repositories of {project.Name}</caption>
                <thead><tr><th scope="col">Repository</th><th scope="col">Artifacts</th><th scope="col">Last push</th><th scope="col">Pulls</th></tr></thead>
                <tbody>{Html.Join(rows)}</tbody></table>
                {Pager(page.Context, self, number, total, fragment: "#repositories", label: "Pages of repositories")}
                """);
        Markup members = caller.IsAnonymous || (role is null && !caller.IsSysAdmin)
            ? Markup.Empty
            : await MemberPages.SectionAsync(page, project, isAdmin).ConfigureAwait(false);
        Markup settings = isAdmin ? await SettingsAsync(page, project, self).ConfigureAwait(false) : Markup.Empty;
        Markup robots = isAdmin ? await RobotPages.SectionAsync(page, project).ConfigureAwait(false) : Markup.Empty;
        return page.Render(project.Name, Html.Of($"""
            <dl class="facts">
            <dt>Access</dt><dd>{(project.Public ? "public" : "private")}</dd>
            <dt>Your role</dt><dd>{RoleName(caller, role)}</dd>
            <dt>Storage</dt><dd>{Usage(used, project.StorageLimit)}</dd>
            </dl>
            {(caller.IsAnonymous ? Markup.Empty : Html.Of($"<p><a href=\"{self}/logs\">Audit log of {project.Name}</a></p>"))}
            {(caller.IsSysAdmin || role is not (null or ProjectRole.LimitedGuest) ? Html.Of($"<p><a href=\"{self}/policies\">Policies of {project.Name}</a>: tag retention, immutable tags, webhooks</p>") : Markup.Empty)}
            <section aria-labelledby="repositories"><h2 id="repositories">Repositories</h2>{repositoryTable}</section>
            {members}
            {robots}
            {settings}
            """));
    }

    /// <summary>As GET /api/v2.0/projects/{name}/logs: members of any role but limited guest, and system admins.</summary>
    public static async Task<IResult> LogsAsync(PortalPage page)
    {
        var caller = page.RequireUser();
        var project = await ProjectAsync(page).ConfigureAwait(false);
        var role = await page.Service<AccessEvaluator>().RoleAsync(caller, project, page.Aborted).ConfigureAwait(false);
        if (!caller.IsSysAdmin && role is null or ProjectRole.LimitedGuest)
        {
            throw ApiException.Forbidden($"only members of {project.Name} may read its logs");
        }

        string self = $"/portal/projects/{Html.Segment(project.Name)}";
        var table = await AdminPages.AuditTableAsync(page, project.Name, self + "/logs").ConfigureAwait(false);
        return page.Render($"Audit log of {project.Name}", Html.Of($"<p><a href=\"{self}\">Back to project {project.Name}</a></p>{table}"));
    }

    private static async Task<Markup> SettingsAsync(PortalPage page, Project project, string self)
    {
        Markup quota = page.Caller.IsSysAdmin
            ? QuotaField(project.StorageLimit is long limit ? (limit / (1024 * 1024)).ToString(CultureInfo.InvariantCulture) : "")
            : Markup.Empty;
        Markup isPublic = project.Public ? new Markup(" checked") : Markup.Empty;
        var sharedStore = page.Service<SharedStore.SharedStoreProjects>();
        // Only where the server has a shared image store: elsewhere the setting could only be refused.
        Markup publishing = sharedStore.Available && await sharedStore.IsPublishingAsync(project, page.Aborted).ConfigureAwait(false) ? new Markup(" checked") : Markup.Empty;
        Markup publish = sharedStore.Available
            ? Html.Of($"""
                <input type="hidden" name="shared_store_field" value="1">
                <label><input type="checkbox" name="{SharedStore.SharedStoreMetadata.Key}" value="true" aria-describedby="shared_store_hint"{publishing}> Publish to the shared image store</label>
                <p id="shared_store_hint" class="hint">Every tag of this project is published into the cluster's shared image store, so nodes run it without pulling.</p>
                """)
            : Markup.Empty;
        return Html.Of($"""
            <section aria-labelledby="settings"><h2 id="settings">Settings</h2>
            <form method="post" action="{self}/settings" class="stack">
            {page.Antiforgery()}
            <label><input type="checkbox" name="public" value="true"{isPublic}> Public (anyone may pull)</label>
            {quota}
            {publish}
            <button type="submit">Save settings</button>
            </form>
            <h3>Delete project</h3>
            <p>Only an empty project can be deleted.</p>
            {page.ButtonForm($"{self}/delete", $"Delete project {project.Name}", css: "danger")}
            </section>
            """);
    }

    /// <summary>The same rules as PUT /api/v2.0/projects/{name}: project admins set visibility, system admins the quota.</summary>
    public static async Task<IResult> UpdateAsync(PortalPage page, IFormCollection form)
    {
        var caller = page.RequireUser();
        var project = await ProjectAsync(page).ConfigureAwait(false);
        var rules = page.Service<ProjectRules>();
        await rules.RequireProjectAdminAsync(caller, project, page.Aborted).ConfigureAwait(false);
        long? quota = caller.IsSysAdmin && form.ContainsKey("quota_mib") ? QuotaBytes(form) : null;
        // The checkbox sends nothing when cleared: the hidden field says it was on the form. Checked first, so a refusal changes nothing.
        var sharedStore = page.Service<SharedStore.SharedStoreProjects>();
        bool? publish = form.ContainsKey("shared_store_field") || form.ContainsKey(SharedStore.SharedStoreMetadata.Key)
            ? form.Field(SharedStore.SharedStoreMetadata.Key) switch
            {
                "true" => true,
                "" => false,
                _ => throw ApiException.BadRequest($"{SharedStore.SharedStoreMetadata.Key} must be true or absent"),
            }
            : null;
        if (publish is bool requested)
        {
            sharedStore.RequireAvailable(requested);
        }

        if (await rules.UpdateAsync(caller, project, form.Field("public") == "true", quota, page.Aborted).ConfigureAwait(false))
        {
            ManagementApi.Audit(page.Context, caller, "update", "quota", $"{project.Name} storage {quota}", project.Name);
        }

        if (publish is bool value && await sharedStore.SetAsync(project, value, page.Aborted).ConfigureAwait(false))
        {
            ManagementApi.Audit(page.Context, caller, "update", "project", $"{project.Name} {SharedStore.SharedStoreMetadata.Key} {(value ? "true" : "false")}", project.Name);
        }

        ManagementApi.Audit(page.Context, caller, "update", "project", project.Name, project.Name);
        return PortalPage.Back($"/portal/projects/{Html.Segment(project.Name)}", "Settings saved.");
    }

    /// <summary>As DELETE /api/v2.0/projects/{name} without force: a project with repositories stays.</summary>
    public static async Task<IResult> DeleteAsync(PortalPage page, IFormCollection form)
    {
        var caller = page.RequireUser();
        var project = await ProjectAsync(page).ConfigureAwait(false);
        await page.Service<ProjectRules>().DeleteAsync(caller, project, force: false, page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "delete", "project", project.Name, project.Name);
        return PortalPage.Back("/", $"Project {project.Name} deleted.");
    }

    public static string RoleName(Caller caller, ProjectRole? role) => role switch
    {
        ProjectRole.ProjectAdmin => "project admin",
        ProjectRole.Maintainer => "maintainer",
        ProjectRole.Developer => "developer",
        ProjectRole.Guest => "guest",
        ProjectRole.LimitedGuest => "limited guest",
        _ => caller.IsSysAdmin ? "system admin" : "—",
    };

    /// <summary>Storage used, and against the quota a meter a screen reader announces as a fraction.</summary>
    public static Markup Usage(long used, long? limit)
    {
        if (limit is not long max)
        {
            return Html.Of($"{Size(used)} (no quota)");
        }

        return Html.Of($"<meter min=\"0\" max=\"{max}\" value=\"{Math.Min(used, max)}\" aria-label=\"storage used\">{Size(used)}</meter> {Size(used)} of {Size(max)}");
    }

    public static string Size(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0 ? $"{bytes} B" : value.ToString("0.#", CultureInfo.InvariantCulture) + " " + units[unit];
    }

    public static Markup When(DateTimeOffset at) =>
        Html.Of($"<time datetime=\"{at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)}\">{at.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC</time>");

    public static int PageNumber(HttpContext context, string parameter = "page") =>
        int.TryParse(context.Request.Query[parameter], NumberStyles.None, CultureInfo.InvariantCulture, out int page) && page >= 1 ? page : 1;

    /// <summary>One page of a list the service returned whole (as the API's <c>Api.Page</c> cuts it); a page past the end is empty.</summary>
    public static IReadOnlyList<T> Slice<T>(IReadOnlyList<T> all, int page)
    {
        long skip = (long)(page - 1) * PageSize;
        return skip >= all.Count ? [] : all.Skip((int)skip).Take(PageSize).ToList();
    }

    /// <summary>
    /// Previous / next links; the server pages every list. <paramref name="parameter"/> names the page number
    /// in the query, so several lists on one page (repositories, members, robots) page independently; the
    /// other lists' positions and the filter are kept, a status message is not.
    /// </summary>
    public static Markup Pager(HttpContext context, string path, int page, long total, string parameter = "page", string fragment = "", string label = "Pages")
    {
        long pages = Math.Max(1, (total + PageSize - 1) / PageSize);
        if (pages == 1 && page == 1)
        {
            return Markup.Empty;
        }

        string rest = string.Concat(context.Request.Query
            .Where(q => q.Key != parameter && q.Key != "msg")
            .SelectMany(q => q.Value.Select(v => "&" + Uri.EscapeDataString(q.Key) + "=" + Uri.EscapeDataString(v ?? ""))));
        string Link(long target) => $"{path}?{parameter}={target}{rest}{fragment}";
        Markup previous = page > 1 ? Html.Of($"<a href=\"{Link(Math.Min(page - 1, pages))}\" rel=\"prev\">Previous</a>") : Markup.Empty;
        Markup next = page < pages ? Html.Of($"<a href=\"{Link(page + 1)}\" rel=\"next\">Next</a>") : Markup.Empty;
        return Html.Of($"<nav class=\"pager\" aria-label=\"{label}\">{previous} <span>Page {page} of {pages}</span> {next}</nav>");
    }
}
