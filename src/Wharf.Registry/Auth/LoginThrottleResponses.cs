using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Wharf.Oci;
using Wharf.Registry.Identity;

namespace Wharf.Registry.Auth;

/// <summary>
/// Answers a throttled password check (<see cref="LoginThrottledException"/>, thrown by
/// <see cref="CredentialVerifier"/> wherever a password is checked: the token endpoint, Basic on /v2 and on
/// the management API) with <c>429 Too Many Requests</c> and <c>Retry-After</c> (RFC 6585 §4, RFC 9110
/// §10.2.3), in the error shape of the path it came from: the distribution spec's TOOMANYREQUESTS on /v2,
/// Harbor's error body elsewhere. One place, first in the pipeline, so every path answers alike.
/// </summary>
internal sealed class LoginThrottleResponses : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(async (context, nextMiddleware) =>
        {
            try
            {
                await nextMiddleware(context).ConfigureAwait(false);
            }
            catch (LoginThrottledException e) when (!context.Response.HasStarted)
            {
                await WriteAsync(context, e).ConfigureAwait(false);
            }
        });
        next(app);
    };

    private static Task WriteAsync(HttpContext context, LoginThrottledException e)
    {
        string retryAfter = Math.Max(1, (long)Math.Ceiling(e.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return Api.PipelineErrors.WriteAsync(context, StatusCodes.Status429TooManyRequests, OciErrorCode.TooManyRequests, "TOO_MANY_REQUESTS", e.Message, retryAfter);
    }
}
