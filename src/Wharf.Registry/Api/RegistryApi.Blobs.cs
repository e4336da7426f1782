using Microsoft.AspNetCore.Http;
using Wharf.Oci;

namespace Wharf.Registry.Api;

public sealed partial class RegistryApi
{
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

        // Range only means something for GET (RFC 9110 14.2); a HEAD says what a plain GET would send.
        var range = HttpMethods.IsHead(request.Method)
            ? new BlobRange(BlobRangeKind.Whole, 0, size)
            : BlobRange.Evaluate(request.Headers.Range, request.Headers.IfRange, etag, size);
        switch (range.Kind)
        {
            case BlobRangeKind.Unsatisfiable:
                var e = new OciException(OciErrorCode.RangeInvalid, $"range {request.Headers.Range} cannot be satisfied for {size} bytes");
                e.Headers["Content-Range"] = range.ContentRange(size);
                throw e;
            case BlobRangeKind.Partial:
                response.StatusCode = StatusCodes.Status206PartialContent;
                response.Headers.ContentRange = range.ContentRange(size);
                break;
            default:
                response.StatusCode = StatusCodes.Status200OK;
                break;
        }

        response.ContentLength = range.Length;
        if (HttpMethods.IsHead(request.Method) || range.Length == 0)
        {
            return;
        }

        if (arriving is not null)
        {
            // A proxy cache's miss, never a range (see above): the whole blob as it arrives upstream.
            await BlobSender.SendArrivingAsync(context, arriving, range.Length, _metrics, ct).ConfigureAwait(false);
            return;
        }

        await BlobSender.SendAsync(context, _blobs, digest, range.Offset, range.Length, _metrics, ct).ConfigureAwait(false);
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
}
