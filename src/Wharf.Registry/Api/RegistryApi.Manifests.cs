using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using Wharf.Oci;
using Wharf.Registry.Metadata;

namespace Wharf.Registry.Api;

public sealed partial class RegistryApi
{
    // GET/HEAD /v2/<name>/manifests/<reference> — distribution spec "Pulling manifests".
    private async Task GetManifestAsync(HttpContext context, RegistryRoute route)
    {
        var ct = context.RequestAborted;
        string repo = route.Repository.Value;

        // A reference that is neither a tag nor a digest names no manifest: the spec's "not found"
        // (a MUST for GET/HEAD), not a 400; only a push to such a tag is TAG_INVALID.
        var reference = ManifestReference.TryParse(route.Reference, out var parsedReference, out _)
            ? parsedReference : await NotFoundAsync<ManifestReference>(route.Reference!).ConfigureAwait(false);
        var manifest = _cache.Get(repo, reference.ToString());
        if (manifest is null)
        {
            long generation = _cache.Generation(repo);
            manifest = await _metadata.GetManifestAsync(route.Repository, reference, ct).ConfigureAwait(false);
            if (manifest is not null)
            {
                _cache.Set(repo, reference.ToString(), manifest, generation);
            }
        }

        if (_proxy is not null)
        {
            // A proxy-cache project fetches a miss upstream and re-checks a cached tag now and then.
            manifest = await _proxy.GetManifestAsync(route.Repository, reference, manifest, ct).ConfigureAwait(false);
        }

        manifest ??= await NotFoundAsync<StoredManifest>(reference.ToString()).ConfigureAwait(false);

        CheckAcceptable(context.Request, manifest.MediaType);

        var response = context.Response;
        string etag = "\"" + manifest.Digest + "\"";
        response.Headers[ContentDigestHeader] = manifest.Digest.ToString();
        response.Headers.ETag = etag;
        if (context.Request.Headers.IfNoneMatch.Contains(etag))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = manifest.MediaType;
        response.ContentLength = manifest.Content.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await response.Body.WriteAsync(manifest.Content, ct).ConfigureAwait(false);
            _events.Publish(context, new RegistryEvent(RegistryEventKind.ManifestPulled, route.Repository, reference, manifest.Digest));
        }

        // Never returns: throws the not-found answer (typed so it can stand on the right of ??).
        async Task<T> NotFoundAsync<T>(string what)
        {
            if (!await _metadata.RepositoryExistsAsync(route.Repository, ct).ConfigureAwait(false))
            {
                // Only a caller who may pull in the project gets here (others were answered 401), so saying
                // the repository is missing reveals nothing it could not list itself.
                throw new OciException(OciErrorCode.NameUnknown, null);
            }

            throw new OciException(OciErrorCode.ManifestUnknown, $"manifest {what} not found in {repo}");
        }
    }

    // PUT /v2/<name>/manifests/<reference> — "Pushing Manifests".
    private async Task PutManifestAsync(HttpContext context, RegistryRoute route)
    {
        var ct = context.RequestAborted;
        var reference = ValidateReference(route.Reference!);
        bool byDigest = reference.IsDigest;
        byte[] body = await ReadManifestBodyAsync(context.Request, ct).ConfigureAwait(false);

        Digest digest;
        if (byDigest)
        {
            var expected = reference.Digest;
            if (!expected.Matches(body))
            {
                throw new OciException(OciErrorCode.DigestInvalid, $"manifest content does not hash to {expected}");
            }

            digest = expected;
        }
        else
        {
            digest = Digest.Compute(body);
        }

        string? contentType = context.Request.ContentType;
        var parsed = ManifestParser.Parse(body, contentType);

        var tags = new List<string>();
        if (!byDigest)
        {
            tags.Add(reference.Tag.Value);
        }

        // OCI distribution 1.1: a push by digest may carry tags as ?tag= parameters.
        foreach (string? t in context.Request.Query["tag"])
        {
            if (!Tag.IsValid(t))
            {
                throw new OciException(OciErrorCode.TagInvalid, $"tag \"{t}\" is invalid");
            }

            tags.Add(t);
        }

        _cache.Invalidate(route.Repository.Value);
        try
        {
            await _metadata.PutManifestAsync(route.Repository, digest, parsed.MediaType, body, parsed, tags, _quotas.GetLimitAsync, ct).ConfigureAwait(false);
        }
        catch (Policies.ImmutableTagException e)
        {
            // podman and docker print "denied: <message>"; Harbor itself answers 412 here, which
            // clients show as an unknown error, so the spec's DENIED (403) says it more clearly.
            throw new OciException(OciErrorCode.Denied, e.Message);
        }
        finally
        {
            _cache.Invalidate(route.Repository.Value);
        }

        Log.ManifestPushed(_logger, route.Repository, digest, parsed.MediaType, string.Join(',', tags));
        _events.Publish(context, new RegistryEvent(RegistryEventKind.ManifestPushed, route.Repository, tags.Count > 0 ? ManifestReference.Parse(tags[0]) : digest, digest));
        _metrics.ManifestsPushed.Inc();
        var response = context.Response;
        response.StatusCode = StatusCodes.Status201Created;
        response.Headers.Location = $"/v2/{route.Repository}/manifests/{digest}";
        response.Headers[ContentDigestHeader] = digest.ToString();
        if (parsed.Subject is not null)
        {
            response.Headers["OCI-Subject"] = parsed.Subject.Digest.ToString();
        }

        if (context.Request.Query.ContainsKey("tag"))
        {
            response.Headers["OCI-Tag"] = tags.ToArray();
        }

        response.ContentLength = 0;
    }

    // DELETE /v2/<name>/manifests/<digest|tag> — "Deleting tags" and "Deleting Manifests".
    private async Task DeleteManifestAsync(HttpContext context, RegistryRoute route)
    {
        var ct = context.RequestAborted;
        var reference = ValidateReference(route.Reference!);
        bool deleted;
        _cache.Invalidate(route.Repository.Value);
        try
        {
            deleted = reference.IsDigest
                ? await _metadata.DeleteManifestAsync(route.Repository, reference.Digest, ct).ConfigureAwait(false)
                : await _metadata.DeleteTagAsync(route.Repository, reference.Tag.Value, ct).ConfigureAwait(false);
        }
        catch (ManifestReferencedException e)
        {
            // Harbor answers 412 here; the body stays the spec's, with a code every client knows.
            throw new OciException(OciErrorCode.Denied, e.Message) { StatusOverride = StatusCodes.Status412PreconditionFailed };
        }
        catch (Policies.ImmutableTagException e)
        {
            throw new OciException(OciErrorCode.Denied, e.Message);
        }
        finally
        {
            _cache.Invalidate(route.Repository.Value);
        }

        if (!deleted)
        {
            throw new OciException(OciErrorCode.ManifestUnknown, $"manifest {reference} not found in {route.Repository}");
        }

        Log.ManifestDeleted(_logger, route.Repository, reference.ToString());
        _events.Publish(context, new RegistryEvent(reference.IsDigest ? RegistryEventKind.ManifestDeleted : RegistryEventKind.TagDeleted, route.Repository, reference));
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        context.Response.ContentLength = 0;
    }

    /// <summary>The reference of a push or delete: a malformed digest is DIGEST_INVALID, a malformed tag TAG_INVALID.</summary>
    private static ManifestReference ValidateReference(string reference) =>
        ManifestReference.TryParse(reference, out var parsed, out var error) ? parsed
            : throw new OciException(ManifestReference.IsDigestShaped(reference) ? OciErrorCode.DigestInvalid : OciErrorCode.TagInvalid, error);

    private static async Task<byte[]> ReadManifestBodyAsync(HttpRequest request, CancellationToken ct)
    {
        const int Max = MediaTypes.MaxManifestBytes;
        if (request.ContentLength > Max)
        {
            throw new OciException(OciErrorCode.ManifestInvalid, $"manifest is larger than {Max} bytes") { StatusOverride = StatusCodes.Status413PayloadTooLarge };
        }

        var writer = new ArrayBufferWriter<byte>((int)(request.ContentLength ?? 4096) + 1);
        while (true)
        {
            var memory = writer.GetMemory(16 * 1024);
            int n = await request.Body.ReadAsync(memory, ct).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            writer.Advance(n);
            if (writer.WrittenCount > Max)
            {
                throw new OciException(OciErrorCode.ManifestInvalid, $"manifest is larger than {Max} bytes") { StatusOverride = StatusCodes.Status413PayloadTooLarge };
            }
        }

        return writer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// When the client lists manifest types it accepts and the stored one is not among them, answer
    /// as distribution does: the manifest is unknown in a form the client can read. No Accept, or
    /// a wildcard, takes what is stored.
    /// </summary>
    private static void CheckAcceptable(HttpRequest request, string mediaType)
    {
        var accept = request.Headers.Accept;
        if (accept.Count == 0)
        {
            return;
        }

        bool listsManifestTypes = false;
        foreach (string? value in accept)
        {
            if (value is null)
            {
                continue;
            }

            foreach (var range in value.Split(','))
            {
                string type = ManifestParser.NormalizeContentType(range) ?? string.Empty;
                if (type == mediaType || type is "*/*" or "application/*" || type.Length == 0)
                {
                    return;
                }

                if (MediaTypes.IsManifest(type) || MediaTypes.IsSchema1(type))
                {
                    listsManifestTypes = true;
                }
            }
        }

        if (listsManifestTypes)
        {
            throw new OciException(OciErrorCode.ManifestUnknown, $"manifest is {mediaType}, which the Accept header does not list");
        }
    }
}
