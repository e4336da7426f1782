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
        long size = await _metadata.GetLinkedBlobSizeAsync(route.Repository, digest, ct).ConfigureAwait(false)
            ?? (_proxy is null ? null : await _proxy.FetchBlobAsync(route.Repository, digest, ct).ConfigureAwait(false))
            ?? throw new OciException(OciErrorCode.BlobUnknown, $"blob {digest} not found in {route.Repository}");

        var request = context.Request;
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
