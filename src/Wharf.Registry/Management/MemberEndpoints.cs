using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Auth;
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
        var (_, project) = await MemberOfProjectAsync(context).ConfigureAwait(false);
        var members = await context.RequestServices.GetRequiredService<IMemberStore>().ListAsync(project.Id, context.Request.Query["entityname"], context.RequestAborted).ConfigureAwait(false);
        return Results.Json(Api.Page(context, members).Select(MemberResponse.From), Api.Json);
    }

    private static async Task<IResult> GetMemberAsync(HttpContext context)
    {
        var (_, project) = await MemberOfProjectAsync(context).ConfigureAwait(false);
        return Results.Json(MemberResponse.From(await MemberByRouteAsync(context, project).ConfigureAwait(false)), Api.Json);
    }

    private static async Task<IResult> AddMemberAsync(HttpContext context)
    {
        var (caller, project) = await AdminOfProjectAsync(context).ConfigureAwait(false);
        var request = await Api.BodyAsync<MemberRequest>(context).ConfigureAwait(false);
        var role = Role(request.RoleId);
        if (request.MemberUser is null)
        {
            throw ApiException.BadRequest("member_user is required (groups are not supported)");
        }

        var users = context.RequestServices.GetRequiredService<IUserStore>();
        var user = request.MemberUser.UserId is long userId and > 0
            ? await users.FindByIdAsync(userId, context.RequestAborted).ConfigureAwait(false)
            : string.IsNullOrEmpty(request.MemberUser.Username) ? null : await users.FindByNameAsync(request.MemberUser.Username, context.RequestAborted).ConfigureAwait(false);
        if (user is null)
        {
            throw ApiException.NotFound("user not found");
        }

        var member = await context.RequestServices.GetRequiredService<IMemberStore>().AddAsync(project.Id, user.Id, role, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.Conflict($"{user.Username} is already a member of {project.Name}");
        Api.Audit(context, caller, "create", "member", $"{user.Username} as {role.Name()}", project.Name);
        return Api.Created(context, $"{Api.Prefix}/projects/{project.Id}/members/{member.Id}");
    }

    private static async Task<IResult> UpdateMemberAsync(HttpContext context)
    {
        var (caller, project) = await AdminOfProjectAsync(context).ConfigureAwait(false);
        var member = await MemberByRouteAsync(context, project).ConfigureAwait(false);
        var request = await Api.BodyAsync<RoleRequest>(context).ConfigureAwait(false);
        var role = Role(request.RoleId);
        await context.RequestServices.GetRequiredService<IMemberStore>().SetRoleAsync(project.Id, member.Id, role, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "update", "member", $"{member.Username} as {role.Name()}", project.Name);
        return Results.Ok();
    }

    private static async Task<IResult> RemoveMemberAsync(HttpContext context)
    {
        var (caller, project) = await AdminOfProjectAsync(context).ConfigureAwait(false);
        var member = await MemberByRouteAsync(context, project).ConfigureAwait(false);
        await context.RequestServices.GetRequiredService<IMemberStore>().RemoveAsync(project.Id, member.Id, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "delete", "member", member.Username, project.Name);
        return Results.Ok();
    }

    /// <summary>Members (any role but limited guest) and system admins see a project's members.</summary>
    private static async Task<(Caller Caller, Project Project)> MemberOfProjectAsync(HttpContext context)
    {
        var caller = await Api.UserAsync(context).ConfigureAwait(false);
        var project = await Api.ProjectAsync(context, caller).ConfigureAwait(false);
        var evaluator = context.RequestServices.GetRequiredService<AccessEvaluator>();
        // Harbor gives limited guests no member list.
        if (await evaluator.RoleAsync(caller, project, context.RequestAborted).ConfigureAwait(false) is null or ProjectRole.LimitedGuest)
        {
            throw ApiException.Forbidden($"only members of {project.Name} may see its members");
        }

        return (caller, project);
    }

    private static async Task<(Caller Caller, Project Project)> AdminOfProjectAsync(HttpContext context)
    {
        var caller = await Api.UserAsync(context).ConfigureAwait(false);
        var project = await Api.ProjectAsync(context, caller).ConfigureAwait(false);
        await Api.RequireProjectAdminAsync(context, caller, project).ConfigureAwait(false);
        return (caller, project);
    }

    private static async Task<Member> MemberByRouteAsync(HttpContext context, Project project)
    {
        long id = Api.Id(context, "mid");
        return await context.RequestServices.GetRequiredService<IMemberStore>().GetAsync(project.Id, id, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.NotFound($"member {id} not found in {project.Name}");
    }

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
