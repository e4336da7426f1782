using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Identity.Ldap;

namespace Wharf.Registry.Management;

/// <summary>
/// Harbor's system configuration for authentication (<c>/configurations</c>: auth_mode and the ldap_* keys)
/// and its directory tools (<c>/ldap/ping</c>, <c>/ldap/users/search</c>, <c>/ldap/groups/search</c>). System admins only.
/// </summary>
internal static class ConfigurationEndpoints
{
    private const string Mask = "********";

    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/configurations", Api.Handle(GetAsync));
        api.MapPut("/configurations", Api.Handle(PutAsync));
        api.MapPost("/ldap/ping", Api.Handle(PingAsync));
        api.MapGet("/ldap/users/search", Api.Handle(SearchUsersAsync));
        api.MapGet("/ldap/groups/search", Api.Handle(SearchGroupsAsync));
    }

    /// <summary>Harbor's shape: each key → {"value", "editable"}; secrets are never given back.</summary>
    private static async Task<IResult> GetAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        var values = await Configuration(context).ValuesAsync(context.RequestAborted).ConfigureAwait(false);
        var settings = await Configuration(context).GetAsync(context.RequestAborted).ConfigureAwait(false);
        var answer = new SortedDictionary<string, object>(StringComparer.Ordinal);
        foreach (var (key, spec) in LdapSettings.Keys)
        {
            object? value = values.TryGetValue(key, out string? text) ? Typed(spec.Kind, text) : Default(key, settings);
            if (spec.Secret)
            {
                value = string.IsNullOrEmpty(text) ? "" : Mask;
            }

            answer[key] = new { value, editable = true };
        }

        return Results.Json(answer, Api.Json);
    }

    private static async Task<IResult> PutAsync(HttpContext context)
    {
        var caller = await Api.SysAdminAsync(context).ConfigureAwait(false);
        var changes = Changes(await Api.BodyAsync<Dictionary<string, JsonElement>>(context).ConfigureAwait(false));

        // Harbor's portal sends the mask back for a password field left alone: it keeps the stored one.
        foreach (string key in changes.Where(c => LdapSettings.Keys[c.Key].Secret && c.Value == Mask).Select(c => c.Key).ToList())
        {
            changes.Remove(key);
        }

        try
        {
            await Configuration(context).SetAsync(changes, context.RequestAborted).ConfigureAwait(false);
        }
        catch (FormatException e)
        {
            throw ApiException.BadRequest(e.Message);
        }

        Api.Changed(context);
        Api.Audit(context, caller, "update", "configuration", string.Join(",", changes.Keys.Order(StringComparer.Ordinal)), null);
        return Results.Ok();
    }

    /// <summary>Harbor's "test LDAP server": the stored settings, or the body's keys over them, tried for real.</summary>
    private static async Task<IResult> PingAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        var settings = await SettingsWithBodyAsync(context).ConfigureAwait(false);
        string? problem;
        try
        {
            problem = await Directory(context).PingAsync(settings, context.RequestAborted).ConfigureAwait(false);
        }
        catch (DirectoryUnavailableException e)
        {
            problem = e.Message;
        }

        return problem is null ? Results.Json(new { success = true }, Api.Json) : throw ApiException.BadRequest(problem);
    }

    private static async Task<IResult> SearchUsersAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        var settings = await LdapSettingsAsync(context).ConfigureAwait(false);
        var users = await Ask(() => Directory(context).SearchUsersAsync(settings, context.Request.Query["username"], context.RequestAborted)).ConfigureAwait(false);
        return Results.Json(users.Select(u => new { username = u.Username, realname = u.DisplayName, email = u.Email, ldap_dn = u.Dn }), Api.Json);
    }

    private static async Task<IResult> SearchGroupsAsync(HttpContext context)
    {
        await Api.SysAdminAsync(context).ConfigureAwait(false);
        var settings = await LdapSettingsAsync(context).ConfigureAwait(false);
        var groups = await Ask(() => Directory(context).SearchGroupsAsync(settings, context.Request.Query["groupname"], context.Request.Query["groupdn"], context.RequestAborted)).ConfigureAwait(false);
        return Results.Json(groups.Select(g => new { group_name = g.Name, ldap_group_dn = g.Dn, group_type = UserGroupStore.LdapGroupType }), Api.Json);
    }

    private static async Task<T> Ask<T>(Func<Task<T>> search)
    {
        try
        {
            return await search().ConfigureAwait(false);
        }
        catch (DirectoryUnavailableException e)
        {
            throw new ApiException(StatusCodes.Status503ServiceUnavailable, "SERVICE_UNAVAILABLE", e.Message);
        }
    }

    private static async Task<LdapSettings> LdapSettingsAsync(HttpContext context)
    {
        var settings = await Configuration(context).GetAsync(context.RequestAborted).ConfigureAwait(false);
        return settings.Url is null || settings.BaseDn is null ? throw ApiException.BadRequest("ldap_url and ldap_base_dn are not configured") : settings;
    }

    private static async Task<LdapSettings> SettingsWithBodyAsync(HttpContext context)
    {
        var merged = new Dictionary<string, string>(await Configuration(context).ValuesAsync(context.RequestAborted).ConfigureAwait(false), StringComparer.Ordinal);
        if (context.Request.ContentLength is > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            foreach (var (key, value) in Changes(await Api.BodyAsync<Dictionary<string, JsonElement>>(context).ConfigureAwait(false)))
            {
                // Harbor's portal sends the mask back when the password field was left alone.
                if (!(LdapSettings.Keys[key].Secret && value == Mask))
                {
                    merged[key] = value;
                }
            }
        }

        try
        {
            var settings = LdapSettings.From(merged);
            return settings.Url is null || settings.BaseDn is null ? throw new FormatException("ldap_url and ldap_base_dn are required") : settings;
        }
        catch (FormatException e)
        {
            throw ApiException.BadRequest(e.Message);
        }
    }

    private static Dictionary<string, string> Changes(Dictionary<string, JsonElement> body)
    {
        var changes = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in body)
        {
            try
            {
                changes[key] = LdapSettings.Normalize(key, value);
            }
            catch (FormatException e)
            {
                throw ApiException.BadRequest(e.Message);
            }
        }

        return changes;
    }

    private static object? Typed(LdapSettings.Kind kind, string text) => kind switch
    {
        LdapSettings.Kind.Integer => long.TryParse(text, out long n) ? n : text,
        LdapSettings.Kind.Boolean => bool.TryParse(text, out bool b) ? b : text,
        _ => text,
    };

    private static object? Default(string key, LdapSettings s) => key switch
    {
        "auth_mode" => s.AuthMode,
        "ldap_uid" => s.Uid,
        "ldap_scope" => s.Scope,
        "ldap_verify_cert" => s.VerifyCert,
        "ldap_group_attribute_name" => s.GroupAttributeName,
        "ldap_group_membership_attribute" => s.GroupMembershipAttribute,
        "ldap_timeout" => (int)s.Timeout.TotalSeconds,
        "ldap_start_tls" => s.StartTls,
        "ldap_allow_insecure" => s.AllowInsecure,
        "ldap_group_project_role" => s.GroupProjectRole,
        "ldap_group_cache_seconds" => (int)s.GroupCacheLifetime.TotalSeconds,
        "ldap_group_refresh_seconds" => (int)s.GroupRefreshInterval.TotalSeconds,
        "ldap_group_nesting_depth" => s.GroupNestingDepth,
        _ => "",
    };

    private static AuthConfiguration Configuration(HttpContext context) => context.RequestServices.GetRequiredService<AuthConfiguration>();

    private static LdapDirectory Directory(HttpContext context) => context.RequestServices.GetRequiredService<LdapDirectory>();
}
