using System.Globalization;
using Microsoft.AspNetCore.Http;
using Wharf.Registry.Audit;
using Wharf.Registry.Gc;
using Wharf.Registry.Identity;
using Wharf.Registry.Management;
using Wharf.Registry.Metadata;
using ManagementApi = Wharf.Registry.Management.Api;
using Wharf.Registry.Data;

namespace Wharf.Registry.Portal;

/// <summary>System admins' pages: users, garbage collection, the system-wide audit log. Same rules as /api/v2.0/users and /system/gc.</summary>
internal static class AdminPages
{
    private const int PageSize = 20;

    private static Caller RequireSysAdmin(PortalPage page) => UserAccounts.RequireSysAdmin(page.RequireUser());

    public static async Task<IResult> UsersAsync(PortalPage page)
    {
        RequireSysAdmin(page);
        string term = page.Context.Request.Query["q"].ToString().Trim();
        int number = ProjectPages.PageNumber(page.Context);
        var (users, total) = await page.Service<IUserStore>().ListAsync(term.Length == 0 ? null : term, number, PageSize, page.Aborted).ConfigureAwait(false);
        var rows = users.Select(u =>
        {
            string self = $"/portal/admin/users/{u.Id}";
            Markup disable = u.Id == page.Caller.User!.Id
                ? Markup.Empty
                : page.ButtonForm($"{self}/disabled", u.Disabled ? $"Enable {u.Username}" : $"Disable {u.Username}", Html.Of($"<input type=\"hidden\" name=\"disabled\" value=\"{(u.Disabled ? "false" : "true")}\">"));
            Markup admin = u.Id == page.Caller.User!.Id
                ? Markup.Empty
                : page.ButtonForm($"{self}/admin", u.SysAdmin ? $"Revoke admin of {u.Username}" : $"Make {u.Username} admin", Html.Of($"<input type=\"hidden\" name=\"sysadmin\" value=\"{(u.SysAdmin ? "false" : "true")}\">"));
            Markup delete = u.Id == page.Caller.User!.Id
                ? Markup.Empty
                : page.ButtonForm($"{self}/delete", $"Delete {u.Username}", css: "danger");
            Markup reset = Html.Of($"""
                <form method="post" action="{self}/password" class="inline">{page.Antiforgery()}
                <label for="reset-{u.Id}" class="visually-hidden">New password for {u.Username}</label>
                <input id="reset-{u.Id}" name="new_password" type="password" autocomplete="new-password" placeholder="new password" required>
                <button type="submit">Reset password</button></form>
                """);
            return Html.Of($"<tr><th scope=\"row\">{u.Username}</th><td>{u.Email}</td><td>{(u.SysAdmin ? "admin" : "user")}</td><td>{(u.Disabled ? "disabled" : "active")}</td><td>{disable} {admin} {delete} {reset}</td></tr>");
        });
        return page.Render("Users", Html.Of($"""
            <form method="get" action="/portal/admin/users" role="search" class="row">
            <label for="q">Filter users by name</label><input id="q" name="q" type="search" value="{term}"><button type="submit">Filter</button>
            </form>
            <table><caption class="visually-hidden">Users</caption>
            <thead><tr><th scope="col">Username</th><th scope="col">Email</th><th scope="col">Kind</th><th scope="col">State</th><th scope="col">Actions</th></tr></thead>
            <tbody>{Html.Join(rows)}</tbody></table>
            {ProjectPages.Pager(page.Context, "/portal/admin/users", number, total)}
            <h2>New user</h2>
            <form method="post" action="/portal/admin/users" class="stack">
            {page.Antiforgery()}
            <label for="new_username">Username</label><input id="new_username" name="username" required autocomplete="off">
            <label for="new_email">Email</label><input id="new_email" name="email" type="email" autocomplete="off">
            <label for="new_realname">Real name</label><input id="new_realname" name="realname" autocomplete="off">
            <label for="new_user_password">Password</label><input id="new_user_password" name="password" type="password" autocomplete="new-password" required>
            <button type="submit">Create user</button>
            </form>
            """));
    }

    /// <summary>As POST /api/v2.0/users (<see cref="UserAccounts"/>).</summary>
    public static async Task<IResult> CreateUserAsync(PortalPage page, IFormCollection form)
    {
        var caller = RequireSysAdmin(page);
        string? email = form.Field("email") is { Length: > 0 } e ? e : null;
        string? realName = form.Field("realname") is { Length: > 0 } r ? r : null;
        var user = await page.Service<UserAccounts>().CreateAsync(caller, form["username"].ToString(), form["password"].ToString(), email, realName, null, page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "create", "user", user.Username, null);
        return PortalPage.Back("/portal/admin/users", $"User {user.Username} created.");
    }

    /// <summary>As DELETE /api/v2.0/users/{id}: never oneself; the account's memberships, tokens and sessions go with it.</summary>
    public static async Task<IResult> DeleteUserAsync(PortalPage page, IFormCollection form)
    {
        var caller = RequireSysAdmin(page);
        var user = await UserOfRouteAsync(page).ConfigureAwait(false);
        await page.Service<UserAccounts>().DeleteAsync(caller, user, page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "delete", "user", user.Username, null);
        return PortalPage.Back("/portal/admin/users", $"User {user.Username} deleted.");
    }

    private static async Task<User> UserOfRouteAsync(PortalPage page)
    {
        long id = long.TryParse(page.Context.Request.RouteValues["user"] as string, NumberStyles.None, CultureInfo.InvariantCulture, out long value) && value > 0
            ? value
            : throw ApiException.BadRequest("user must be a positive integer");
        return await page.Service<IUserStore>().FindByIdAsync(id, page.Aborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"user {id} not found");
    }

    private static bool Flag(IFormCollection form, string name) => form.Field(name) switch
    {
        "true" => true,
        "false" => false,
        _ => throw ApiException.BadRequest($"{name} must be true or false"),
    };

    /// <summary>As PUT /api/v2.0/users/{id}/disabled: never oneself; the account's tokens and sessions end.</summary>
    public static async Task<IResult> SetDisabledAsync(PortalPage page, IFormCollection form)
    {
        var caller = RequireSysAdmin(page);
        var user = await UserOfRouteAsync(page).ConfigureAwait(false);
        bool disabled = Flag(form, "disabled");
        await page.Service<UserAccounts>().SetDisabledAsync(caller, user, disabled, page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "update", "user", $"{user.Username} {(disabled ? "disabled" : "enabled")}", null);
        return PortalPage.Back("/portal/admin/users", $"{user.Username} {(disabled ? "disabled" : "enabled")}.");
    }

    /// <summary>As PUT /api/v2.0/users/{id}/sysadmin: nobody removes their own admin role.</summary>
    public static async Task<IResult> SetSysAdminAsync(PortalPage page, IFormCollection form)
    {
        var caller = RequireSysAdmin(page);
        var user = await UserOfRouteAsync(page).ConfigureAwait(false);
        bool sysAdmin = Flag(form, "sysadmin");
        await page.Service<UserAccounts>().SetSysAdminAsync(caller, user, sysAdmin, page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "update", "user", $"{user.Username} sysadmin {(sysAdmin ? "granted" : "revoked")}", null);
        return PortalPage.Back("/portal/admin/users", $"{user.Username} is {(sysAdmin ? "now" : "no longer")} a system admin.");
    }

    /// <summary>As an admin's PUT /api/v2.0/users/{id}/password: no old password needed; the account's sessions end.</summary>
    public static async Task<IResult> ResetPasswordAsync(PortalPage page, IFormCollection form)
    {
        var caller = RequireSysAdmin(page);
        var user = await UserOfRouteAsync(page).ConfigureAwait(false);
        await page.Service<UserAccounts>().ChangePasswordAsync(caller, user, null, form["new_password"].ToString(), page.Aborted).ConfigureAwait(false);
        ManagementApi.Audit(page.Context, caller, "update", "user", $"{user.Username} password", null);
        return PortalPage.Back("/portal/admin/users", $"Password of {user.Username} reset.");
    }

    public static async Task<IResult> GcAsync(PortalPage page)
    {
        RequireSysAdmin(page);
        int number = ProjectPages.PageNumber(page.Context);
        var (runs, total) = await page.Service<IGcMetadataStore>().ListGcRunsAsync(number, PageSize, page.Aborted).ConfigureAwait(false);
        var rows = runs.Select(r => Html.Of($"""
            <tr><th scope="row">{r.Id}</th><td>{ProjectPages.When(r.CreatedAt)}</td><td>{r.Trigger}{(r.DryRun ? " (dry run)" : "")}</td><td>{r.Status}</td><td class="num">{r.BlobsRemoved}</td><td class="num">{ProjectPages.Size(r.BytesFreed)}</td>
            <td><details><summary>Log of run {r.Id}</summary><pre>{r.Log}</pre></details></td></tr>
            """));
        Markup history = total == 0 ? Html.Of($"<p>No runs yet.</p>") : Html.Of($"""
            <table><caption class="visually-hidden">Garbage collection runs</caption>
            <thead><tr><th scope="col">Run</th><th scope="col">Started</th><th scope="col">Trigger</th><th scope="col">Status</th><th scope="col">Blobs removed</th><th scope="col">Freed</th><th scope="col">Log</th></tr></thead>
            <tbody>{Html.Join(rows)}</tbody></table>
            {ProjectPages.Pager(page.Context, "/portal/admin/gc", number, total)}
            """);
        return page.Render("Garbage collection", Html.Of($"""
            <form method="post" action="/portal/admin/gc" class="row">
            {page.Antiforgery()}
            <label><input type="checkbox" name="dry_run" value="true"> Dry run (report only)</label>
            <button type="submit">Run garbage collection now</button>
            </form>
            <h2>History</h2>
            {history}
            """));
    }

    /// <summary>As POST /api/v2.0/system/gc/schedule with a Manual schedule.</summary>
    public static async Task<IResult> RunGcAsync(PortalPage page, IFormCollection form)
    {
        var caller = RequireSysAdmin(page);
        bool dryRun = form.Field("dry_run") == "true";
        long id = await page.Service<GcJobs>().StartAsync(dryRun, GcJobs.Manual, page.Aborted).ConfigureAwait(false)
            ?? throw ApiException.Conflict("a garbage collection is already running");
        ManagementApi.Audit(page.Context, caller, "create", "gc", $"gc {id}{(dryRun ? " (dry run)" : string.Empty)}", null);
        return PortalPage.Back("/portal/admin/gc", $"Garbage collection {id} started.");
    }

    public static async Task<IResult> AuditAsync(PortalPage page)
    {
        RequireSysAdmin(page);
        return page.Render("Audit log", await AuditTableAsync(page, null, "/portal/admin/audit").ConfigureAwait(false));
    }

    /// <summary>A page of the audit log (newest first), of one project or of everything.</summary>
    public static async Task<Markup> AuditTableAsync(PortalPage page, string? project, string path)
    {
        int number = ProjectPages.PageNumber(page.Context);
        await page.Service<IAuditLog>().FlushAsync(page.Aborted).ConfigureAwait(false);
        var (entries, total) = await page.Service<IAuditLogStore>().QueryAsync(new AuditQuery([], project, null, number, PageSize), page.Aborted).ConfigureAwait(false);
        var rows = entries.Select(e => Html.Of($"<tr><td>{ProjectPages.When(e.OpTime)}</td><td>{e.Username}</td><td>{e.Operation}</td><td>{e.ResourceType}</td><td>{e.Resource}</td><td>{(e.Success ? "ok" : "failed")}</td></tr>"));
        return total == 0 ? Html.Of($"<p>Nothing recorded yet.</p>") : Html.Of($"""
            <table><caption class="visually-hidden">Audit log</caption>
            <thead><tr><th scope="col">Time</th><th scope="col">User</th><th scope="col">Operation</th><th scope="col">Resource type</th><th scope="col">Resource</th><th scope="col">Result</th></tr></thead>
            <tbody>{Html.Join(rows)}</tbody></table>
            {ProjectPages.Pager(page.Context, path, number, total)}
            """);
    }
}
