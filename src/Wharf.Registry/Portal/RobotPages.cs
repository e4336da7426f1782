using System.Globalization;
using Microsoft.AspNetCore.Http;
using Wharf.Registry.Identity;
using Wharf.Registry.Management;
using Wharf.Registry.Projects;
using ManagementApi = Wharf.Registry.Management.Api;

namespace Wharf.Registry.Portal;

/// <summary>A project's robot accounts for project admins; every rule is <see cref="RobotAccounts"/>', the one /api/v2.0/robots uses.</summary>
internal static class RobotPages
{
    private static readonly (string Name, RepositoryActions Action)[] Permissions =
        [("pull", RepositoryActions.Pull), ("push", RepositoryActions.Push), ("delete", RepositoryActions.Delete)];

    public static async Task<Markup> SectionAsync(PortalPage page, Project project)
    {
        var robots = await page.Service<RobotAccounts>().ListAsync(page.Caller, project, page.Aborted).ConfigureAwait(false);
        string self = $"/portal/projects/{Html.Segment(project.Name)}/robots";
        var now = page.Service<TimeProvider>().GetUtcNow();
        int number = ProjectPages.PageNumber(page.Context, "robots_page");
        var rows = ProjectPages.Slice(robots, number).Select(r =>
        {
            string state = r.Disabled ? "disabled" : r.IsExpired(now) ? "expired" : "active";
            Markup expiry = r.ExpiresAt < 0 ? Html.Of($"never") : ProjectPages.When(DateTimeOffset.FromUnixTimeSeconds(r.ExpiresAt));
            Markup toggle = page.ButtonForm($"{self}/{r.Id}/disabled", r.Disabled ? $"Enable {r.Name}" : $"Disable {r.Name}", Html.Of($"<input type=\"hidden\" name=\"disabled\" value=\"{(r.Disabled ? "false" : "true")}\">"));
            Markup delete = page.ButtonForm($"{self}/{r.Id}/delete", $"Delete {r.Name}", css: "danger");
            Markup edit = Html.Of($"<a href=\"{self}/{r.Id}\" aria-label=\"Edit {r.Name}\">Edit</a>");
            return Html.Of($"<tr><th scope=\"row\"><code>{r.Name}</code></th><td>{string.Join(", ", r.Access.Names())}</td><td>{expiry}</td><td>{state}</td><td>{edit} {toggle} {delete}</td></tr>");
        });
        Markup table = robots.Count == 0 ? Html.Of($"<p>No robot accounts.</p>") : Html.Of($"""
            <div class="scroll"><table><caption class="visually-hidden">Robot accounts of {project.Name}</caption>
            <thead><tr><th scope="col">Name</th><th scope="col">Permissions</th><th scope="col">Expires</th><th scope="col">State</th><th scope="col">Actions</th></tr></thead>
            <tbody>{Html.Join(rows)}</tbody></table></div>
            {ProjectPages.Pager(page.Context, $"/portal/projects/{Html.Segment(project.Name)}", number, robots.Count, "robots_page", "#robots", "Pages of robot accounts")}
            """);
        return Html.Of($"""
            <section aria-labelledby="robots"><h2 id="robots">Robot accounts</h2>
            {table}
            <h3>New robot account</h3>
            <form method="post" action="{self}" class="stack">
            {page.Antiforgery()}
            <label for="robot_name">Name</label>
            <input id="robot_name" name="name" required autocomplete="off" pattern="[a-z0-9]+([._-][a-z0-9]+)*">
            {PermissionFields(RepositoryActions.Pull)}
            <label for="robot_days">Expires after (days; -1 never)</label>
            <input id="robot_days" name="duration" inputmode="numeric" value="30">
            <button type="submit">Create robot account</button>
            </form>
            </section>
            """);
    }

    private static Markup PermissionFields(RepositoryActions checkedActions) => Html.Of($"""
        <fieldset><legend>Permissions</legend>
        {Html.Join(Permissions.Select(p => Html.Of($"<label><input type=\"checkbox\" name=\"action\" value=\"{p.Name}\"{(checkedActions.HasFlag(p.Action) ? new Markup(" checked") : Markup.Empty)}> {p.Name}</label>")))}
        </fieldset>
        """);

    private static RepositoryActions Access(IFormCollection form)
    {
        var access = RepositoryActions.None;
        foreach (string? action in form["action"])
        {
            var parsed = ProjectRoles.ParseAction(action ?? "");
            access |= parsed == RepositoryActions.None || action == "*" ? throw ApiException.BadRequest($"unknown permission {action}") : parsed;
        }

        return access;
    }

    /// <summary>The expiry field: empty is the default of 30 days; otherwise -1 (never) or a number of days (0 is refused here, not taken for the default).</summary>
    private static long? Duration(string raw)
    {
        if (raw.Length == 0)
        {
            return null;
        }

        return long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long days) && days != 0
            ? days
            : throw ApiException.BadRequest("the expiry must be -1 (never) or between 1 and 36500 days");
    }

    /// <summary>As POST /api/v2.0/projects/{name}/robots; the secret is shown on the answer page and never again.</summary>
    public static async Task<IResult> CreateAsync(PortalPage page, IFormCollection form)
    {
        var caller = page.RequireUser();
        var project = await ProjectPages.ProjectAsync(page).ConfigureAwait(false);
        var rules = page.Service<RobotAccounts>();
        await rules.RequireManagerAsync(caller, project, page.Aborted).ConfigureAwait(false);
        var (robot, secret) = await rules.CreateAsync(caller, project, form.Field("name"), null, Access(form), false, Duration(form.Field("duration")), null, page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "create", "robot", robot.Name, project.Name);
        return SecretPage(page, project, robot.Name, secret, $"Robot account {robot.Name}", StatusCodes.Status201Created);
    }

    private static IResult SecretPage(PortalPage page, Project project, string name, string secret, string title, int status)
    {
        string back = $"/portal/projects/{Html.Segment(project.Name)}";
        return page.Render(title, Html.Of($"""
            <p role="alert">Copy the secret now: it is shown only this once.</p>
            <dl class="facts"><dt>Name</dt><dd><code id="robot-name">{name}</code></dd><dt>Secret</dt><dd><code id="robot-secret">{secret}</code>
            <button type="button" class="copy" data-copy="{secret}" aria-label="Copy the secret">Copy</button></dd></dl>
            <p>Log in with <code>podman login -u '{name}' {page.Context.Request.Host.Value}</code> and paste the secret as the password.</p>
            <p><a href="{back}#robots">Back to project {project.Name}</a></p>
            """), status);
    }

    private static async Task<(Caller Caller, Project Project, Robot Robot)> RobotOfRouteAsync(PortalPage page)
    {
        var caller = page.RequireUser();
        var project = await ProjectPages.ProjectAsync(page).ConfigureAwait(false);
        long id = long.TryParse(page.Context.Request.RouteValues["robot"] as string, NumberStyles.None, CultureInfo.InvariantCulture, out long value) ? value : 0;
        var (robot, owner) = await page.Service<RobotAccounts>().ManagedAsync(caller, id, p => Task.FromResult(p.Id == project.Id), page.Aborted).ConfigureAwait(false);
        return (caller, owner, robot);
    }

    /// <summary>The edit page: permissions, expiry, enabled; and a new secret.</summary>
    public static async Task<IResult> EditFormAsync(PortalPage page)
    {
        var (_, project, robot) = await RobotOfRouteAsync(page).ConfigureAwait(false);
        string self = $"/portal/projects/{Html.Segment(project.Name)}/robots/{robot.Id}";
        Markup isDisabled = robot.Disabled ? new Markup(" checked") : Markup.Empty;
        return page.Render($"Robot account {robot.Name}", Html.Of($"""
            <p><a href="/portal/projects/{Html.Segment(project.Name)}#robots">Back to project {project.Name}</a></p>
            <form method="post" action="{self}" class="stack">
            {page.Antiforgery()}
            {PermissionFields(robot.Access)}
            <label for="robot_edit_days">Expires after (days from creation; -1 never)</label>
            <input id="robot_edit_days" name="duration" inputmode="numeric" value="{robot.DurationDays}">
            <label><input type="checkbox" name="disabled" value="true"{isDisabled}> Disabled</label>
            <button type="submit">Save robot account</button>
            </form>
            <h2>Secret</h2>
            <p>A new secret replaces the old one at once; tokens issued with the old one stop working.</p>
            {page.ButtonForm($"{self}/secret", "Refresh the secret", css: "danger")}
            """));
    }

    /// <summary>As PUT /api/v2.0/robots/{id}.</summary>
    public static async Task<IResult> UpdateAsync(PortalPage page, IFormCollection form)
    {
        var (caller, project, robot) = await RobotOfRouteAsync(page).ConfigureAwait(false);
        await page.Service<RobotAccounts>().UpdateAsync(caller, project, robot, null, Access(form), form.Field("disabled") == "true", Duration(form.Field("duration")), page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "update", "robot", robot.Name, project.Name);
        return PortalPage.Back($"/portal/projects/{Html.Segment(project.Name)}#robots", $"{robot.Name} saved.");
    }

    /// <summary>As PATCH /api/v2.0/robots/{id}: a generated secret, shown once.</summary>
    public static async Task<IResult> RefreshSecretAsync(PortalPage page, IFormCollection form)
    {
        var (caller, project, robot) = await RobotOfRouteAsync(page).ConfigureAwait(false);
        string secret = await page.Service<RobotAccounts>().RefreshSecretAsync(caller, project, robot, null, page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "update", "robot", robot.Name + " (secret refreshed)", project.Name);
        return SecretPage(page, project, robot.Name, secret, $"New secret of {robot.Name}", StatusCodes.Status200OK);
    }

    public static async Task<IResult> SetDisabledAsync(PortalPage page, IFormCollection form)
    {
        var (caller, project, robot) = await RobotOfRouteAsync(page).ConfigureAwait(false);
        bool disabled = form.Field("disabled") switch
        {
            "true" => true,
            "false" => false,
            _ => throw ApiException.BadRequest("disabled must be true or false"),
        };
        await page.Service<RobotAccounts>().UpdateAsync(caller, project, robot, null, null, disabled, null, page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "update", "robot", robot.Name, project.Name);
        return PortalPage.Back($"/portal/projects/{Html.Segment(project.Name)}#robots", $"{robot.Name} {(disabled ? "disabled" : "enabled")}.");
    }

    public static async Task<IResult> DeleteAsync(PortalPage page, IFormCollection form)
    {
        var (caller, project, robot) = await RobotOfRouteAsync(page).ConfigureAwait(false);
        await page.Service<RobotAccounts>().DeleteAsync(caller, project, robot, page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "delete", "robot", robot.Name, project.Name);
        return PortalPage.Back($"/portal/projects/{Html.Segment(project.Name)}#robots", $"{robot.Name} deleted.");
    }
}
