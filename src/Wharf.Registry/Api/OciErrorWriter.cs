using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Wharf.Oci;

namespace Wharf.Registry.Api;

/// <summary>The one place that writes the spec's error body: <c>{"errors":[{"code","message","detail"}]}</c>.</summary>
public static class OciErrorWriter
{
    public static async Task WriteAsync(HttpContext context, OciErrorCode code, string? detail, IDictionary<string, string>? headers = null, int? status = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        var info = code.Info();
        var response = context.Response;
        if (response.HasStarted)
        {
            return;
        }

        response.StatusCode = status ?? (int)info.Status;
        response.Headers.ContentType = "application/json; charset=utf-8";
        if (headers is not null)
        {
            foreach (var (k, v) in headers)
            {
                response.Headers[k] = v;
            }
        }

        if (HttpMethods.IsHead(context.Request.Method))
        {
            // HEAD answers carry no body (RFC 9110 9.3.2); the status says it.
            return;
        }

        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartArray("errors");
            w.WriteStartObject();
            w.WriteString("code", info.Value);
            // Clients print only the message (podman: "denied: <message>"), so the specific
            // reason goes there; the detail repeats it for tools that read the spec's field.
            w.WriteString("message", detail ?? info.Message);
            if (detail is not null)
            {
                w.WriteString("detail", detail);
            }

            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }

        response.ContentLength = buffer.Length;
        await response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), context.RequestAborted).ConfigureAwait(false);
    }
}
