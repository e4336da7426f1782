using System.Globalization;
using Microsoft.AspNetCore.Http;
using Wharf.Oci;
using Wharf.Registry.Identity;
using Wharf.Registry.Management;
using Wharf.Registry.Projects;
using ManagementApi = Wharf.Registry.Management.Api;

namespace Wharf.Registry.Portal;

/// <summary>A project's robot accounts for project admins, with the rules of /api/v2.0/projects/{name}/robots.</summary>
internal static class RobotPages
{
    public static async Task<Markup> SectionAsync(PortalPage page, Project project)
    {
        var robots = await page.Service<IRobotStore>().ListAsync(project.Id, page.Aborted).ConfigureAwait(false);
        string self = $"/portal/projects/{Html.Segment(project.Name)}/robots";
        var now = page.Service<TimeProvider>().GetUtcNow();
        var rows = robots.Select(r =>
        {
            string state = r.Disabled ? "disabled" : r.IsExpired(now) ? "expired" : "active";
            Markup expiry = r.ExpiresAt < 0 ? Html.Of($"never") : ProjectPages.When(DateTimeOffset.FromUnixTimeSeconds(r.ExpiresAt));
            Markup toggle = page.ButtonForm($"{self}/{r.Id}/disabled", r.Disabled ? $"Enable {r.Name}" : $"Disable {r.Name}", Html.Of($"<input type=\"hidden\" name=\"disabled\" value=\"{(r.Disabled ? "false" : "true")}\">"));
            Markup delete = page.ButtonForm($"{self}/{r.Id}/delete", $"Delete {r.Name}", css: "danger");
            return Html.Of($"<tr><th scope=\"row\"><code>{r.Name}</code></th><td>{string.Join(", ", r.Access.Names())}</td><td>{expiry}</td><td>{state}</td><td>{toggle} {delete}</td></tr>");
        });
        Markup table = robots.Count == 0 ? Html.Of($"<p>No robot accounts.</p>") : Html.Of($"""
            <table><caption class="visually-hidden">Robot accounts of {project.Name}</caption>
            <thead><tr><th scope="col">Name</th><th scope="col">Permissions</th><th scope="col">Expires</th><th scope="col">State</th><th scope="col">Actions</th></tr></thead>
            <tbody>{Html.Join(rows)}</tbody></table>
            """);
        return Html.Of($"""
            <section aria-labelledby="robots"><h2 id="robots">Robot accounts</h2>
            {table}
            <h3>New robot account</h3>
            <form method="post" action="{self}" class="stack">
            {page.Antiforgery()}
            <label for="robot_name">Name</label>
            <input id="robot_name" name="name" required autocomplete="off" pattern="[a-z0-9]+([._-][a-z0-9]+)*">
            <fieldset><legend>Permissions</legend>
            <label><input type="checkbox" name="action" value="pull" checked> pull</label>
            <label><input type="checkbox" name="action" value="push"> push</label>
            <label><input type="checkbox" name="action" value="delete"> delete</label>
            </fieldset>
            <label for="robot_days">Expires after (days; -1 never)</label>
            <input id="robot_days" name="duration" inputmode="numeric" value="30">
            <button type="submit">Create robot account</button>
            </form>
            </section>
            """);
    }

    /// <summary>As POST /api/v2.0/projects/{name}/robots; the secret is shown on the answer page and never again.</summary>
    public static async Task<IResult> CreateAsync(PortalPage page, IFormCollection form)
    {
        var caller = page.RequireUser();
        var project = await ProjectPages.ProjectAsync(page).ConfigureAwait(false);
        await ManagementApi.RequireProjectAdminAsync(page.Context, caller, project).ConfigureAwait(false);
        string name = form.Field("name");
        if (name.Length is 0 or > 128 || !RepositoryName.TryParse(name, out _, out _) || name.Contains('/', StringComparison.Ordinal))
        {
            throw ApiException.BadRequest("robot name must be lower-case letters and digits joined by '.', '_' or '-', at most 128 characters");
        }

        var access = RepositoryActions.None;
        foreach (string? action in form["action"])
        {
            var parsed = ProjectRoles.ParseAction(action ?? "");
            access |= parsed == RepositoryActions.None || action == "*" ? throw ApiException.BadRequest($"unknown permission {action}") : parsed;
        }

        if (access == RepositoryActions.None)
        {
            throw ApiException.BadRequest("a robot account needs at least one permission");
        }

        var (days, expiresAt) = Expiry(page, form.Field("duration"));
        string secret = PasswordHasher.Generate();
        string fullName = $"{page.Service<IdentityOptions>().RobotPrefix}{project.Name}+{name}";
        var robot = await page.Service<IRobotStore>().CreateAsync(fullName, project.Id, null, access, false, days, expiresAt, page.Service<PasswordHasher>().HashSecret(secret), page.Aborted).ConfigureAwait(false)
            ?? throw ApiException.Conflict($"robot {fullName} already exists");
        ManagementApi.Audit(page.Context, caller, "create", "robot", robot.Name, project.Name);
        string back = $"/portal/projects/{Html.Segment(project.Name)}";
        return page.Render($"Robot account {robot.Name}", Html.Of($"""
            <p role="alert">Copy the secret now: it is shown only this once.</p>
            <dl class="facts"><dt>Name</dt><dd><code id="robot-name">{robot.Name}</code></dd><dt>Secret</dt><dd><code id="robot-secret">{secret}</code>
            <button type="button" class="copy" data-copy="{secret}" aria-label="Copy the secret">Copy</button></dd></dl>
            <p>Log in with <code>podman login -u '{robot.Name}' {page.Context.Request.Host.Value}</code> and paste the secret as the password.</p>
            <p><a href="{back}#robots">Back to project {project.Name}</a></p>
            """), StatusCodes.Status201Created);
    }

    /// <summary>Days from now; -1 never expires; empty is the API's default of 30 days.</summary>
    private static (int Days, long ExpiresAt) Expiry(PortalPage page, string raw)
    {
        long days = raw.Length == 0 ? 30 : long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value) ? value : 0;
        if (days == -1)
        {
            return (-1, -1);
        }

        if (days is < 1 or > 36_500)
        {
            throw ApiException.BadRequest("the expiry must be -1 (never) or between 1 and 36500 days");
        }

        return ((int)days, page.Service<TimeProvider>().GetUtcNow().AddDays(days).ToUnixTimeSeconds());
    }

    private static async Task<(Caller Caller, Project Project, Robot Robot)> RobotOfRouteAsync(PortalPage page)
    {
        var caller = page.RequireUser();
        var project = await ProjectPages.ProjectAsync(page).ConfigureAwait(false);
        await ManagementApi.RequireProjectAdminAsync(page.Context, caller, project).ConfigureAwait(false);
        long id = long.TryParse(page.Context.Request.RouteValues["robot"] as string, NumberStyles.None, CultureInfo.InvariantCulture, out long value) ? value : 0;
        var robot = await page.Service<IRobotStore>().FindByIdAsync(id, page.Aborted).ConfigureAwait(false);
        return robot is null || robot.ProjectId != project.Id
            ? throw ApiException.NotFound($"robot {id} not found in {project.Name}")
            : (caller, project, robot);
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
        await page.Service<IRobotStore>().UpdateAsync(robot.Id, robot.Description, robot.Access, disabled, robot.DurationDays, robot.ExpiresAt, page.Aborted).ConfigureAwait(false);
        await ManagementApi.RevokedAsync(page.Context, "robot", robot.Id).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "update", "robot", robot.Name, project.Name);
        return PortalPage.Back($"/portal/projects/{Html.Segment(project.Name)}#robots", $"{robot.Name} {(disabled ? "disabled" : "enabled")}.");
    }

    public static async Task<IResult> DeleteAsync(PortalPage page, IFormCollection form)
    {
        var (caller, project, robot) = await RobotOfRouteAsync(page).ConfigureAwait(false);
        await page.Service<IRobotStore>().DeleteAsync(robot.Id, page.Aborted).ConfigureAwait(false);
        await ManagementApi.RevokedAsync(page.Context, "robot", robot.Id).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "delete", "robot", robot.Name, project.Name);
        return PortalPage.Back($"/portal/projects/{Html.Segment(project.Name)}#robots", $"{robot.Name} deleted.");
    }
}
