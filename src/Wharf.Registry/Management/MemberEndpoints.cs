using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Identity;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Management;

/// <summary>Project members: who holds which Harbor role in a project.</summary>
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
        var members = await Membership(context).ListAsync(caller, project, context.Request.Query["entityname"], context.RequestAborted).ConfigureAwait(false);
        return Results.Json(Api.Page(context, members).Select(MemberResponse.From), Api.Json);
    }

    private static async Task<IResult> GetMemberAsync(HttpContext context)
    {
        var (caller, project) = await ProjectOfRouteAsync(context).ConfigureAwait(false);
        var membership = Membership(context);
        await membership.RequireMemberAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
        var member = await membership.GetAsync(caller, project, Api.Id(context, "mid"), context.RequestAborted).ConfigureAwait(false);
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
        if (request.MemberUser is null)
        {
            throw ApiException.BadRequest("member_user is required (groups are not supported)");
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

    private static ProjectMembership Membership(HttpContext context) => context.RequestServices.GetRequiredService<ProjectMembership>();

    private static ProjectRole Role(long? roleId) =>
        roleId is long id && ProjectRoles.IsDefined(id)
            ? (ProjectRole)id
            : throw ApiException.BadRequest("role_id must be 1 (projectAdmin), 2 (developer), 3 (guest), 4 (maintainer) or 5 (limitedGuest)");

    private sealed record MemberUser(long? UserId, string? Username);

    private sealed record MemberRequest(long? RoleId, MemberUser? MemberUser);

    private sealed record RoleRequest(long? RoleId);

    private sealed record MemberResponse(long Id, long ProjectId, string EntityName, string RoleName, int RoleId, long EntityId, string EntityType)
    {
        public static MemberResponse From(Member m) => new(m.Id, m.ProjectId, m.Username, m.Role.Name(), (int)m.Role, m.UserId, "u");
    }
}
