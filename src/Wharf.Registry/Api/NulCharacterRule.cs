using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Wharf.Registry.Api;

/// <summary>
/// A NUL character in a request's path or query (<c>%00</c>): no name, search term or filter of the
/// registry holds one, PostgreSQL's text cannot hold one at all (a query with it fails there), and
/// SQLite's can. So that both databases give one answer, every such request outside <c>/v2</c> is
/// answered <c>400</c> here, first in the pipeline, before any handler reads a value: Harbor's error
/// body under <c>/api</c>, plain text elsewhere (the portal, the token service). Under <c>/v2</c> the
/// distribution API's own grammar already answers (a repository name, tag or digest holding a NUL
/// is NAME_INVALID, TAG_INVALID or DIGEST_INVALID; <c>last=</c> is cut at its first NUL, which leaves
/// the page the same), so its clients keep the spec's error codes.
/// <para>
/// Bodies are the handlers' to validate; should a NUL still reach PostgreSQL in a statement's
/// parameter (SQLSTATE 22021, "invalid byte sequence"), the request is answered 400 rather than 500.
/// </para>
/// </summary>
internal sealed class NulCharacterRule : IStartupFilter
{
    public const string Message = "the request holds a NUL character (%00), which no name or value of the registry may hold";

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(async (context, nextMiddleware) =>
        {
            var request = context.Request;
            if (!request.Path.StartsWithSegments("/v2") && HoldsNul(request))
            {
                await WriteAsync(context).ConfigureAwait(false);
                return;
            }

            try
            {
                await nextMiddleware(context).ConfigureAwait(false);
            }
            catch (Npgsql.PostgresException e) when (e.SqlState == "22021" && !context.Response.HasStarted)
            {
                await WriteAsync(context).ConfigureAwait(false);
            }
        });
        next(app);
    };

    internal static bool HoldsNul(HttpRequest request)
    {
        if (request.Path.Value?.Contains('\0', StringComparison.Ordinal) == true
            || request.PathBase.Value?.Contains('\0', StringComparison.Ordinal) == true)
        {
            return true;
        }

        foreach (var (key, values) in request.Query)
        {
            if (key.Contains('\0', StringComparison.Ordinal))
            {
                return true;
            }

            foreach (string? value in values)
            {
                if (value?.Contains('\0', StringComparison.Ordinal) == true)
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static async Task WriteAsync(HttpContext context)
    {
        var response = context.Response;
        response.Clear();
        response.StatusCode = StatusCodes.Status400BadRequest;
        response.Headers.CacheControl = "no-store";
        if (context.Request.Path.StartsWithSegments("/v2"))
        {
            await OciErrorWriter.WriteAsync(context, Oci.OciErrorCode.Unsupported, Message, status: StatusCodes.Status400BadRequest).ConfigureAwait(false);
            return;
        }

        if (!context.Request.Path.StartsWithSegments("/api"))
        {
            response.ContentType = "text/plain; charset=utf-8";
            await response.WriteAsync(Message + "\n", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        await PipelineErrors.WriteHarborAsync(context, StatusCodes.Status400BadRequest, "BAD_REQUEST", Message).ConfigureAwait(false);
    }
}
