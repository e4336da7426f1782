using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Identity.Ldap;

namespace Wharf.Registry.Management;

/// <summary>
/// Harbor's user groups (<c>/usergroups</c>): the directory groups wharf knows by DN (group_type 1, LDAP),
/// which projects take as members. Anyone signed in may list them (to add one as a member); system admins change them.
/// </summary>
internal static class UserGroupEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/usergroups", Api.Handle(ListAsync));
        api.MapPost("/usergroups", Api.Handle(CreateAsync));
        api.MapGet("/usergroups/{group_id}", Api.Handle(GetAsync));
        api.MapPut("/usergroups/{group_id}", Api.Handle(UpdateAsync));
        api.MapDelete("/usergroups/{group_id}", Api.Handle(DeleteAsync));
    }

    private static async Task<IResult> ListAsync(HttpContext context)
    {
        await Api.UserAsync(context).ConfigureAwait(false);
        var groups = await Store(context).ListAsync(context.Request.Query["group_name"], context.RequestAborted).ConfigureAwait(false);
        string? dn = context.Request.Query["ldap_group_dn"];
        var list = groups.Where(g => string.IsNullOrEmpty(dn) || DirectoryGroupRoles.SameDn(g.LdapGroupDn, dn)).ToList();
        return Results.Json(Api.Page(context, list).Select(GroupResponse.From), Api.Json);
    }

    private static async Task<IResult> GetAsync(HttpContext context)
    {
        await Api.UserAsync(context).ConfigureAwait(false);
        return Results.Json(GroupResponse.From(await FindAsync(context).ConfigureAwait(false)), Api.Json);
    }

    private static async Task<IResult> CreateAsync(HttpContext context)
    {
        var caller = await Api.SysAdminAsync(context).ConfigureAwait(false);
        var request = await Api.BodyAsync<GroupRequest>(context).ConfigureAwait(false);
        var group = await CreateOrFindAsync(context, request, existingIsConflict: true).ConfigureAwait(false);
        Api.Audit(context, caller, "create", "user_group", group.LdapGroupDn, null);
        return Api.Created(context, $"{Api.Prefix}/usergroups/{group.Id}");
    }

    /// <summary>
    /// Checks a group request (LDAP type, a DN) and creates the group, named from the request or else from
    /// the DN's first value; with <paramref name="existingIsConflict"/> false an existing group of that DN is returned.
    /// </summary>
    public static async Task<UserGroup> CreateOrFindAsync(HttpContext context, GroupRequest request, bool existingIsConflict)
    {
        if (request.GroupType is not (null or UserGroupStore.LdapGroupType))
        {
            throw ApiException.BadRequest("group_type must be 1 (LDAP): wharf has no HTTP or OIDC groups");
        }

        string? dn = request.LdapGroupDn is null ? null : DirectoryGroupRoles.NormalizeDn(request.LdapGroupDn);
        if (string.IsNullOrEmpty(dn) || !dn.Contains('=', StringComparison.Ordinal) || dn.Length > 1024)
        {
            throw ApiException.BadRequest("ldap_group_dn must be a distinguished name such as cn=lab,ou=groups,dc=example,dc=org");
        }

        var store = Store(context);
        if (await store.FindByDnAsync(dn, context.RequestAborted).ConfigureAwait(false) is { } existing)
        {
            return existingIsConflict ? throw ApiException.Conflict($"a group with ldap_group_dn {dn} exists") : existing;
        }

        string name = string.IsNullOrWhiteSpace(request.GroupName) ? FirstValue(dn) : request.GroupName.Trim();
        return await store.CreateAsync(name, dn, context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiException.Conflict($"a group with ldap_group_dn {dn} exists");
    }

    private static async Task<IResult> UpdateAsync(HttpContext context)
    {
        var caller = await Api.SysAdminAsync(context).ConfigureAwait(false);
        var group = await FindAsync(context).ConfigureAwait(false);
        var request = await Api.BodyAsync<GroupRequest>(context).ConfigureAwait(false);
        if (string.IsNullOrWhiteSpace(request.GroupName))
        {
            throw ApiException.BadRequest("group_name is required");
        }

        if (request.LdapGroupDn is { } dn && !DirectoryGroupRoles.SameDn(dn, group.LdapGroupDn))
        {
            throw ApiException.BadRequest("a group's ldap_group_dn cannot change; create another group");
        }

        await Store(context).RenameAsync(group.Id, request.GroupName.Trim(), context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "update", "user_group", group.LdapGroupDn, null);
        return Results.Ok();
    }

    private static async Task<IResult> DeleteAsync(HttpContext context)
    {
        var caller = await Api.SysAdminAsync(context).ConfigureAwait(false);
        var group = await FindAsync(context).ConfigureAwait(false);
        await Store(context).DeleteAsync(group.Id, context.RequestAborted).ConfigureAwait(false);
        Api.Audit(context, caller, "delete", "user_group", group.LdapGroupDn, null);
        return Results.Ok();
    }

    private static async Task<UserGroup> FindAsync(HttpContext context)
    {
        long id = Api.Id(context, "group_id");
        return await Store(context).GetAsync(id, context.RequestAborted).ConfigureAwait(false) ?? throw ApiException.NotFound($"user group {id} not found");
    }

    private static string FirstValue(string dn)
    {
        string first = dn.Split(',')[0];
        int equals = first.IndexOf('=', StringComparison.Ordinal);
        return first[(equals + 1)..].Trim();
    }

    private static UserGroupStore Store(HttpContext context) => context.RequestServices.GetRequiredService<UserGroupStore>();

    public sealed record GroupRequest(long? Id, string? GroupName, int? GroupType, string? LdapGroupDn);

    private sealed record GroupResponse(long Id, string GroupName, int GroupType, string LdapGroupDn)
    {
        public static GroupResponse From(UserGroup g) => new(g.Id, g.GroupName, g.GroupType, g.LdapGroupDn);
    }
}
