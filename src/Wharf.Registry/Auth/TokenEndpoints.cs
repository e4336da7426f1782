using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Identity;

namespace Wharf.Registry.Auth;

/// <summary>
/// <c>/service/token</c>: GET with optional Basic credentials (Docker token spec), and the OAuth2
/// POST form (grant_type=password or refresh_token) that containers/image uses with identity tokens.
/// A refresh token is a long-lived token with no access, bound to its account (<see cref="RefreshTokens"/>).
/// Password checks may be throttled: <see cref="CredentialVerifier"/> throws and <see cref="LoginThrottleResponses"/> answers 429.
/// </summary>
internal static class TokenEndpoints
{
    public const string Path = "/service/token";

    public static async Task GetAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var verifier = services.GetRequiredService<CredentialVerifier>();
        var caller = Caller.Anonymous;
        string? authorization = context.Request.Headers.Authorization;
        if (!string.IsNullOrEmpty(authorization))
        {
            if (!CredentialVerifier.TryParseBasic(authorization, out string username, out string password)
                || await verifier.VerifyAsync(username, password, context.RequestAborted).ConfigureAwait(false) is not { } verified)
            {
                await UnauthorizedAsync(context, "invalid username or password").ConfigureAwait(false);
                return;
            }

            caller = verified;
        }

        // docker login asks offline_token=true and keeps the refresh token as its identity token.
        string? refresh = !caller.IsAnonymous && context.Request.Query["offline_token"] == "true"
            ? await services.GetRequiredService<RefreshTokens>().IssueAsync(caller, context.RequestAborted).ConfigureAwait(false)
            : null;
        await WriteTokenAsync(context, caller, context.Request.Query["scope"].OfType<string>(), refresh).ConfigureAwait(false);
    }

    public static async Task PostAsync(HttpContext context)
    {
        if (!context.Request.HasFormContentType)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "invalid_request", "expected a form-encoded body").ConfigureAwait(false);
            return;
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        var services = context.RequestServices;
        var verifier = services.GetRequiredService<CredentialVerifier>();
        var scopes = form["scope"].OfType<string>().ToList();
        switch (form["grant_type"].ToString())
        {
            case "password":
                var caller = await verifier.VerifyAsync(form["username"].ToString(), form["password"].ToString(), context.RequestAborted).ConfigureAwait(false);
                if (caller is null || caller.IsAnonymous)
                {
                    await UnauthorizedAsync(context, "invalid username or password").ConfigureAwait(false);
                    return;
                }

                string? refresh = form["access_type"] == "offline"
                    ? await services.GetRequiredService<RefreshTokens>().IssueAsync(caller, context.RequestAborted).ConfigureAwait(false)
                    : null;
                await WriteTokenAsync(context, caller, scopes, refresh).ConfigureAwait(false);
                return;

            case "refresh_token":
                if (await services.GetRequiredService<RefreshTokens>().ResolveAsync(form["refresh_token"].ToString(), context.RequestAborted).ConfigureAwait(false) is not { } subject)
                {
                    await UnauthorizedAsync(context, "invalid refresh token").ConfigureAwait(false);
                    return;
                }

                await WriteTokenAsync(context, subject, scopes, refreshToken: null).ConfigureAwait(false);
                return;

            default:
                await ErrorAsync(context, StatusCodes.Status400BadRequest, "unsupported_grant_type", "grant_type must be password or refresh_token").ConfigureAwait(false);
                return;
        }
    }

    private static async Task WriteTokenAsync(HttpContext context, Caller caller, IEnumerable<string> scopes, string? refreshToken)
    {
        var services = context.RequestServices;

        // A token request is when a person's directory groups are read again (when due): the admin role
        // their admin group gives is re-evaluated with them, so leaving the group ends it here.
        if (services.GetService<Identity.Ldap.DirectoryGroupRoles>() is { } directory)
        {
            caller = await directory.WithDirectoryAdminAsync(caller, context.RequestAborted).ConfigureAwait(false);
        }

        var granted = await services.GetRequiredService<TokenService>().GrantAsync(caller, scopes, context.RequestAborted).ConfigureAwait(false);
        // Bound to the account's generation, so revoking the account's tokens reaches this one too.
        string? account = await services.GetRequiredService<RefreshTokens>().AccountAsync(caller, context.RequestAborted).ConfigureAwait(false);
        var options = services.GetRequiredService<IdentityOptions>();
        var issued = services.GetRequiredService<RegistryTokens>().Issue(caller.Name, granted, options.TokenLifetime, account);
        context.Response.Headers.CacheControl = "no-store";
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartObject();
        writer.WriteString("token", issued.Token);
        writer.WriteString("access_token", issued.Token);
        writer.WriteNumber("expires_in", issued.ExpiresIn);
        writer.WriteString("issued_at", issued.IssuedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
        if (refreshToken is not null)
        {
            writer.WriteString("refresh_token", refreshToken);
        }

        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    private static Task UnauthorizedAsync(HttpContext context, string message)
    {
        context.Response.Headers.WWWAuthenticate = "Basic realm=\"wharf\"";
        return ErrorAsync(context, StatusCodes.Status401Unauthorized, "UNAUTHORIZED", message);
    }

    private static Task ErrorAsync(HttpContext context, int status, string code, string message) =>
        Api.PipelineErrors.WriteHarborAsync(context, status, code, message);
}
