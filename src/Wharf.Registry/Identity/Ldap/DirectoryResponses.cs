using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wharf.Oci;

namespace Wharf.Registry.Identity.Ldap;

/// <summary>
/// A password check the directory could not answer fails closed, and says so: <c>503 Service
/// Unavailable</c> with "directory unavailable: …" in the path's error shape (UNAVAILABLE on /v2, Harbor's
/// body elsewhere), so a person sees that the directory is down rather than that their password is wrong.
/// </summary>
internal sealed class DirectoryResponses : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(async (context, nextMiddleware) =>
        {
            try
            {
                await nextMiddleware(context).ConfigureAwait(false);
            }
            catch (DirectoryUnavailableException e) when (!context.Response.HasStarted)
            {
                await WriteAsync(context, "directory unavailable, password logins are refused until it answers: " + e.Message).ConfigureAwait(false);
            }
        });
        next(app);
    };

    private static Task WriteAsync(HttpContext context, string message) =>
        Api.PipelineErrors.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, OciErrorCode.Unavailable, "SERVICE_UNAVAILABLE", message, retryAfter: "30");
}

/// <summary>
/// Checks the authentication settings when wharfd starts. Settings that make no sense stop the start with
/// the reason; in ldap_auth mode the directory is then tried (connect, service account, base DN, a user
/// matching the filter) and what is wrong is logged as an error, but the registry still starts: robots,
/// the local admin and cached group memberships work without the directory.
/// </summary>
internal sealed partial class DirectoryStartupCheck(AuthConfiguration configuration, LdapDirectory directory, ILogger<DirectoryStartupCheck> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        LdapSettings settings;
        try
        {
            settings = await configuration.GetAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (FormatException e)
        {
            throw new InvalidOperationException($"the authentication settings are invalid: {e.Message}", e);
        }

        if (!settings.IsLdap)
        {
            return;
        }

        string? problem;
        try
        {
            problem = await directory.PingAsync(settings, cancellationToken).ConfigureAwait(false);
        }
        catch (DirectoryUnavailableException e)
        {
            problem = e.Message;
        }

        if (problem is null)
        {
            LogReady(logger, settings.Url!);
        }
        else
        {
            LogProblem(logger, settings.Url!, problem);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 4134, Level = LogLevel.Information, Message = "LDAP directory {Url} answers")]
    private static partial void LogReady(ILogger logger, string url);

    [LoggerMessage(EventId = 4133, Level = LogLevel.Error, Message = "LDAP directory {Url} is not usable: {Problem}. Directory logins fail until this is fixed")]
    private static partial void LogProblem(ILogger logger, string url, string problem);
}
