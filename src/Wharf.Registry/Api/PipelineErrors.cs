using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Wharf.Oci;

namespace Wharf.Registry.Api;

/// <summary>
/// Answers made first in the pipeline, before a handler chose an error shape (a throttled password,
/// an unreachable directory, a busy database, a NUL in the request): the distribution spec's error
/// body under <c>/v2</c> (<see cref="OciErrorWriter"/>), Harbor's <c>{"errors":[{"code","message"}]}</c>
/// everywhere else, with <c>Cache-Control: no-store</c>.
/// </summary>
internal static class PipelineErrors
{
    public static async Task WriteAsync(HttpContext context, int status, OciErrorCode registryCode, string harborCode, string message, string? retryAfter = null)
    {
        var response = context.Response;
        response.Clear();
        if (retryAfter is not null)
        {
            response.Headers.RetryAfter = retryAfter;
        }

        if (context.Request.Path.StartsWithSegments("/v2"))
        {
            await OciErrorWriter.WriteAsync(context, registryCode, message, status: status).ConfigureAwait(false);
            return;
        }

        await WriteHarborAsync(context, status, harborCode, message).ConfigureAwait(false);
    }

    /// <summary>Harbor's error body: <c>{"errors":[{"code","message"}]}</c>.</summary>
    public static async Task WriteHarborAsync(HttpContext context, int status, string code, string message)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.Headers.CacheControl = "no-store";
        response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(response.Body);
        writer.WriteStartObject();
        writer.WriteStartArray("errors");
        writer.WriteStartObject();
        writer.WriteString("code", code);
        writer.WriteString("message", message);
        writer.WriteEndObject();
        writer.WriteEndArray();
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }
}
