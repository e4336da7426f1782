using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Wharf.Oci;

namespace Wharf.Registry.Api;

public sealed partial class RegistryApi
{
    private const int DefaultPageSize = 1000;

    // GET /v2/_catalog?n=&last= — "Listing Repositories", filtered to what the caller may pull.
    private async Task CatalogAsync(HttpContext context, RegistryRoute route)
    {
        var ct = context.RequestAborted;
        var (n, last) = ReadPage(context.Request);
        var names = new List<string>();
        bool more = false;
        if (n == 0)
        {
            // The spec's "n=0": an empty page, and no next link (there is no last entry to point from).
            await WriteJsonAsync(context, w =>
            {
                w.WriteStartArray("repositories");
                w.WriteEndArray();
            }).ConfigureAwait(false);
            return;
        }

        string? cursor = last;
        while (names.Count <= n)
        {
            // Fetch a page and filter; bounded by the page size, never a full scan per request
            // unless the caller can see almost nothing.
            int want = Math.Max(n + 1 - names.Count, 1);
            var batch = await _metadata.ListRepositoriesAsync(cursor, want, ct).ConfigureAwait(false);
            foreach (string name in batch)
            {
                if (await _authorizer.CanListAsync(context, RepositoryName.Parse(name), ct).ConfigureAwait(false))
                {
                    names.Add(name);
                }
            }

            if (batch.Count < want)
            {
                break;
            }

            cursor = batch[^1];
        }

        if (names.Count > n)
        {
            names.RemoveRange(n, names.Count - n);
            more = true;
        }

        if (more)
        {
            context.Response.Headers.Link = $"</v2/_catalog?last={Uri.EscapeDataString(names[^1])}&n={n}>; rel=\"next\"";
        }

        await WriteJsonAsync(context, w =>
        {
            w.WriteStartArray("repositories");
            foreach (string name in names)
            {
                w.WriteStringValue(name);
            }

            w.WriteEndArray();
        }).ConfigureAwait(false);
    }

    // GET /v2/<name>/tags/list?n=&last= — "Listing Tags", lexical order.
    private async Task TagListAsync(HttpContext context, RegistryRoute route)
    {
        var ct = context.RequestAborted;
        var (n, last) = ReadPage(context.Request);
        if (!await _metadata.RepositoryExistsAsync(route.Repository, ct).ConfigureAwait(false))
        {
            // Only a caller who may pull in the project gets here (others were answered 401), so saying
            // the repository is missing reveals nothing it could not list itself.
            throw new OciException(OciErrorCode.NameUnknown, null);
        }

        var tags = n == 0 ? [] : await _metadata.ListTagsAsync(route.Repository, last, n + 1, ct).ConfigureAwait(false);
        bool more = tags.Count > n;
        if (more)
        {
            tags = tags.Take(n).ToList();
            context.Response.Headers.Link = $"</v2/{route.Repository}/tags/list?last={Uri.EscapeDataString(tags[^1])}&n={n}>; rel=\"next\"";
        }

        await WriteJsonAsync(context, w =>
        {
            w.WriteString("name", route.Repository.Value);
            w.WriteStartArray("tags");
            foreach (string tag in tags)
            {
                w.WriteStringValue(tag);
            }

            w.WriteEndArray();
        }).ConfigureAwait(false);
    }

    // GET /v2/<name>/referrers/<digest>?artifactType= — "Listing Referrers": always an image index.
    private async Task ReferrersAsync(HttpContext context, RegistryRoute route)
    {
        var ct = context.RequestAborted;
        var subject = ParseDigest(route.Reference);
        string? artifactType = context.Request.Query["artifactType"];
        if (string.IsNullOrEmpty(artifactType))
        {
            artifactType = null;
        }

        var referrers = await _metadata.ListReferrersAsync(route.Repository, subject, artifactType, ct).ConfigureAwait(false);
        if (artifactType is not null)
        {
            context.Response.Headers["OCI-Filters-Applied"] = "artifactType";
        }

        await WriteJsonAsync(context, w =>
        {
            w.WriteNumber("schemaVersion", 2);
            w.WriteString("mediaType", MediaTypes.OciIndex);
            w.WriteStartArray("manifests");
            foreach (var r in referrers)
            {
                w.WriteStartObject();
                w.WriteString("mediaType", r.MediaType);
                w.WriteString("digest", r.Digest.ToString());
                w.WriteNumber("size", r.Size);
                if (r.ArtifactType is not null)
                {
                    w.WriteString("artifactType", r.ArtifactType);
                }

                if (r.AnnotationsJson is not null)
                {
                    w.WritePropertyName("annotations");
                    w.WriteRawValue(r.AnnotationsJson, skipInputValidation: true);
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
        }, MediaTypes.OciIndex).ConfigureAwait(false);
    }

    private (int N, string? Last) ReadPage(HttpRequest request)
    {
        int n = DefaultPageSize;
        if (request.Query.TryGetValue("n", out var nText))
        {
            string text = nText.ToString();
            if (text.Length == 0 || !text.All(char.IsAsciiDigit))
            {
                throw new OciException(OciErrorCode.PaginationNumberInvalid, $"n must be a non-negative integer, not \"{text}\"");
            }

            // A number too large for int is still a number: it asks for everything, which the page cap bounds.
            n = int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int parsed) ? parsed : int.MaxValue;
        }

        n = Math.Min(n, _options.MaxPageSize);
        string? last = request.Query["last"];
        // No repository name or tag holds a NUL, so for the stores' "name > last" everything past the
        // first NUL changes nothing (a name equal to the part before it sorts before last, a longer one
        // after it). Cut there: PostgreSQL's text cannot hold a NUL at all, SQLite's can, and both must
        // answer the same page.
        int nul = last?.IndexOf('\0', StringComparison.Ordinal) ?? -1;
        if (nul >= 0)
        {
            last = last![..nul];
        }

        return (n, string.IsNullOrEmpty(last) ? null : last);
    }

    private static async Task WriteJsonAsync(HttpContext context, Action<Utf8JsonWriter> body, string contentType = "application/json")
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = contentType;
        response.ContentLength = buffer.Length;
        await response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), context.RequestAborted).ConfigureAwait(false);
    }
}
