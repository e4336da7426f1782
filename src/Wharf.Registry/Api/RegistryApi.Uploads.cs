using Microsoft.AspNetCore.Http;
using Wharf.Oci;
using Wharf.Registry.Auth;
using Wharf.Registry.Metadata;
using Wharf.Registry.Storage;

namespace Wharf.Registry.Api;

public sealed partial class RegistryApi
{
    // POST /v2/<name>/blobs/uploads/ — "Pushing blobs": mount, monolithic (?digest=), or open a session.
    private async Task StartUploadAsync(HttpContext context, RegistryRoute route)
    {
        var ct = context.RequestAborted;
        var query = context.Request.Query;
        var repo = route.Repository;

        if (query.TryGetValue("mount", out var mountValue))
        {
            var digest = ParseDigest(mountValue.ToString());
            var from = await MountSourceAsync(context, repo, digest, query["from"].ToString(), ct).ConfigureAwait(false);
            long? limit = await _quotas.GetLimitAsync(repo.Project, ct).ConfigureAwait(false);
            if (from is { } source && await _metadata.MountBlobAsync(repo, source, digest, limit, ct).ConfigureAwait(false))
            {
                Log.BlobMounted(_logger, digest, repo, source);
                _metrics.BlobsMounted.Inc();
                BlobCreated(context.Response, repo, digest);
                return;
            }

            // Not mountable: the spec says to fall back to an upload session (202).
        }

        // The row before the file: a full disk may refuse either, and a file must never be left
        // without the row that lets the janitor find it (UploadSessions.StartAsync).
        BlobUpload upload;
        try
        {
            upload = await _uploads.StartAsync(repo, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (StorageFull.IsOutOfSpace(e))
        {
            throw StorageFull.Error(e);
        }

        if (query.TryGetValue("digest", out var digestValue) && !query.ContainsKey("mount"))
        {
            // Monolithic upload in one request (POST with ?digest= and the body).
            var digest = ParseDigest(digestValue.ToString());
            LiftBodyLimit(context);
            try
            {
                await RefuseOverQuotaAsync(repo, digest, context.Request.ContentLength, ct).ConfigureAwait(false);
                using (var gate = await _uploads.EnterAsync(upload.Id, ct).ConfigureAwait(false))
                {
                    await upload.AppendAsync(context.Request.Body, gate.Token, acknowledge: false).ConfigureAwait(false);
                    await CommitAsync(context, upload, digest, ct).ConfigureAwait(false);
                }
            }
            catch (Exception e)
            {
                await upload.CancelAsync().ConfigureAwait(false);
                if (StorageFull.IsOutOfSpace(e))
                {
                    throw StorageFull.Error(e);
                }

                throw;
            }

            return;
        }

        var response = context.Response;
        response.StatusCode = StatusCodes.Status202Accepted;
        SetUploadHeaders(response, repo, upload.Id, 0);
        if (_options.ChunkMinLength > 0)
        {
            response.Headers["OCI-Chunk-Min-Length"] = _options.ChunkMinLength.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    // PATCH /v2/<name>/blobs/uploads/<id> — a chunk, in order (Content-Range start must equal the size so far).
    private async Task PatchUploadAsync(HttpContext context, RegistryRoute route)
    {
        var ct = context.RequestAborted;
        var upload = await RequireUploadAsync(route, ct).ConfigureAwait(false);
        using var gate = await EnterAsync(upload, route, ct).ConfigureAwait(false);
        try
        {
            // Read again inside the gate: the chunk before this one may have just been recorded.
            upload = await RequireUploadAsync(route, ct).ConfigureAwait(false);
            CheckContentRange(context.Request, route.Repository, upload.Id, upload.Offset);
            if (context.Request.ContentLength is { } length)
            {
                // The chunk's length is known: a chunk that cannot fit is refused before it is written.
                await RefuseOverQuotaAsync(route.Repository, null, upload.Offset + length, ct).ConfigureAwait(false);
            }

            LiftBodyLimit(context);
            long size = await upload.AppendAsync(context.Request.Body, gate.Token).ConfigureAwait(false);
            context.Response.StatusCode = StatusCodes.Status202Accepted;
            SetUploadHeaders(context.Response, route.Repository, upload.Id, size);
        }
        catch (OperationCanceledException) when (gate.SessionCancelled && !ct.IsCancellationRequested)
        {
            // A DELETE cancelled the session while this chunk was streaming: the session is gone.
            throw UploadCancelled(route, upload.Id);
        }
        catch (OciException e) when (e.Code == OciErrorCode.Denied)
        {
            await AbandonAsync(upload, gate).ConfigureAwait(false);
            throw;
        }
        catch (Exception e) when (StorageFull.IsOutOfSpace(e))
        {
            await AbandonAsync(upload, gate).ConfigureAwait(false);
            throw StorageFull.Error(e);
        }
    }

    // PUT /v2/<name>/blobs/uploads/<id>?digest= — closes the session, with an optional last chunk.
    private async Task PutUploadAsync(HttpContext context, RegistryRoute route)
    {
        var ct = context.RequestAborted;
        var upload = await RequireUploadAsync(route, ct).ConfigureAwait(false);
        string? digestText = context.Request.Query["digest"];
        if (string.IsNullOrEmpty(digestText))
        {
            throw new OciException(OciErrorCode.DigestInvalid, "the digest query parameter is required to close an upload");
        }

        var digest = ParseDigest(digestText);
        using var gate = await EnterAsync(upload, route, ct).ConfigureAwait(false);
        try
        {
            upload = await RequireUploadAsync(route, ct).ConfigureAwait(false);
            var request = context.Request;
            if (request.ContentLength is > 0 || request.Headers.TransferEncoding.Count > 0)
            {
                CheckContentRange(request, route.Repository, upload.Id, upload.Offset);
                LiftBodyLimit(context);
                await upload.AppendAsync(request.Body, gate.Token, acknowledge: false).ConfigureAwait(false);
            }

            await CommitAsync(context, upload, digest, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (gate.SessionCancelled && !ct.IsCancellationRequested)
        {
            throw UploadCancelled(route, upload.Id);
        }
        catch (OciException e) when (e.Code is OciErrorCode.DigestInvalid or OciErrorCode.SizeInvalid or OciErrorCode.Denied)
        {
            // The content is wrong, or more than the project may store: nothing of it is kept, and the session is over.
            await AbandonAsync(upload, gate).ConfigureAwait(false);
            throw;
        }
        catch (Exception e) when (StorageFull.IsOutOfSpace(e))
        {
            await AbandonAsync(upload, gate).ConfigureAwait(false);
            throw StorageFull.Error(e);
        }
    }

    // GET /v2/<name>/blobs/uploads/<id> — upload status (204 with Range).
    private async Task GetUploadAsync(HttpContext context, RegistryRoute route)
    {
        var upload = await RequireUploadAsync(route, context.RequestAborted).ConfigureAwait(false);
        context.Response.StatusCode = StatusCodes.Status204NoContent;
        SetUploadHeaders(context.Response, route.Repository, upload.Id, upload.Offset);
    }

    // DELETE /v2/<name>/blobs/uploads/<id> — cancel. A chunk still streaming into the session is
    // stopped (its PATCH answers BLOB_UPLOAD_UNKNOWN), then the data goes once nothing writes to it.
    private async Task DeleteUploadAsync(HttpContext context, RegistryRoute route)
    {
        var upload = await RequireUploadAsync(route, context.RequestAborted).ConfigureAwait(false);
        await upload.CancelAsync().ConfigureAwait(false);
        context.Response.StatusCode = StatusCodes.Status204NoContent;
        context.Response.ContentLength = 0;
    }

    private async Task CommitAsync(HttpContext context, BlobUpload upload, Digest digest, CancellationToken ct)
    {
        if (context.Request.Query.TryGetValue("size", out var sizeText)
            && long.TryParse(sizeText, out long claimed)
            && claimed != upload.Offset)
        {
            throw new OciException(OciErrorCode.SizeInvalid, $"upload has {upload.Offset} bytes, not {claimed}");
        }

        // Refused before the rename when it cannot fit; the link checks again inside its
        // transaction, which is what holds against concurrent pushes to the same project.
        long? limit = await RefuseOverQuotaAsync(upload.Repository, digest, upload.Offset, ct).ConfigureAwait(false);
        long size = await upload.CommitAsync(digest, limit, ct).ConfigureAwait(false);
        Log.BlobCommitted(_logger, digest, upload.Repository, size);
        _metrics.BlobBytesReceived.Inc(size);
        BlobCreated(context.Response, upload.Repository, digest);
    }

    /// <summary>Enters the session's gate; a session cancelled meanwhile is unknown.</summary>
    private async Task<UploadSessions.GateLease> EnterAsync(BlobUpload upload, RegistryRoute route, CancellationToken ct)
    {
        try
        {
            return await _uploads.EnterAsync(upload.Id, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw UploadCancelled(route, upload.Id);
        }
    }

    /// <summary>Ends a session that failed (inside its gate: the cancel waits for the gate, so leave it first).</summary>
    private static async Task AbandonAsync(BlobUpload upload, UploadSessions.GateLease gate)
    {
        gate.Dispose();
        await upload.CancelAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// DENIED ("quota exceeded") when storing <paramref name="bytes"/> more (of <paramref name="digest"/>,
    /// unless the project already holds it) would take the project over its limit. Returns the limit.
    /// </summary>
    private async Task<long?> RefuseOverQuotaAsync(RepositoryName repo, Digest? digest, long? bytes, CancellationToken ct)
    {
        long? limit = await _quotas.GetLimitAsync(repo.Project, ct).ConfigureAwait(false);
        if (limit is not { } max || bytes is not { } needed || needed <= 0)
        {
            return limit;
        }

        if (digest is { } d && await _metadata.ProjectHoldsAsync(repo.Project, d, ct).ConfigureAwait(false))
        {
            return limit;
        }

        long used = await _metadata.GetProjectUsageAsync(repo.Project, ct).ConfigureAwait(false);
        if (used + needed > max)
        {
            throw SqliteMetadataStore.QuotaExceeded(repo.Project, used, max, needed);
        }

        return limit;
    }

    private static OciException UploadCancelled(RegistryRoute route, string id) =>
        new(OciErrorCode.BlobUploadUnknown, $"upload {id} in {route.Repository} was cancelled");

    /// <summary>The session must exist and belong to this repository; ids are ours, so anything else is unknown.</summary>
    private async Task<BlobUpload> RequireUploadAsync(RegistryRoute route, CancellationToken ct)
    {
        string id = route.Reference!;
        if (id.Length != 32 || !id.All(char.IsAsciiHexDigitLower))
        {
            throw new OciException(OciErrorCode.BlobUploadUnknown, "upload id is not one this registry issued");
        }

        return await _uploads.FindAsync(route.Repository, id, ct).ConfigureAwait(false)
            ?? throw new OciException(OciErrorCode.BlobUploadUnknown, $"upload {id} not found in {route.Repository}");
    }

    /// <summary>
    /// Chunks must arrive in order: a Content-Range that does not start where the upload ends is
    /// refused with 416 and the current Range, so the client can resume (spec, "Pushing a blob in chunks").
    /// </summary>
    private static void CheckContentRange(HttpRequest request, RepositoryName repo, string id, long size)
    {
        string? header = request.Headers.ContentRange;
        if (string.IsNullOrEmpty(header))
        {
            return;
        }

        var spec = header.AsSpan().Trim();
        if (spec.StartsWith("bytes ", StringComparison.OrdinalIgnoreCase))
        {
            spec = spec[6..];
        }

        int slash = spec.IndexOf('/');
        if (slash >= 0)
        {
            spec = spec[..slash];
        }

        int dash = spec.IndexOf('-');
        bool ok = dash > 0
            && long.TryParse(spec[..dash], out long start)
            && long.TryParse(spec[(dash + 1)..], out long end)
            && start == size && end >= start
            && (request.ContentLength is null || request.ContentLength == end - start + 1);
        if (!ok)
        {
            var e = new OciException(OciErrorCode.RangeInvalid, $"chunk {header} does not continue the upload at byte {size}");
            e.Headers["Location"] = UploadLocation(repo, id);
            e.Headers["Range"] = RangeHeader(size);
            e.Headers[UploadUuidHeader] = id;
            throw e;
        }
    }

    private async Task<RepositoryName?> MountSourceAsync(HttpContext context, RepositoryName repo, Digest digest, string from, CancellationToken ct)
    {
        RepositoryName source;
        if (string.IsNullOrEmpty(from))
        {
            // OCI 1.1 automatic mount: only from repositories of the same project, so knowing a
            // digest never grants content across projects.
            var found = await _metadata.FindBlobInProjectAsync(repo.Project, digest, ct).ConfigureAwait(false);
            if (found is null)
            {
                return null;
            }

            source = found.Value;
        }
        else if (!RepositoryName.TryParse(from, out source, out var error))
        {
            throw new OciException(OciErrorCode.NameInvalid, error);
        }

        var auth = await _authorizer.AuthorizeAsync(context, AccessScope.Repository(source, AccessScope.Pull), ct).ConfigureAwait(false);
        return auth.Kind == AuthorizationKind.Allowed ? source : null;
    }

    private static void BlobCreated(HttpResponse response, RepositoryName repo, Digest digest)
    {
        response.StatusCode = StatusCodes.Status201Created;
        response.Headers.Location = $"/v2/{repo}/blobs/{digest}";
        response.Headers[ContentDigestHeader] = digest.ToString();
        response.ContentLength = 0;
    }

    private static void SetUploadHeaders(HttpResponse response, RepositoryName repo, string id, long size)
    {
        response.Headers.Location = UploadLocation(repo, id);
        response.Headers["Range"] = RangeHeader(size);
        response.Headers[UploadUuidHeader] = id;
        response.ContentLength = 0;
    }

    private static string UploadLocation(RepositoryName repo, string id) => $"/v2/{repo}/blobs/uploads/{id}";

    /// <summary>One session's chunk lock, and the signal a DELETE gives a chunk still streaming into it.</summary>
    // Range: 0-<last byte>; with nothing received distribution answers 0-0, and clients expect it.
    private static string RangeHeader(long size) => size == 0 ? "0-0" : $"0-{size - 1}";
}
