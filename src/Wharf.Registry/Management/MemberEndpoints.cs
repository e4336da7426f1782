using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Identity;
using Wharf.Registry.Identity.Ldap;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Management;

/// <summary>
/// Project members: who holds which Harbor role in a project, people (entity_type "u") and directory
/// groups (entity_type "g", ids from <see cref="UserGroupStore.MemberIdBase"/> up).
/// </summary>
internal static class MemberEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/projects/{project_name_or_id}/members", Api.Handle(ListMembersAsync));
        api.MapPost("/projects/{project_name_or_id}/members", Api.Handle(AddMemberAsync));
        api.MapGet("/projects/{project_name_or_id}/members/{mid}", Api.Handle(GetMemberAsync));
        api.MapPut("/projects/{project_name_or_id}/members/{mid}", Api.Handle(UpdateMemberAsync));
        api.MapDelete("/projects/{project_name_or_id}/members/{mid}", Api.Handle(RemoveMemberAsync));
    }

    private static async Task<IResult> ListMembersAsync(HttpContext context)
    {
        var (caller, project) = await ProjectOfRouteAsync(context).ConfigureAwait(false);
        string? name = context.Request.Query["entityname"];
        var members = await Membership(context).ListAsync(caller, project, name, context.RequestAborted).ConfigureAwait(false);
        var groups = await Groups(context).ListMembersAsync(project.Id, name, context.RequestAborted).ConfigureAwait(false);
        var all = members.Select(MemberResponse.From).Concat(groups.Select(MemberResponse.From)).ToList();
        return Results.Json(Api.Page(context, all), Api.Json);
    }

    private static async Task<IResult> GetMemberAsync(HttpContext context)
    {
        var (caller, project) = await ProjectOfRouteAsync(context).ConfigureAwait(false);
        var membership = Membership(context);
        await membership.RequireMemberAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
        long mid = Api.Id(context, "mid");
        if (mid > UserGroupStore.MemberIdBase)
        {
            return Results.Json(MemberResponse.From(await GroupMemberAsync(context, project, mid).ConfigureAwait(false)), Api.Json);
        }

        var member = await membership.GetAsync(caller, project, mid, context.RequestAborted).ConfigureAwait(false);
        return Results.Json(MemberResponse.From(member), Api.Json);
    }

    private static async Task<IResult> AddMemberAsync(HttpContext context)
    {
        var (caller, project) = await ProjectOfRouteAsync(context).ConfigureAwait(false);
        var membership = Membership(context);
        // Permission before the body: an outsider learns nothing from how a request is malformed.
        await membership.RequireProjectAdminAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
        var request = await Api.BodyAsync<MemberRequest>(context).ConfigureAwait(false);
        var role = Role(request.RoleId);
        if (request.MemberGroup is { } memberGroup)
        {
            if (request.MemberUser is not null)
            {
                throw ApiException.BadRequest("give member_user or member_group, not both");
            }

            var group = memberGroup.Id is long groupId and > 0
                ? await Groups(context).GetAsync(groupId, context.RequestAborted).ConfigureAwait(false) ?? throw ApiException.NotFound($"user group {groupId} not found")
                : await UserGroupEndpoints.CreateOrFindAsync(context, memberGroup, existingIsConflict: false).ConfigureAwait(false);
            var added = await Groups(context).AddMemberAsync(project.Id, group.Id, role, context.RequestAborted).ConfigureAwait(false)
                ?? throw ApiException.Conflict($"group {group.GroupName} is already a member of {project.Name}");
            Api.Audit(context, caller, "create", "member", $"group {group.GroupName} as {role.Name()}", project.Name);
            return Api.Created(context, $"{Api.Prefix}/projects/{project.Id}/members/{added.Id}");
        }

        if (request.MemberUser is null)
        {
            throw ApiException.BadRequest("member_user or member_group is required");
        }

        var member = await membership.AddAsync(caller, project, request.MemberUser.UserId, request.MemberUser.Username, role, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "create", "member", $"{member.Username} as {role.Name()}", project.Name);
        return Api.Created(context, $"{Api.Prefix}/projects/{project.Id}/members/{member.Id}");
    }

    private static async Task<IResult> UpdateMemberAsync(HttpContext context)
    {
        var (caller, project) = await ProjectOfRouteAsync(context).ConfigureAwait(false);
        var membership = Membership(context);
        await membership.RequireProjectAdminAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
        long mid = Api.Id(context, "mid");
        if (mid > UserGroupStore.MemberIdBase)
        {
            var groupMember = await GroupMemberAsync(context, project, mid).ConfigureAwait(false);
            var groupRole = Role((await Api.BodyAsync<RoleRequest>(context).ConfigureAwait(false)).RoleId);
            await Groups(context).SetRoleAsync(project.Id, mid, groupRole, context.RequestAborted).ConfigureAwait(false);
            Api.Audit(context, caller, "update", "member", $"group {groupMember.Group.GroupName} as {groupRole.Name()}", project.Name);
            return Results.Ok();
        }

        // A missing member is reported before a malformed body, as it always was.
        long memberId = (await membership.GetAsync(caller, project, Api.Id(context, "mid"), context.RequestAborted).ConfigureAwait(false)).Id;
        var request = await Api.BodyAsync<RoleRequest>(context).ConfigureAwait(false);
        var role = Role(request.RoleId);
        var member = await membership.SetRoleAsync(caller, project, memberId, role, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "update", "member", $"{member.Username} as {role.Name()}", project.Name);
        return Results.Ok();
    }

    private static async Task<IResult> RemoveMemberAsync(HttpContext context)
    {
        var (caller, project) = await ProjectOfRouteAsync(context).ConfigureAwait(false);
        var membership = Membership(context);
        await membership.RequireProjectAdminAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
        long mid = Api.Id(context, "mid");
        if (mid > UserGroupStore.MemberIdBase)
        {
            var groupMember = await GroupMemberAsync(context, project, mid).ConfigureAwait(false);
            await Groups(context).RemoveMemberAsync(project.Id, mid, context.RequestAborted).ConfigureAwait(false);
            Api.Audit(context, caller, "delete", "member", $"group {groupMember.Group.GroupName}", project.Name);
            return Results.Ok();
        }

        var member = await membership.RemoveAsync(caller, project, Api.Id(context, "mid"), context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "delete", "member", member.Username, project.Name);
        return Results.Ok();
    }

    /// <summary>The signed-in caller and the project of the route, when the caller may see it.</summary>
    private static async Task<(Caller Caller, Project Project)> ProjectOfRouteAsync(HttpContext context)
    {
        var caller = await Api.UserAsync(context).ConfigureAwait(false);
        return (caller, await Api.ProjectAsync(context, caller).ConfigureAwait(false));
    }

    private static async Task<GroupMember> GroupMemberAsync(HttpContext context, Project project, long mid) =>
        await Groups(context).GetMemberAsync(project.Id, mid, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"member {mid} not found in {project.Name}");

    private static UserGroupStore Groups(HttpContext context) => context.RequestServices.GetRequiredService<UserGroupStore>();

    private static ProjectMembership Membership(HttpContext context) => context.RequestServices.GetRequiredService<ProjectMembership>();

    private static ProjectRole Role(long? roleId) =>
        roleId is long id && ProjectRoles.IsDefined(id)
            ? (ProjectRole)id
            : throw ApiException.BadRequest("role_id must be 1 (projectAdmin), 2 (developer), 3 (guest), 4 (maintainer) or 5 (limitedGuest)");

    private sealed record MemberUser(long? UserId, string? Username);

    private sealed record MemberRequest(long? RoleId, MemberUser? MemberUser, UserGroupEndpoints.GroupRequest? MemberGroup);

    private sealed record RoleRequest(long? RoleId);

    private sealed record MemberResponse(long Id, long ProjectId, string EntityName, string RoleName, int RoleId, long EntityId, string EntityType)
    {
        public static MemberResponse From(Member m) => new(m.Id, m.ProjectId, m.Username, m.Role.Name(), (int)m.Role, m.UserId, "u");

        public static MemberResponse From(GroupMember m) => new(m.Id, m.ProjectId, m.Group.GroupName, m.Role.Name(), (int)m.Role, m.Group.Id, "g");
    }
}
