using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Wharf.Registry.Metrics;

/// <summary>
/// Counts and times every request by its route template (never its path, so a registry with a
/// million repositories still has a few dozen series), and derives the auth series from the answers:
/// a 200 from the token endpoint is a token issued, a 401 anywhere an authentication failure.
/// </summary>
public static class HttpMetrics
{
    private const string RouteItem = "wharf.metrics-route";

    /// <summary>For dispatchers that route below one endpoint (the /v2 API): the template the request matched.</summary>
    public static void SetRoute(HttpContext context, string template)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Items[RouteItem] = template;
    }

    internal static Func<RequestDelegate, RequestDelegate> Middleware(RegistryMetrics metrics) => next => async context =>
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            Record(metrics, context, Stopwatch.GetElapsedTime(start));
        }
    };

    private static void Record(RegistryMetrics metrics, HttpContext context, TimeSpan elapsed)
    {
        string route = context.Items[RouteItem] as string
            ?? (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText
            ?? "unmatched";
        string method = context.Request.Method switch
        {
            "GET" or "HEAD" or "POST" or "PUT" or "PATCH" or "DELETE" or "OPTIONS" => context.Request.Method,
            _ => "other",
        };
        int status = context.Response.StatusCode;
        metrics.Requests.WithLabels(route, method, status.ToString(CultureInfo.InvariantCulture)).Inc();
        metrics.RequestDuration.WithLabels(route, method).Observe(elapsed.TotalSeconds);
        if (context.Request.ContentLength is > 0 and long received)
        {
            metrics.BytesReceived.WithLabels(route).Inc(received);
        }

        if (context.Response.ContentLength is > 0 and long sent && !HttpMethods.IsHead(context.Request.Method))
        {
            metrics.BytesSent.WithLabels(route).Inc(sent);
        }

        if (status == StatusCodes.Status401Unauthorized)
        {
            metrics.AuthFailures.WithLabels(route).Inc();
        }
        else if (status == StatusCodes.Status200OK && route == Auth.TokenEndpoints.Path)
        {
            metrics.TokensIssued.Inc();
        }
    }
}
