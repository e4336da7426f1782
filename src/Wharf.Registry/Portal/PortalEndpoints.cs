using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Identity;
using Wharf.Registry.Management;
using Wharf.Registry.Data;

namespace Wharf.Registry.Portal;

/// <summary>
/// The web portal: server-rendered pages at / and under /portal, each a thin view over the services the
/// management API's handlers call, so one rule decides who may do what. Pages read the session cookie
/// (<see cref="PortalSessions"/>), never Basic auth; every POST must carry the anti-forgery token.
/// </summary>
public static class PortalEndpoints
{
    public static IServiceCollection AddWharfPortal(this IServiceCollection services)
    {
        // The anti-forgery keys are kept in the data directory, private like the token signing key, so a
        // page loaded before a restart still posts after it; nothing is written outside the data directory
        // (the default would keep keys under the service account's home).
        services.AddDataProtection().SetApplicationName("wharfd");
        services.AddOptions<Microsoft.AspNetCore.DataProtection.KeyManagement.KeyManagementOptions>()
            .Configure<RegistryOptions>((keys, registry) => keys.XmlRepository = new PortalKeyRepository(Path.Combine(registry.DataDirectory, "portal-keys")));
        services.AddAntiforgery(options =>
        {
            options.Cookie.Name = "wharf_antiforgery";
            options.Cookie.SameSite = SameSiteMode.Strict;
            options.Cookie.SecurePolicy = Microsoft.AspNetCore.Http.CookieSecurePolicy.SameAsRequest;
            options.FormFieldName = "__wharf_form";
        });
        services.AddSingleton<PortalSessions>();
        return services;
    }

    public static IEndpointRouteBuilder MapWharfPortal(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/", Page(ProjectPages.ListAsync));
        endpoints.MapGet("/portal/static/{file}", StaticAsset);
        endpoints.MapGet("/portal/login", Page(AccountPages.LoginFormAsync));
        endpoints.MapPost("/portal/login", Form(AccountPages.LoginAsync));
        endpoints.MapPost("/portal/logout", Form(AccountPages.LogoutAsync));
        endpoints.MapGet("/portal/account", Page(AccountPages.AccountAsync));
        endpoints.MapPost("/portal/account/profile", Form(AccountPages.UpdateProfileAsync));
        endpoints.MapPost("/portal/account/password", Form(AccountPages.ChangePasswordAsync));
        endpoints.MapPost("/portal/projects", Form(ProjectPages.CreateAsync));
        endpoints.MapGet("/portal/projects/{project}", Page(ProjectPages.ShowAsync));
        endpoints.MapPost("/portal/projects/{project}/settings", Form(ProjectPages.UpdateAsync));
        endpoints.MapPost("/portal/projects/{project}/delete", Form(ProjectPages.DeleteAsync));
        endpoints.MapPost("/portal/projects/{project}/members", Form(MemberPages.AddAsync));
        endpoints.MapPost("/portal/projects/{project}/members/{member}/role", Form(MemberPages.SetRoleAsync));
        endpoints.MapPost("/portal/projects/{project}/members/{member}/remove", Form(MemberPages.RemoveAsync));
        endpoints.MapGet("/portal/projects/{project}/repositories/{**repository}", Page(RepositoryPages.ShowAsync));
        endpoints.MapPost("/portal/projects/{project}/tags/delete", Form(RepositoryPages.DeleteTagAsync));
        endpoints.MapPost("/portal/projects/{project}/artifacts/delete", Form(RepositoryPages.DeleteArtifactAsync));
        endpoints.MapPost("/portal/projects/{project}/robots", Form(RobotPages.CreateAsync));
        endpoints.MapGet("/portal/projects/{project}/robots/{robot}", Page(RobotPages.EditFormAsync));
        endpoints.MapPost("/portal/projects/{project}/robots/{robot}", Form(RobotPages.UpdateAsync));
        endpoints.MapPost("/portal/projects/{project}/robots/{robot}/secret", Form(RobotPages.RefreshSecretAsync));
        endpoints.MapPost("/portal/projects/{project}/robots/{robot}/disabled", Form(RobotPages.SetDisabledAsync));
        endpoints.MapPost("/portal/projects/{project}/robots/{robot}/delete", Form(RobotPages.DeleteAsync));
        endpoints.MapGet("/portal/projects/{project}/logs", Page(ProjectPages.LogsAsync));
        endpoints.MapGet("/portal/projects/{project}/policies", Page(PolicyPages.ShowAsync));
        endpoints.MapPost("/portal/projects/{project}/policies/retention/rules", Form(RetentionPages.AddRuleAsync));
        endpoints.MapPost("/portal/projects/{project}/policies/retention/rules/{rule}", Form(RetentionPages.UpdateRuleAsync));
        endpoints.MapPost("/portal/projects/{project}/policies/retention/rules/{rule}/delete", Form(RetentionPages.RemoveRuleAsync));
        endpoints.MapPost("/portal/projects/{project}/policies/retention/schedule", Form(RetentionPages.ScheduleAsync));
        endpoints.MapPost("/portal/projects/{project}/policies/retention/run", Form(RetentionPages.RunAsync));
        endpoints.MapGet("/portal/projects/{project}/policies/retention/executions/{execution}", Page(RetentionPages.ExecutionAsync));
        endpoints.MapPost("/portal/projects/{project}/policies/retention/executions/{execution}/stop", Form(RetentionPages.StopAsync));
        endpoints.MapPost("/portal/projects/{project}/policies/immutable", Form(ImmutableTagPages.AddAsync));
        endpoints.MapPost("/portal/projects/{project}/policies/immutable/{rule}/delete", Form(ImmutableTagPages.DeleteAsync));
        endpoints.MapPost("/portal/projects/{project}/policies/webhooks", Form(WebhookPages.AddAsync));
        endpoints.MapPost("/portal/projects/{project}/policies/webhooks/{policy}/enabled", Form(WebhookPages.SetEnabledAsync));
        endpoints.MapPost("/portal/projects/{project}/policies/webhooks/{policy}/delete", Form(WebhookPages.DeleteAsync));
        endpoints.MapGet("/portal/admin/users", Page(AdminPages.UsersAsync));
        endpoints.MapPost("/portal/admin/users", Form(AdminPages.CreateUserAsync));
        endpoints.MapPost("/portal/admin/users/{user}/disabled", Form(AdminPages.SetDisabledAsync));
        endpoints.MapPost("/portal/admin/users/{user}/admin", Form(AdminPages.SetSysAdminAsync));
        endpoints.MapPost("/portal/admin/users/{user}/password", Form(AdminPages.ResetPasswordAsync));
        endpoints.MapPost("/portal/admin/users/{user}/delete", Form(AdminPages.DeleteUserAsync));
        endpoints.MapGet("/portal/admin/gc", Page(AdminPages.GcAsync));
        endpoints.MapPost("/portal/admin/gc", Form(AdminPages.RunGcAsync));
        endpoints.MapGet("/portal/admin/audit", Page(AdminPages.AuditAsync));
        endpoints.MapGet("/portal/admin/directory", Page(DirectoryPages.ShowAsync));
        endpoints.MapPost("/portal/admin/directory", Form(DirectoryPages.TestAsync));
        return endpoints;
    }

    /// <summary>A GET page: the session's caller, and service errors shown as an error page with their status.</summary>
    private static RequestDelegate Page(Func<PortalPage, Task<IResult>> handler) => async context =>
    {
        var caller = await context.RequestServices.GetRequiredService<PortalSessions>().CallerAsync(context, context.RequestAborted).ConfigureAwait(false);
        var page = new PortalPage(context, caller);
        IResult result;
        try
        {
            result = await handler(page).ConfigureAwait(false);
        }
        catch (ApiException e) when (e.Status == StatusCodes.Status401Unauthorized && caller.IsAnonymous)
        {
            result = Results.Redirect("/portal/login?return=" + Uri.EscapeDataString(context.Request.Path + context.Request.QueryString));
        }
        catch (ApiException e)
        {
            result = page.Error(e);
        }

        await result.ExecuteAsync(context).ConfigureAwait(false);
    };

    /// <summary>A form post: refused with 400 unless its anti-forgery token matches the cookie; then as <see cref="Page"/>.</summary>
    private static RequestDelegate Form(Func<PortalPage, IFormCollection, Task<IResult>> handler) => async context =>
    {
        var caller = await context.RequestServices.GetRequiredService<PortalSessions>().CallerAsync(context, context.RequestAborted).ConfigureAwait(false);
        var page = new PortalPage(context, caller);
        IResult result;
        try
        {
            if (!context.Request.HasFormContentType)
            {
                throw ApiException.BadRequest("a form was expected");
            }

            try
            {
                await context.RequestServices.GetRequiredService<IAntiforgery>().ValidateRequestAsync(context).ConfigureAwait(false);
            }
            catch (AntiforgeryValidationException)
            {
                throw ApiException.BadRequest("the form was not sent by this site or has expired; reload the page and try again");
            }

            var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
            result = await handler(page, form).ConfigureAwait(false);
        }
        catch (ApiException e)
        {
            result = page.Error(e);
        }

        await result.ExecuteAsync(context).ConfigureAwait(false);
    };

    private static async Task StaticAsset(HttpContext context)
    {
        string file = context.Request.RouteValues["file"] as string ?? "";
        string? contentType = file switch
        {
            "portal.css" => "text/css; charset=utf-8",
            "portal.js" => "text/javascript; charset=utf-8",
            _ => null,
        };
        await using var stream = contentType is null ? null : typeof(PortalEndpoints).Assembly.GetManifestResourceStream("Wharf.Registry.Portal." + file);
        if (stream is null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        context.Response.ContentType = contentType;
        context.Response.ContentLength = stream.Length;
        context.Response.Headers.CacheControl = "public, max-age=3600";
        await stream.CopyToAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>A form field, trimmed; empty when missing.</summary>
    public static string Field(this IFormCollection form, string name) => form[name].ToString().Trim();
}
