using System.Globalization;
using System.Text.Json;
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

    private static async Task WriteAsync(HttpContext context, LoginThrottledException e)
    {
        context.Response.Clear();
        string retryAfter = Math.Max(1, (long)Math.Ceiling(e.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        if (context.Request.Path.StartsWithSegments("/v2"))
        {
            await Api.OciErrorWriter.WriteAsync(context, OciErrorCode.TooManyRequests, e.Message, new Dictionary<string, string> { ["Retry-After"] = retryAfter }).ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        context.Response.Headers.RetryAfter = retryAfter;
        context.Response.Headers.CacheControl = "no-store";
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartObject();
        writer.WriteStartArray("errors");
        writer.WriteStartObject();
        writer.WriteString("code", "TOO_MANY_REQUESTS");
        writer.WriteString("message", e.Message);
        writer.WriteEndObject();
        writer.WriteEndArray();
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }
}
