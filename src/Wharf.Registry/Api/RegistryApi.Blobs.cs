using System.Buffers;
using Microsoft.AspNetCore.Http;
using Wharf.Oci;

namespace Wharf.Registry.Api;

public sealed partial class RegistryApi
{
    private const int CopyBufferSize = 1024 * 1024;

    // GET/HEAD /v2/<name>/blobs/<digest> — "Pulling blobs", with single byte ranges (RFC 9110 14.2).
    private async Task GetBlobAsync(HttpContext context, RegistryRoute route)
    {
        var ct = context.RequestAborted;
        var digest = ParseDigest(route.Reference);
        var request = context.Request;
        long? linked = await _metadata.GetLinkedBlobSizeAsync(route.Repository, digest, ct).ConfigureAwait(false);
        // A proxy cache's miss is answered while it downloads (a range request waits until it is stored).
        var proxied = linked is null && _proxy is not null
            ? await _proxy.OpenBlobAsync(route.Repository, digest, streaming: request.Headers.Range.Count == 0, ct).ConfigureAwait(false)
            : null;
        await using var arriving = proxied?.Body;
        long size = linked ?? proxied?.Size
            ?? throw new OciException(OciErrorCode.BlobUnknown, $"blob {digest} not found in {route.Repository}");

        var response = context.Response;
        string etag = "\"" + digest + "\"";
        response.Headers[ContentDigestHeader] = digest.ToString();
        response.Headers.ETag = etag;
        response.Headers.AcceptRanges = "bytes";
        response.Headers.CacheControl = "max-age=31536000";
        response.ContentType = "application/octet-stream";
        if (request.Headers.IfNoneMatch.Contains(etag))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        long offset = 0;
        long length = size;
        if (request.Headers.Range.Count > 0 && !HttpMethods.IsHead(request.Method))
        {
            if (!TryParseRange(request.Headers.Range.ToString(), size, out offset, out length))
            {
                var e = new OciException(OciErrorCode.RangeInvalid, $"range {request.Headers.Range} cannot be satisfied for {size} bytes");
                e.Headers["Content-Range"] = $"bytes */{size}";
                throw e;
            }

            response.StatusCode = StatusCodes.Status206PartialContent;
            response.Headers.ContentRange = $"bytes {offset}-{offset + length - 1}/{size}";
        }
        else
        {
            response.StatusCode = StatusCodes.Status200OK;
        }

        response.ContentLength = length;
        if (HttpMethods.IsHead(request.Method) || length == 0)
        {
            return;
        }

        // A pooled 1 MiB copy: measured faster here than Kestrel's SendFileAsync, which copies
        // through smaller buffers (Kestrel has no zero-copy sendfile).
        if (arriving is not null)
        {
            // Never a range here (see above): the whole blob, as it arrives from the upstream.
            await CopyAsync(arriving, response.Body, length, ct).ConfigureAwait(false);
            return;
        }

        await using var stream = _blobs.OpenRead(digest);
        stream.Seek(offset, SeekOrigin.Begin);
        await CopyAsync(stream, response.Body, length, ct).ConfigureAwait(false);
    }

    // DELETE /v2/<name>/blobs/<digest> — unlinks it from the repository; GC removes unreferenced content.
    private async Task DeleteBlobAsync(HttpContext context, RegistryRoute route)
    {
        var digest = ParseDigest(route.Reference);
        if (!await _metadata.UnlinkBlobAsync(route.Repository, digest, context.RequestAborted).ConfigureAwait(false))
        {
            throw new OciException(OciErrorCode.BlobUnknown, $"blob {digest} not found in {route.Repository}");
        }

        _events.Publish(context, new RegistryEvent(RegistryEventKind.BlobDeleted, route.Repository, digest, digest));
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        context.Response.ContentLength = 0;
    }

    /// <summary>One range: <c>bytes=a-b</c>, <c>bytes=a-</c> or <c>bytes=-n</c>.</summary>
    internal static bool TryParseRange(string header, long size, out long offset, out long length)
    {
        offset = 0;
        length = 0;
        if (!header.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase) || header.Contains(',', StringComparison.Ordinal))
        {
            return false;
        }

        var spec = header.AsSpan(6).Trim();
        int dash = spec.IndexOf('-');
        if (dash < 0)
        {
            return false;
        }

        var first = spec[..dash];
        var last = spec[(dash + 1)..];
        if (first.IsEmpty)
        {
            if (!long.TryParse(last, out long suffix) || suffix <= 0 || size == 0)
            {
                return false;
            }

            offset = Math.Max(0, size - suffix);
            length = size - offset;
            return true;
        }

        if (!long.TryParse(first, out long start) || start < 0 || start >= size)
        {
            return false;
        }

        long end = size - 1;
        if (!last.IsEmpty)
        {
            if (!long.TryParse(last, out end) || end < start)
            {
                return false;
            }

            end = Math.Min(end, size - 1);
        }

        offset = start;
        length = end - start + 1;
        return true;
    }

    private static async Task CopyAsync(Stream source, Stream destination, long count, CancellationToken ct)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            while (count > 0)
            {
                int n = await source.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, count)), ct).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                await destination.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                count -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
