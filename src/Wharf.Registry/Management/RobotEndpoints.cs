using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Identity;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Management;

/// <summary>
/// Robot accounts in Harbor's v2 shape (RobotCreate / RobotCreated / Robot / RobotSec): project level
/// only, named <c>robot$&lt;project&gt;+&lt;name&gt;</c>; the secret is returned at creation and on refresh, never again,
/// and stored as bcrypt like a password. A refresh (or disabling the robot) revokes its refresh tokens.
/// </summary>
internal static class RobotEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapPost("/robots", Api.Handle(CreateRobotAsync));
        api.MapGet("/robots", Api.Handle(ListRobotsAsync));
        api.MapGet("/robots/{robot_id}", Api.Handle(GetRobotAsync));
        api.MapPut("/robots/{robot_id}", Api.Handle(UpdateRobotAsync));
        api.MapPatch("/robots/{robot_id}", Api.Handle(RefreshRobotSecretAsync));
        api.MapDelete("/robots/{robot_id}", Api.Handle(DeleteRobotAsync));
        api.MapGet("/projects/{project_name_or_id}/robots", Api.Handle(ListProjectRobotsAsync));
        api.MapPost("/projects/{project_name_or_id}/robots", Api.Handle(CreateProjectRobotAsync));
    }

    private static async Task<IResult> CreateRobotAsync(HttpContext context)
    {
        var caller = await Api.UserAsync(context).ConfigureAwait(false);
        var request = await Api.BodyAsync<RobotRequest>(context).ConfigureAwait(false);
        if (request.Level is not null and not "project")
        {
            throw ApiException.BadRequest("only project-level robots are supported (level must be \"project\")");
        }

        if (request.Permissions is not { Length: 1 } || request.Permissions[0].Kind is not (null or "project") || string.IsNullOrEmpty(request.Permissions[0].Namespace))
        {
            throw ApiException.BadRequest("a project robot needs exactly one permission of kind \"project\" naming its project in namespace");
        }

        var projects = context.RequestServices.GetRequiredService<IProjectStore>();
        var project = await projects.FindByNameAsync(request.Permissions[0].Namespace!, context.RequestAborted).ConfigureAwait(false);
        if (project is null || !await Api.CanSeeAsync(context, caller, project).ConfigureAwait(false))
        {
            throw ApiException.NotFound($"project {request.Permissions[0].Namespace} not found");
        }

        return await CreateRobotInAsync(context, caller, project, request).ConfigureAwait(false);
    }

    private static async Task<IResult> CreateProjectRobotAsync(HttpContext context)
    {
        var caller = await Api.UserAsync(context).ConfigureAwait(false);
        var project = await Api.ProjectAsync(context, caller).ConfigureAwait(false);
        var request = await Api.BodyAsync<RobotRequest>(context).ConfigureAwait(false);
        if (request.Permissions is { Length: > 1 } || (request.Permissions is [var only] && only.Namespace is not null && only.Namespace != project.Name))
        {
            throw ApiException.BadRequest($"a robot of {project.Name} can only hold permissions in {project.Name}");
        }

        return await CreateRobotInAsync(context, caller, project, request).ConfigureAwait(false);
    }

    private static async Task<IResult> CreateRobotInAsync(HttpContext context, Caller caller, Project project, RobotRequest request)
    {
        var rules = Rules(context);
        await rules.RequireManagerAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
        RobotAccounts.CheckName(request.Name);
        var access = Access(request.Permissions?.FirstOrDefault()?.Access);
        var (robot, secret) = await rules.CreateAsync(
            caller, project, request.Name, request.Description, access, request.Disable ?? false, request.Duration, request.Secret, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "create", "robot", robot.Name, project.Name);
        context.Response.Headers.Location = $"{Api.Prefix}/robots/{robot.Id}";
        return Results.Json(new RobotCreated(robot.Id, robot.Name, secret, Api.Time(robot.CreatedAt), robot.ExpiresAt), Api.Json, statusCode: StatusCodes.Status201Created);
    }

    private static RobotAccounts Rules(HttpContext context) => context.RequestServices.GetRequiredService<RobotAccounts>();

    private static async Task<IResult> ListRobotsAsync(HttpContext context)
    {
        var caller = await Api.UserAsync(context).ConfigureAwait(false);
        long? projectId = null;
        string? q = context.Request.Query["q"];
        foreach (string clause in (q ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            // Harbor's portal asks q=Level=project,ProjectID=<id>.
            if (clause.StartsWith("ProjectID=", StringComparison.Ordinal) && long.TryParse(clause["ProjectID=".Length..], System.Globalization.CultureInfo.InvariantCulture, out long id))
            {
                projectId = id;
            }
        }

        if (projectId is null)
        {
            if (!caller.IsSysAdmin)
            {
                throw ApiException.Forbidden("only system admins may list every robot; pass q=ProjectID=<id>");
            }

            var all = await context.RequestServices.GetRequiredService<IRobotStore>().ListAsync(null, context.RequestAborted).ConfigureAwait(false);
            return Results.Json(Api.Page(context, all).Select(RobotResponse.From), Api.Json);
        }

        var project = await context.RequestServices.GetRequiredService<IProjectStore>().FindByIdAsync(projectId.Value, context.RequestAborted).ConfigureAwait(false);
        if (project is null || !await Api.CanSeeAsync(context, caller, project).ConfigureAwait(false))
        {
            throw ApiException.NotFound($"project {projectId} not found");
        }

        return await ListRobotsOfAsync(context, caller, project).ConfigureAwait(false);
    }

    private static async Task<IResult> ListProjectRobotsAsync(HttpContext context)
    {
        var caller = await Api.UserAsync(context).ConfigureAwait(false);
        var project = await Api.ProjectAsync(context, caller).ConfigureAwait(false);
        return await ListRobotsOfAsync(context, caller, project).ConfigureAwait(false);
    }

    private static async Task<IResult> ListRobotsOfAsync(HttpContext context, Caller caller, Project project)
    {
        var robots = await Rules(context).ListAsync(caller, project, context.RequestAborted).ConfigureAwait(false);
        return Results.Json(Api.Page(context, robots).Select(RobotResponse.From), Api.Json);
    }

    private static async Task<IResult> GetRobotAsync(HttpContext context)
    {
        var (_, robot, _) = await ManagedRobotAsync(context).ConfigureAwait(false);
        return Results.Json(RobotResponse.From(robot), Api.Json);
    }

    /// <summary>Updates description, permissions, disable and duration; name and project are fixed.</summary>
    private static async Task<IResult> UpdateRobotAsync(HttpContext context)
    {
        var (caller, robot, project) = await ManagedRobotAsync(context).ConfigureAwait(false);
        var request = await Api.BodyAsync<RobotRequest>(context).ConfigureAwait(false);
        if (request.Permissions is { Length: > 0 } permissions && (permissions.Length > 1 || (permissions[0].Namespace is { } ns && ns != robot.ProjectName)))
        {
            throw ApiException.BadRequest($"a robot of {robot.ProjectName} can only hold permissions in {robot.ProjectName}");
        }

        RepositoryActions? access = request.Permissions is { Length: 1 } ? Access(request.Permissions[0].Access) : null;
        await Rules(context).UpdateAsync(caller, project, robot, request.Description, access, request.Disable, request.Duration, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "update", "robot", robot.Name, robot.ProjectName);
        return Results.Ok();
    }

    /// <summary>Harbor's PATCH with RobotSec: a given secret is set (if it meets the policy), none generates a new one.</summary>
    private static async Task<IResult> RefreshRobotSecretAsync(HttpContext context)
    {
        var (caller, robot, project) = await ManagedRobotAsync(context).ConfigureAwait(false);
        RobotSecret? request = context.Request.ContentLength is 0 ? null : await Api.BodyAsync<RobotSecret>(context).ConfigureAwait(false);
        string secret = await Rules(context).RefreshSecretAsync(caller, project, robot, request?.Secret, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "update", "robot", robot.Name + " (secret refreshed)", robot.ProjectName);
        return Results.Json(new RobotSecret(secret), Api.Json);
    }

    private static async Task<IResult> DeleteRobotAsync(HttpContext context)
    {
        var (caller, robot, project) = await ManagedRobotAsync(context).ConfigureAwait(false);
        await Rules(context).DeleteAsync(caller, project, robot, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "delete", "robot", robot.Name, robot.ProjectName);
        return Results.Ok();
    }

    private static async Task<(Caller Caller, Robot Robot, Project Project)> ManagedRobotAsync(HttpContext context)
    {
        var caller = await Api.UserAsync(context).ConfigureAwait(false);
        var (robot, project) = await Rules(context).ManagedAsync(caller, Api.Id(context, "robot_id"), p => Api.CanSeeAsync(context, caller, p), context.RequestAborted).ConfigureAwait(false);
        return (caller, robot, project);
    }

    /// <summary>Harbor's permission access list: resource repository (or artifact/tag for delete), action pull/push/delete.</summary>
    private static RepositoryActions Access(RobotAccess[]? access)
    {
        var actions = RepositoryActions.None;
        foreach (var entry in access ?? [])
        {
            if (entry.Resource is not ("repository" or "artifact" or "tag"))
            {
                continue;
            }

            var action = entry.Action is "pull" or "push" or "delete" ? ProjectRoles.ParseAction(entry.Action) : RepositoryActions.None;
            if (action == RepositoryActions.None)
            {
                throw ApiException.BadRequest($"unknown robot action {entry.Action} (pull, push or delete)");
            }

            actions |= action;
        }

        return actions == RepositoryActions.None
            ? throw ApiException.BadRequest("a robot needs at least one of pull, push, delete on resource repository")
            : actions;
    }

    private sealed record RobotAccess(string? Resource, string? Action, string? Effect);

    private sealed record RobotPermission(string? Kind, string? Namespace, RobotAccess[]? Access);

    private sealed record RobotRequest(string? Name, string? Description, string? Secret, string? Level, bool? Disable, long? Duration, RobotPermission[]? Permissions);

    private sealed record RobotCreated(long Id, string Name, string Secret, string CreationTime, long ExpiresAt);

    private sealed record RobotSecret(string? Secret);

    private sealed record RobotResponse(
        long Id, string Name, string? Description, string Level, long Duration, bool Editable, bool Disable, long ExpiresAt,
        RobotPermission[] Permissions, string CreationTime, string UpdateTime)
    {
        public static RobotResponse From(Robot r) => new(
            r.Id, r.Name, r.Description, "project", r.DurationDays, true, r.Disabled, r.ExpiresAt,
            [new RobotPermission("project", r.ProjectName, [.. r.Access.Names().Select(a => new RobotAccess("repository", a, null))])],
            Api.Time(r.CreatedAt), Api.Time(r.UpdatedAt));
    }
}
