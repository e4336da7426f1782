using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Wharf.Client.Http;
using Wharf.Content;
using Wharf.Oci;

namespace Wharf.Client;

/// <summary>
/// One repository of a registry as a copy target (distribution spec: pull, push, content
/// discovery). Everything received is checked against its digest and size; upload URLs are
/// always taken from <c>Location</c>.
/// </summary>
public sealed class RemoteRepository : ITarget, IMountable, IReferencePushable
{
    private readonly RegistryClient _client;
    private readonly ConcurrentDictionary<Digest, byte[]> _manifests = new();

    internal RemoteRepository(RegistryClient client, string path)
    {
        _client = client;
        Path = path;
    }

    public string Path { get; }

    /// <summary><c>host/path</c>, as podman names it in messages.</summary>
    public string Name => _client.Host + "/" + Path;

    private Uri Url(string relative) => new(_client.BaseUri, $"/v2/{Path}/{relative}");

    private string[] PullScope => [$"repository:{Path}:pull"];

    private string[] PushScope => [$"repository:{Path}:pull,push"];

    public async Task<Descriptor> ResolveAsync(string reference, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(reference);
        await _client.PingAsync(cancellationToken).ConfigureAwait(false);
        using var request = new HttpRequestMessage(HttpMethod.Get, Url("manifests/" + reference));
        foreach (var accept in RegistryClient.ManifestAccept)
        {
            request.Headers.Accept.Add(accept);
        }

        request.Options.Set(RegistryRequestOptions.Scopes, PullScope);
        using var response = await _client.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await RegistryClient.ErrorAsync(response, $"reading manifest {reference} in {Name}", cancellationToken).ConfigureAwait(false);
        }

        byte[] body = await ReadCappedAsync(response, MediaTypes.MaxManifestBytes, cancellationToken).ConfigureAwait(false);
        var digest = Digest.Compute(body);
        if (Digest.TryParse(reference, out var wanted) && !wanted.Matches(body))
        {
            throw new ContentException($"manifest {reference} in {Name}: digest mismatch, received {digest}");
        }

        if (response.Headers.TryGetValues("Docker-Content-Digest", out var headerValues)
            && Digest.TryParse(headerValues.FirstOrDefault(), out var claimed) && claimed.Algorithm == Digest.Sha256 && claimed != digest)
        {
            throw new ContentException($"manifest {reference} in {Name}: Docker-Content-Digest {claimed} does not match the received content ({digest})");
        }

        string? contentType = ManifestParser.NormalizeContentType(response.Content.Headers.ContentType?.MediaType);
        var parsed = ManifestParser.Parse(body, MediaTypes.IsManifest(contentType) ? contentType : null);
        _manifests[digest] = body;
        return new Descriptor { MediaType = parsed.MediaType, Digest = digest, Size = body.Length };
    }

    public async Task<Stream> FetchAsync(Descriptor descriptor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        if (_manifests.TryGetValue(descriptor.Digest, out var cached))
        {
            return new MemoryStream(cached, writable: false);
        }

        await _client.PingAsync(cancellationToken).ConfigureAwait(false);
        bool manifest = MediaTypes.IsManifest(descriptor.MediaType);
        var request = new HttpRequestMessage(HttpMethod.Get, Url((manifest ? "manifests/" : "blobs/") + descriptor.Digest));
        if (manifest)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(descriptor.MediaType));
        }

        request.Options.Set(RegistryRequestOptions.Scopes, PullScope);
        HttpResponseMessage response;
        using (request)
        {
            response = await _client.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }

        if (!response.IsSuccessStatusCode)
        {
            using (response)
            {
                throw await RegistryClient.ErrorAsync(response, $"reading blob {descriptor.Digest}", cancellationToken).ConfigureAwait(false);
            }
        }

        var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        if (manifest)
        {
            return new VerifyingStream(new ResponseBodyStream(response, body), descriptor);
        }

        // A blob whose connection drops mid-body continues with a Range request from the byte reached.
        return new VerifyingStream(new ResumingBlobStream(response, body, descriptor, (from, ct) => ReopenBlobAsync(descriptor, from, ct), _client.Options.RetryDelay ?? ResumeDelay), descriptor);
    }

    private static TimeSpan ResumeDelay(int attempt) => TimeSpan.FromMilliseconds(200 * (1 << Math.Min(attempt - 1, 4)));

    private async Task<HttpResponseMessage> ReopenBlobAsync(Descriptor descriptor, long from, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url("blobs/" + descriptor.Digest));
        request.Headers.Range = new RangeHeaderValue(from, null);
        request.Options.Set(RegistryRequestOptions.Scopes, PullScope);
        return await _client.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
    }

    public async Task<bool> ExistsAsync(Descriptor descriptor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        await _client.PingAsync(cancellationToken).ConfigureAwait(false);
        bool manifest = MediaTypes.IsManifest(descriptor.MediaType);
        using var request = new HttpRequestMessage(HttpMethod.Head, Url((manifest ? "manifests/" : "blobs/") + descriptor.Digest));
        if (manifest)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(descriptor.MediaType));
        }

        request.Options.Set(RegistryRequestOptions.Scopes, PushScope);
        using var response = await _client.Http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        if (!response.IsSuccessStatusCode)
        {
            throw await RegistryClient.ErrorAsync(response, $"checking whether a blob {descriptor.Digest} exists in {Name}", cancellationToken).ConfigureAwait(false);
        }

        return response.Content.Headers.ContentLength is not { } length || length == descriptor.Size;
    }

    public async Task PushAsync(Descriptor descriptor, Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentNullException.ThrowIfNull(content);
        await _client.PingAsync(cancellationToken).ConfigureAwait(false);
        if (MediaTypes.IsManifest(descriptor.MediaType))
        {
            using var buffer = new MemoryStream();
            await content.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            byte[] body = buffer.ToArray();
            if (!descriptor.Digest.Matches(body))
            {
                throw new ContentException($"manifest {descriptor.Digest}: content does not match its digest");
            }

            _manifests[descriptor.Digest] = body;
            await PutManifestAsync(descriptor, body, descriptor.Digest.ToString(), cancellationToken).ConfigureAwait(false);
            return;
        }

        var location = await StartUploadAsync(cancellationToken).ConfigureAwait(false);
        if (_client.Options.ChunkSize is { } chunk)
        {
            location = await UploadChunksAsync(location, content, descriptor.Size, chunk, cancellationToken).ConfigureAwait(false);
            await FinishUploadAsync(location, descriptor, null, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await FinishUploadAsync(location, descriptor, content, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task PushReferenceAsync(Descriptor descriptor, Stream content, string reference, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentNullException.ThrowIfNull(content);
        await _client.PingAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        await content.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        byte[] body = buffer.ToArray();
        if (!descriptor.Digest.Matches(body))
        {
            throw new ContentException($"manifest {descriptor.Digest}: content does not match its digest");
        }

        _manifests[descriptor.Digest] = body;
        await PutManifestAsync(descriptor, body, reference, cancellationToken).ConfigureAwait(false);
    }

    private async Task<Uri> StartUploadAsync(CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Url("blobs/uploads/"));
        request.Options.Set(RegistryRequestOptions.Scopes, PushScope);
        using var response = await _client.Http.SendAsync(request, ct).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Accepted)
        {
            throw await RegistryClient.ErrorAsync(response, $"initiating layer upload to /v2/{Path}/blobs/uploads/ in {_client.Host}", ct).ConfigureAwait(false);
        }

        return LocationOf(response);
    }

    private Uri LocationOf(HttpResponseMessage response)
    {
        var location = response.Headers.Location
            ?? throw new RegistryException($"uploading to {Name}: the registry returned no Location for the upload");
        return location.IsAbsoluteUri ? location : new Uri(_client.BaseUri, location);
    }

    private async Task<Uri> UploadChunksAsync(Uri location, Stream content, long size, int chunkSize, CancellationToken ct)
    {
        byte[] buffer = new byte[chunkSize];
        long offset = 0;
        while (offset < size)
        {
            int filled = 0;
            while (filled < chunkSize)
            {
                int n = await content.ReadAsync(buffer.AsMemory(filled, chunkSize - filled), ct).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                filled += n;
            }

            if (filled == 0)
            {
                break;
            }

            using var request = new HttpRequestMessage(HttpMethod.Patch, location)
            {
                Content = new ByteArrayContent(buffer, 0, filled),
            };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            request.Content.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + filled - 1}");
            request.Options.Set(RegistryRequestOptions.Scopes, PushScope);
            using var response = await _client.Http.SendAsync(request, ct).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.Accepted)
            {
                throw await RegistryClient.ErrorAsync(response, $"uploading layer chunked to {Name}", ct).ConfigureAwait(false);
            }

            location = LocationOf(response);
            offset += filled;
        }

        // Reaching the end drives the verifying stream's final check.
        if (await content.ReadAsync(new byte[1], ct).ConfigureAwait(false) != 0)
        {
            throw new ContentException("blob is longer than its descriptor says");
        }

        return location;
    }

    private async Task FinishUploadAsync(Uri location, Descriptor descriptor, Stream? content, CancellationToken ct)
    {
        var builder = new UriBuilder(location);
        string digestParam = "digest=" + Uri.EscapeDataString(descriptor.Digest.ToString());
        builder.Query = builder.Query.Length > 1 ? builder.Query[1..] + "&" + digestParam : digestParam;
        using var request = new HttpRequestMessage(HttpMethod.Put, builder.Uri);
        if (content is not null)
        {
            request.Content = new StreamContent(content, 1 << 16);
            request.Content.Headers.ContentLength = descriptor.Size;
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        }

        request.Options.Set(RegistryRequestOptions.Scopes, PushScope);
        using var response = await _client.Http.SendAsync(request, ct).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw await RegistryClient.ErrorAsync(response, $"uploading layer to {location}", ct).ConfigureAwait(false);
        }
    }

    public async Task<bool> MountAsync(Descriptor descriptor, string fromRepository, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentException.ThrowIfNullOrEmpty(fromRepository);
        if (fromRepository == Path)
        {
            return false;
        }

        await _client.PingAsync(cancellationToken).ConfigureAwait(false);
        var uri = Url($"blobs/uploads/?mount={Uri.EscapeDataString(descriptor.Digest.ToString())}&from={Uri.EscapeDataString(fromRepository)}");
        using var request = new HttpRequestMessage(HttpMethod.Post, uri);
        request.Options.Set(RegistryRequestOptions.Scopes, [$"repository:{Path}:pull,push", $"repository:{fromRepository}:pull"]);
        using var response = await _client.Http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Created)
        {
            return true;
        }

        if (response.StatusCode == HttpStatusCode.Accepted && response.Headers.Location is not null)
        {
            // The registry opened an ordinary upload instead; give it back, the caller uploads.
            using var cancel = new HttpRequestMessage(HttpMethod.Delete, LocationOf(response));
            cancel.Options.Set(RegistryRequestOptions.Scopes, PushScope);
            try
            {
                using var _ = await _client.Http.SendAsync(cancel, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException)
            {
            }
        }

        return false;
    }

    public async Task TagAsync(Descriptor descriptor, string reference, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        if (!_manifests.TryGetValue(descriptor.Digest, out var body))
        {
            using var stream = await FetchAsync(descriptor, cancellationToken).ConfigureAwait(false);
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            body = buffer.ToArray();
        }

        await PutManifestAsync(descriptor, body, reference, cancellationToken).ConfigureAwait(false);
    }

    private async Task PutManifestAsync(Descriptor descriptor, byte[] body, string reference, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, Url("manifests/" + reference))
        {
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(descriptor.MediaType);
        request.Options.Set(RegistryRequestOptions.Scopes, PushScope);
        using var response = await _client.Http.SendAsync(request, ct).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw await RegistryClient.ErrorAsync(response, $"uploading manifest {reference} to {Name}", ct).ConfigureAwait(false);
        }
    }

    /// <summary><c>GET /v2/NAME/tags/list</c>, following pagination links.</summary>
    public async Task<IReadOnlyList<string>> ListTagsAsync(CancellationToken cancellationToken)
    {
        await _client.PingAsync(cancellationToken).ConfigureAwait(false);
        var tags = new List<string>();
        Uri? next = Url("tags/list");
        for (int page = 0; next is not null && page < 1000; page++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, next);
            request.Options.Set(RegistryRequestOptions.Scopes, PullScope);
            using var response = await _client.Http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw await RegistryClient.ErrorAsync(response, $"fetching tags list for {Name}", cancellationToken).ConfigureAwait(false);
            }

            using var doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
            if (doc.RootElement.TryGetProperty("tags", out var arr) && arr.ValueKind == JsonValueKind.Array)
            {
                tags.AddRange(arr.EnumerateArray().Select(t => t.GetString()).OfType<string>());
            }

            next = RegistryClient.NextLink(response, next);
        }

        return tags;
    }

    private static async Task<byte[]> ReadCappedAsync(HttpResponseMessage response, int cap, CancellationToken ct)
    {
        if (response.Content.Headers.ContentLength > cap)
        {
            throw new ContentException($"manifest is larger than {cap} bytes");
        }

        var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            byte[] chunk = new byte[16384];
            int n;
            while ((n = await stream.ReadAsync(chunk, ct).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + n > cap)
                {
                    throw new ContentException($"manifest is larger than {cap} bytes");
                }

                buffer.Write(chunk, 0, n);
            }

            return buffer.ToArray();
        }
    }
}
