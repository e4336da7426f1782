using System.Globalization;
using Microsoft.AspNetCore.Http;
using Wharf.Registry.Management;
using ManagementApi = Wharf.Registry.Management.Api;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Portal;

/// <summary>A project's members: every rule is <see cref="ProjectMembership"/>'s, the one the members API uses.</summary>
internal static class MemberPages
{
    private static readonly ProjectRole[] Roles = [ProjectRole.ProjectAdmin, ProjectRole.Maintainer, ProjectRole.Developer, ProjectRole.Guest, ProjectRole.LimitedGuest];

    public static async Task<Markup> SectionAsync(PortalPage page, Project project, bool canManage)
    {
        IReadOnlyList<Member> members;
        try
        {
            members = await page.Service<ProjectMembership>().ListAsync(page.Caller, project, null, page.Aborted).ConfigureAwait(false);
        }
        catch (ApiException e) when (e.Status == StatusCodes.Status403Forbidden)
        {
            return Markup.Empty; // limited guests see no member list, as in Harbor
        }

        string self = $"/portal/projects/{Html.Segment(project.Name)}/members";
        // Users, then directory groups (Harbor's member_group, managed through the API or by the naming rule),
        // one list paged by the server as GET /projects/{name}/members pages it.
        var groups = await page.Service<Identity.Ldap.UserGroupStore>().ListMembersAsync(project.Id, null, page.Aborted).ConfigureAwait(false);
        int number = ProjectPages.PageNumber(page.Context, "members_page");
        long total = members.Count + groups.Count;
        var all = members.Select(m => (Func<Markup>)(() => Row(page, self, m, canManage))).Concat(groups.Select(g => (Func<Markup>)(() => Html.Of(
            $"<tr><th scope=\"row\">group {g.Group.GroupName} <span class=\"hint\">{g.Group.LdapGroupDn}</span></th><td>{ProjectPages.RoleName(page.Caller, g.Role)}</td><td></td></tr>")))).ToList();
        var rows = ProjectPages.Slice(all, number).Select(row => row());
        Markup add = canManage
            ? Html.Of($"""
                <h3>Add a member</h3>
                <form method="post" action="{self}" class="row">
                {page.Antiforgery()}
                <label for="member_username">Username</label>
                <input id="member_username" name="username" required autocomplete="off">
                <label for="member_role">Role</label>
                {RoleSelect("member_role", ProjectRole.Developer)}
                <button type="submit">Add member</button>
                </form>
                """)
            : Markup.Empty;
        return Html.Of($"""
            <section aria-labelledby="members"><h2 id="members">Members</h2>
            <table><caption class="visually-hidden">Members of {project.Name}</caption>
            <thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
            <tbody>{Html.Join(rows)}</tbody></table>
            {ProjectPages.Pager(page.Context, $"/portal/projects/{Html.Segment(project.Name)}", number, total, "members_page", "#members", "Pages of members")}
            {add}
            </section>
            """);
    }

    private static Markup Row(PortalPage page, string self, Member m, bool canManage)
    {
        Markup actions = canManage
            ? Html.Of($"""
                <form method="post" action="{self}/{m.Id}/role" class="inline">{page.Antiforgery()}
                <label for="role-{m.Id}" class="visually-hidden">Role of {m.Username}</label>{RoleSelect($"role-{m.Id}", m.Role)}
                <button type="submit">Change role</button></form>
                {page.ButtonForm($"{self}/{m.Id}/remove", $"Remove {m.Username}", css: "danger")}
                """)
            : Markup.Empty;
        return Html.Of($"<tr><th scope=\"row\">{m.Username}</th><td>{ProjectPages.RoleName(page.Caller, m.Role)}</td><td>{actions}</td></tr>");
    }

    private static Markup RoleSelect(string id, ProjectRole selected) => Html.Of($"""
        <select id="{id}" name="role">{Html.Join(Roles.Select(r => Html.Of($"<option value=\"{(int)r}\"{(r == selected ? new Markup(" selected") : Markup.Empty)}>{ProjectPages.RoleName(Identity.Caller.Anonymous, r)}</option>")))}</select>
        """);

    private static ProjectRole Role(IFormCollection form) =>
        int.TryParse(form.Field("role"), NumberStyles.None, CultureInfo.InvariantCulture, out int id) && ProjectRoles.IsDefined(id)
            ? (ProjectRole)id
            : throw ApiException.BadRequest("role must be one of Harbor's project roles");

    private static long MemberId(PortalPage page) =>
        long.TryParse(page.Context.Request.RouteValues["member"] as string, NumberStyles.None, CultureInfo.InvariantCulture, out long id) && id > 0
            ? id
            : throw ApiException.BadRequest("member must be a positive integer");

    public static async Task<IResult> AddAsync(PortalPage page, IFormCollection form)
    {
        var caller = page.RequireUser();
        var project = await ProjectPages.ProjectAsync(page).ConfigureAwait(false);
        var role = Role(form);
        var member = await page.Service<ProjectMembership>().AddAsync(caller, project, null, form.Field("username"), role, page.Aborted).ConfigureAwait(false);
        ManagementApi.Changed(page.Context);
        ManagementApi.Audit(page.Context, caller, "create", "member", $"{member.Username} as {role.Name()}", project.Name);
        return PortalPage.Back($"/portal/projects/{Html.Segment(project.Name)}#members", $"{member.Username} added as {ProjectPages.RoleName(caller, role)}.");
    }

    public static async Task<IResult> SetRoleAsync(PortalPage page, IFormCollection form)
    {
        var caller = page.RequireUser();
        var project = await ProjectPages.ProjectAsync(page).ConfigureAwait(false);
        var role = Role(form);
        var member = await page.Service<ProjectMembership>().SetRoleAsync(caller, project, MemberId(page), role, page.Aborted).ConfigureAwait(false);
        ManagementApi.Changed(page.Context);
        ManagementApi.Audit(page.Context, caller, "update", "member", $"{member.Username} as {role.Name()}", project.Name);
        return PortalPage.Back($"/portal/projects/{Html.Segment(project.Name)}#members", $"{member.Username} is now {ProjectPages.RoleName(caller, role)}.");
    }

    public static async Task<IResult> RemoveAsync(PortalPage page, IFormCollection form)
    {
        var caller = page.RequireUser();
        var project = await ProjectPages.ProjectAsync(page).ConfigureAwait(false);
        var member = await page.Service<ProjectMembership>().RemoveAsync(caller, project, MemberId(page), page.Aborted).ConfigureAwait(false);
        ManagementApi.Changed(page.Context);
        ManagementApi.Audit(page.Context, caller, "delete", "member", member.Username, project.Name);
        return PortalPage.Back($"/portal/projects/{Html.Segment(project.Name)}#members", $"{member.Username} removed.");
    }
}
