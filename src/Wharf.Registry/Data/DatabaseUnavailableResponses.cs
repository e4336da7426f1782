using System.Data.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Wharf.Oci;

namespace Wharf.Registry.Data;

/// <summary>
/// A request the database could not take now (<see cref="Sql.IsUnavailable"/>: busy, out of
/// connections, restarting, not answering) is answered <c>503 Service Unavailable</c> with
/// <c>Retry-After</c>, in the path's error shape, instead of a 500: the request was fine, nothing of it
/// was kept, and clients (podman, skopeo, a load balancer) retry a 503 but report a 500 as a server
/// bug. First in the pipeline, so every path answers alike; the operator sees a warning with the cause.
/// </summary>
internal sealed partial class DatabaseUnavailableResponses : IStartupFilter
{
    public const string RetryAfterSeconds = "5";

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        var logger = app.ApplicationServices.GetRequiredService<ILogger<DatabaseUnavailableResponses>>();
        app.Use(async (context, nextMiddleware) =>
        {
            try
            {
                await nextMiddleware(context).ConfigureAwait(false);
            }
            catch (DbException e) when (Sql.IsUnavailable(e) && !context.Response.HasStarted)
            {
                LogUnavailable(logger, context.Request.Method, context.Request.Path.Value ?? "", e.Message);
                await Api.PipelineErrors.WriteAsync(
                    context,
                    StatusCodes.Status503ServiceUnavailable,
                    OciErrorCode.Unavailable,
                    "SERVICE_UNAVAILABLE",
                    "the registry's database cannot take the request now (" + e.Message + "); nothing was changed, try again",
                    RetryAfterSeconds).ConfigureAwait(false);
            }
        });
        next(app);
    };

    [LoggerMessage(EventId = 1210, Level = LogLevel.Warning, Message = "{Method} {Path} answered 503: the database cannot take it now: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string method, string path, string reason);
}
