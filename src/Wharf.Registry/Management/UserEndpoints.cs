using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Identity;

namespace Wharf.Registry.Management;

/// <summary>Local user accounts: registration by the admin, profile, password, admin flag.</summary>
internal static class UserEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapPost("/users", Api.Handle(CreateUserAsync));
        api.MapGet("/users", Api.Handle(ListUsersAsync));
        api.MapGet("/users/current", Api.Handle(CurrentUserAsync));
        api.MapGet("/users/search", Api.Handle(SearchUsersAsync));
        api.MapGet("/users/{user_id}", Api.Handle(GetUserAsync));
        api.MapPut("/users/{user_id}", Api.Handle(UpdateUserProfileAsync));
        api.MapPut("/users/{user_id}/password", Api.Handle(ChangePasswordAsync));
        api.MapPut("/users/{user_id}/sysadmin", Api.Handle(SetSysAdminAsync));
        api.MapPut("/users/{user_id}/disabled", Api.Handle(SetDisabledAsync));
        api.MapDelete("/users/{user_id}", Api.Handle(DeleteUserAsync));
        api.MapDelete("/users/{user_id}/tokens", Api.Handle(RevokeTokensAsync));
    }

    private static async Task<IResult> CreateUserAsync(HttpContext context)
    {
        var caller = await Api.SysAdminAsync(context).ConfigureAwait(false);
        var request = await Api.BodyAsync<UserCreationRequest>(context).ConfigureAwait(false);
        var user = await Accounts(context).CreateAsync(caller, request.Username, request.Password, request.Email, request.Realname, request.Comment, context.RequestAborted).ConfigureAwait(false);
        return Api.Created(context, $"{Api.Prefix}/users/{user.Id}");
    }

    private static UserAccounts Accounts(HttpContext context) => context.RequestServices.GetRequiredService<UserAccounts>();

    private static async Task<IResult> ListUsersAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        var (page, pageSize) = Api.Paging(context);
        string? filter = context.Request.Query["username"];
        string? q = context.Request.Query["q"];
        if (string.IsNullOrEmpty(filter) && !string.IsNullOrEmpty(q))
        {
            // Harbor's query syntax, the one form scripts use for users: q=username=~part or q=username=name.
            foreach (string clause in q.Split(','))
            {
                if (clause.StartsWith("username=~", StringComparison.Ordinal))
                {
                    filter = clause["username=~".Length..];
                }
                else if (clause.StartsWith("username=", StringComparison.Ordinal))
                {
                    filter = clause["username=".Length..];
                }
            }
        }

        var (users, total) = await context.RequestServices.GetRequiredService<IUserStore>().ListAsync(filter, page, pageSize, context.RequestAborted).ConfigureAwait(false);
        Api.WritePaging(context, total, page, pageSize);
        return Results.Json(users.Select(UserResponse.From), Api.Json);
    }

    /// <summary>Harbor's user search (any logged-in user, to add members): only ids and names.</summary>
    private static async Task<IResult> SearchUsersAsync(HttpContext context)
    {
        await Api.UserAsync(context).ConfigureAwait(false);
        string? username = context.Request.Query["username"];
        if (string.IsNullOrEmpty(username))
        {
            throw ApiException.BadRequest("username is required");
        }

        var (page, pageSize) = Api.Paging(context);
        var (users, total) = await context.RequestServices.GetRequiredService<IUserStore>().ListAsync(username, page, pageSize, context.RequestAborted).ConfigureAwait(false);
        Api.WritePaging(context, total, page, pageSize);
        return Results.Json(users.Select(u => new UserSearchResult(u.Id, u.Username)), Api.Json);
    }

    private sealed record UserSearchResult(long UserId, string Username);

    private static async Task<IResult> CurrentUserAsync(HttpContext context)
    {
        var caller = await Api.UserAsync(context).ConfigureAwait(false);
        return Results.Json(UserResponse.From(caller.User!), Api.Json);
    }

    private static async Task<IResult> GetUserAsync(HttpContext context)
    {
        var (_, user) = await SelfOrAdminAsync(context).ConfigureAwait(false);
        return Results.Json(UserResponse.From(user), Api.Json);
    }

    private static async Task<IResult> UpdateUserProfileAsync(HttpContext context)
    {
        var (caller, user) = await SelfOrAdminAsync(context).ConfigureAwait(false);
        var request = await Api.BodyAsync<UserProfileRequest>(context).ConfigureAwait(false);
        await Accounts(context).UpdateProfileAsync(caller, user, request.Email, request.Realname, request.Comment, context.RequestAborted).ConfigureAwait(false);
        return Results.Ok();
    }

    private static async Task<IResult> ChangePasswordAsync(HttpContext context)
    {
        var (caller, user) = await SelfOrAdminAsync(context).ConfigureAwait(false);
        var request = await Api.BodyAsync<PasswordRequest>(context).ConfigureAwait(false);
        await Accounts(context).ChangePasswordAsync(caller, user, request.OldPassword, request.NewPassword, context.RequestAborted).ConfigureAwait(false);
        return Results.Ok();
    }

    private static async Task<IResult> SetSysAdminAsync(HttpContext context)
    {
        var caller = await Api.SysAdminAsync(context).ConfigureAwait(false);
        var user = await UserByRouteAsync(context).ConfigureAwait(false);
        var request = await Api.BodyAsync<SysAdminRequest>(context).ConfigureAwait(false);
        await Accounts(context).SetSysAdminAsync(caller, user, request.SysadminFlag, context.RequestAborted).ConfigureAwait(false);
        return Results.Ok();
    }

    private static async Task<IResult> SetDisabledAsync(HttpContext context)
    {
        var caller = await Api.SysAdminAsync(context).ConfigureAwait(false);
        var user = await UserByRouteAsync(context).ConfigureAwait(false);
        var request = await Api.BodyAsync<DisabledRequest>(context).ConfigureAwait(false);
        await Accounts(context).SetDisabledAsync(caller, user, request.Disabled, context.RequestAborted).ConfigureAwait(false);
        return Results.Ok();
    }

    private static async Task<IResult> DeleteUserAsync(HttpContext context)
    {
        var caller = await Api.SysAdminAsync(context).ConfigureAwait(false);
        var user = await UserByRouteAsync(context).ConfigureAwait(false);
        await Accounts(context).DeleteAsync(caller, user, context.RequestAborted).ConfigureAwait(false);
        return Results.Ok();
    }

    /// <summary>
    /// Revokes every refresh token of the account (what docker/podman login saved), as a password change
    /// does, and the access tokens this process issued to it: a wharf addition, for a lost laptop. Self or system admin.
    /// </summary>
    private static async Task<IResult> RevokeTokensAsync(HttpContext context)
    {
        var (caller, user) = await SelfOrAdminAsync(context).ConfigureAwait(false);
        await Accounts(context).RevokeTokensAsync(user, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "update", "user", user.Username + " (tokens revoked)", null);
        return Results.Ok();
    }

    private static async Task<(Caller Caller, User User)> SelfOrAdminAsync(HttpContext context)
    {
        var caller = await Api.UserAsync(context).ConfigureAwait(false);
        long id = Api.Id(context, "user_id");
        if (!caller.IsSysAdmin && caller.User!.Id != id)
        {
            throw ApiException.Forbidden("you may only see and change your own account");
        }

        return (caller, await UserByRouteAsync(context).ConfigureAwait(false));
    }

    private static Task<User> UserByRouteAsync(HttpContext context) => Accounts(context).FindAsync(Api.Id(context, "user_id"), context.RequestAborted);

    private sealed record UserCreationRequest(string? Username, string? Password, string? Email, string? Realname, string? Comment);

    private sealed record UserProfileRequest(string? Email, string? Realname, string? Comment);

    private sealed record PasswordRequest(string? OldPassword, string? NewPassword);

    private sealed record SysAdminRequest(bool SysadminFlag);

    private sealed record DisabledRequest(bool Disabled);

    private sealed record UserResponse(long UserId, string Username, string? Email, string? Realname, string? Comment, bool SysadminFlag, bool AdminRoleInAuth, bool Disabled, string CreationTime, string UpdateTime)
    {
        // admin_role_in_auth is Harbor's: system admin through the directory's admin group, known for the
        // caller (users/current); the stored sysadmin_flag is what an admin sets.
        public static UserResponse From(User u) =>
            new(u.Id, u.Username, u.Email, u.RealName, u.Comment, u.SysAdmin, u.AdminRoleInAuth, u.Disabled, Api.Time(u.CreatedAt), Api.Time(u.UpdatedAt));
    }
}
