using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Wharf.Content;
using Wharf.Oci;
using Wharf.Registry.Proxy;

namespace Wharf.Registry.Replication;

/// <summary>
/// A registered endpoint (Harbor's "registry") over the distribution API, through the proxy cache's
/// <see cref="UpstreamClient"/> so authentication (Bearer or Basic, the stored credential) is the same.
/// Upload URLs are taken from <c>Location</c>; manifests are sent as the exact bytes read.
/// </summary>
public sealed class RemoteReplicationEndpoint(UpstreamClient client) : IReplicationEndpoint
{
    public string Name => client.Registry.ToString();

    /// <summary>Where notes about the destination go (the task's log); set by the runner.</summary>
    public Action<string> Log { get; set; } = _ => { };

    public async Task<IReadOnlyList<string>> ListRepositoriesAsync(CancellationToken cancellationToken)
    {
        var names = new List<string>();
        Uri? next = new(client.Registry.ApiBase, "v2/_catalog?n=1000");
        for (int page = 0; next is not null && page < 1000; page++)
        {
            var uri = next;
            using var response = await client.SendAsync(() => new HttpRequestMessage(HttpMethod.Get, uri), "registry:catalog:*", cancellationToken).ConfigureAwait(false);
            await RemoteRepository.EnsureAsync(response, $"listing the catalog of {Name}", cancellationToken).ConfigureAwait(false);
            names.AddRange(await RemoteRepository.ReadArrayAsync(response, "repositories", cancellationToken).ConfigureAwait(false));
            next = RemoteRepository.NextLink(response, uri);
        }

        return names;
    }

    // Projects made (or found) on a Harbor-type destination during this execution: asked once each.
    private readonly ConcurrentDictionary<string, Lazy<Task>> _projects = new(StringComparer.Ordinal);

    public IReplicationRepository Repository(string repository) => new RemoteRepository(this, client, repository);

    /// <summary>
    /// Harbor creates a push destination's missing project; so does wharf for a <c>harbor</c>
    /// endpoint (another wharfd or Harbor): <c>POST /api/v2.0/projects</c>, private, with the
    /// endpoint's credential. Created or already there: fine. Refused (the credential may not create
    /// projects): the copy goes on and the destination's answer to the push says what is wrong.
    /// </summary>
    private Task EnsureProjectAsync(string repository, Action<string> log, CancellationToken cancellationToken)
    {
        int slash = repository.IndexOf('/', StringComparison.Ordinal);
        if (client.Registry.Type != "harbor" || slash <= 0)
        {
            return Task.CompletedTask;
        }

        string project = repository[..slash];
        return _projects.GetOrAdd(project, p => new Lazy<Task>(() => CreateProjectAsync(p, log, cancellationToken))).Value;
    }

    private async Task CreateProjectAsync(string project, Action<string> log, CancellationToken cancellationToken)
    {
        using var body = new StringContent(
            "{\"project_name\":\"" + JsonEncodedText.Encode(project) + "\",\"metadata\":{\"public\":\"false\"}}",
            System.Text.Encoding.UTF8, "application/json");
        using var response = await client.SendApiAsync(HttpMethod.Post, "api/v2.0/projects", body, cancellationToken).ConfigureAwait(false);
        switch (response.StatusCode)
        {
            case HttpStatusCode.Created:
                log($"project {project} created on {Name}");
                break;
            case HttpStatusCode.Conflict:
                break; // there already
            default:
                log($"project {project} could not be created on {Name} ({(int)response.StatusCode}); the push needs it to exist");
                break;
        }
    }

    private sealed class RemoteRepository(RemoteReplicationEndpoint owner, UpstreamClient client, string path) : IReplicationRepository
    {
        private static readonly string ManifestAccept = string.Join(", ",
            MediaTypes.OciIndex, MediaTypes.OciManifest, MediaTypes.DockerManifestList, MediaTypes.DockerManifest);

        private readonly ConcurrentDictionary<string, byte[]> _manifests = new(StringComparer.Ordinal);

        public string Path => path;

        private string PullScope => $"repository:{path}:pull";

        private string PushScope => $"repository:{path}:pull,push";

        private Uri Url(string relative) => new(client.Registry.ApiBase, $"v2/{path}/{relative}");

        public Task PrepareAsync(CancellationToken cancellationToken) => owner.EnsureProjectAsync(path, owner.Log, cancellationToken);

        public async Task<Descriptor> ResolveAsync(string reference, CancellationToken cancellationToken)
        {
            var manifest = await client.GetManifestAsync(path, ManifestReference.Parse(reference), cancellationToken).ConfigureAwait(false)
                ?? throw new ContentException($"manifest {path}:{reference} not found in {client.Registry}");
            var parsed = ManifestParser.Parse(manifest.Content, MediaTypes.IsManifest(manifest.MediaType) ? manifest.MediaType : null);
            _manifests[manifest.Digest.ToString()] = manifest.Content;
            return new Descriptor { MediaType = parsed.MediaType, Digest = manifest.Digest, Size = manifest.Content.Length };
        }

        public async Task<Stream> FetchAsync(Descriptor descriptor, CancellationToken cancellationToken)
        {
            if (MediaTypes.IsManifest(descriptor.MediaType))
            {
                if (!_manifests.TryGetValue(descriptor.Digest.ToString(), out var body))
                {
                    var manifest = await client.GetManifestAsync(path, descriptor.Digest, cancellationToken).ConfigureAwait(false)
                        ?? throw new ContentException($"manifest {path}@{descriptor.Digest} not found in {client.Registry}");
                    body = manifest.Content;
                    _manifests[descriptor.Digest.ToString()] = body;
                }

                return new MemoryStream(body, writable: false);
            }

            return await client.OpenBlobAsync(path, descriptor.Digest, cancellationToken).ConfigureAwait(false);
        }

        public async Task<bool> ExistsAsync(Descriptor descriptor, CancellationToken cancellationToken)
        {
            bool manifest = MediaTypes.IsManifest(descriptor.MediaType);
            var uri = Url((manifest ? "manifests/" : "blobs/") + descriptor.Digest);
            using var response = await client.SendAsync(() => Request(HttpMethod.Head, uri, manifest ? ManifestAccept : null), PushScope, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return false;
            }

            await EnsureAsync(response, $"checking {path}@{descriptor.Digest} in {client.Registry}", cancellationToken).ConfigureAwait(false);
            return true;
        }

        public async Task<Digest?> FindTagAsync(string tag, CancellationToken cancellationToken)
        {
            using var response = await client.SendAsync(() => Request(HttpMethod.Head, Url("manifests/" + tag), ManifestAccept), PullScope, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }

            await EnsureAsync(response, $"checking {path}:{tag} in {client.Registry}", cancellationToken).ConfigureAwait(false);
            return response.Headers.TryGetValues("Docker-Content-Digest", out var values) && Digest.TryParse(values.FirstOrDefault(), out var digest) ? digest : null;
        }

        public async Task PushAsync(Descriptor descriptor, Stream content, CancellationToken cancellationToken)
        {
            if (MediaTypes.IsManifest(descriptor.MediaType))
            {
                using var buffer = new MemoryStream();
                await content.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
                byte[] body = buffer.ToArray();
                _manifests[descriptor.Digest.ToString()] = body;
                await PutManifestAsync(descriptor, body, descriptor.Digest.ToString(), cancellationToken).ConfigureAwait(false);
                return;
            }

            // The POST gets the push token (it has no body to lose on a 401); the PUT streams with it.
            Uri location;
            using (var start = await client.SendAsync(() => Request(HttpMethod.Post, Url("blobs/uploads/"), null), PushScope, cancellationToken).ConfigureAwait(false))
            {
                if (start.StatusCode != HttpStatusCode.Accepted)
                {
                    await EnsureAsync(start, $"starting an upload to {path} in {client.Registry}", cancellationToken, always: true).ConfigureAwait(false);
                }

                location = LocationOf(start);
            }

            var builder = new UriBuilder(location);
            string digest = "digest=" + Uri.EscapeDataString(descriptor.Digest.ToString());
            builder.Query = builder.Query.Length > 1 ? builder.Query[1..] + "&" + digest : digest;
            var put = builder.Uri;
            using var response = await client.SendAsync(() =>
            {
                var request = Request(HttpMethod.Put, put, null);
                request.Content = new StreamContent(content, 1 << 16);
                request.Content.Headers.ContentLength = descriptor.Size;
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                return request;
            }, PushScope, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.Created)
            {
                await EnsureAsync(response, $"uploading blob {descriptor.Digest} to {path} in {client.Registry}", cancellationToken, always: true).ConfigureAwait(false);
            }
        }

        public async Task<bool> MountAsync(Descriptor descriptor, string fromRepository, CancellationToken cancellationToken)
        {
            if (fromRepository == path)
            {
                return false;
            }

            var uri = Url($"blobs/uploads/?mount={Uri.EscapeDataString(descriptor.Digest.ToString())}&from={Uri.EscapeDataString(fromRepository)}");
            using var response = await client.SendAsync(() => Request(HttpMethod.Post, uri, null), PushScope, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.Created)
            {
                return true;
            }

            if (response.StatusCode == HttpStatusCode.Accepted && response.Headers.Location is not null)
            {
                // An ordinary upload was opened instead: give it back, the copy uploads.
                var cancel = LocationOf(response);
                using var _ = await client.SendAsync(() => Request(HttpMethod.Delete, cancel, null), PushScope, cancellationToken).ConfigureAwait(false);
            }

            return false;
        }

        public async Task TagAsync(Descriptor descriptor, string reference, CancellationToken cancellationToken)
        {
            if (!_manifests.TryGetValue(descriptor.Digest.ToString(), out var body))
            {
                await using var stream = await FetchAsync(descriptor, cancellationToken).ConfigureAwait(false);
                using var buffer = new MemoryStream();
                await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
                body = buffer.ToArray();
            }

            await PutManifestAsync(descriptor, body, reference, cancellationToken).ConfigureAwait(false);
        }

        public async Task<IReadOnlyList<string>> ListTagsAsync(CancellationToken cancellationToken)
        {
            var tags = new List<string>();
            Uri? next = Url("tags/list?n=1000");
            for (int page = 0; next is not null && page < 1000; page++)
            {
                var uri = next;
                using var response = await client.SendAsync(() => Request(HttpMethod.Get, uri, null), PullScope, cancellationToken).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.NotFound)
                {
                    return tags;
                }

                await EnsureAsync(response, $"listing the tags of {path} in {client.Registry}", cancellationToken).ConfigureAwait(false);
                tags.AddRange(await ReadArrayAsync(response, "tags", cancellationToken).ConfigureAwait(false));
                next = NextLink(response, uri);
            }

            return tags;
        }

        public async Task<IReadOnlyList<Descriptor>> ListReferrersAsync(Digest subject, CancellationToken cancellationToken)
        {
            using var response = await client.SendAsync(() => Request(HttpMethod.Get, Url($"referrers/{subject}"), MediaTypes.OciIndex), PullScope, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return []; // no referrers API (docker-registry 2): nothing to copy
            }

            byte[] body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            return body.Length > MediaTypes.MaxManifestBytes ? [] : ManifestParser.Parse(body, MediaTypes.OciIndex).Manifests;
        }

        public async Task<bool> DeleteAsync(string reference, CancellationToken cancellationToken)
        {
            using var response = await client.SendAsync(() => Request(HttpMethod.Delete, Url("manifests/" + reference), null), PushScope, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return false;
            }

            // A registry that deletes manifests only by digest (docker-registry: 400/405 for a tag)
            // gets the tagged manifest deleted, as Harbor deletes the artifact.
            if (response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.MethodNotAllowed && !Digest.TryParse(reference, out _)
                && await FindTagAsync(reference, cancellationToken).ConfigureAwait(false) is { } digest)
            {
                return await DeleteAsync(digest.ToString(), cancellationToken).ConfigureAwait(false);
            }

            await EnsureAsync(response, $"deleting {path}:{reference} in {client.Registry}", cancellationToken).ConfigureAwait(false);
            return true;
        }

        private async Task PutManifestAsync(Descriptor descriptor, byte[] body, string reference, CancellationToken cancellationToken)
        {
            using var response = await client.SendAsync(() =>
            {
                var request = Request(HttpMethod.Put, Url("manifests/" + reference), null);
                request.Content = new ByteArrayContent(body);
                request.Content.Headers.ContentType = new MediaTypeHeaderValue(descriptor.MediaType);
                return request;
            }, PushScope, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.Created)
            {
                await EnsureAsync(response, $"storing manifest {path}:{reference} in {client.Registry}", cancellationToken, always: true).ConfigureAwait(false);
            }
        }

        private Uri LocationOf(HttpResponseMessage response)
        {
            var location = response.Headers.Location
                ?? throw new IOException($"{client.Registry} opened an upload for {path} without a Location");
            return location.IsAbsoluteUri ? location : new Uri(client.Registry.ApiBase, location);
        }

        private static HttpRequestMessage Request(HttpMethod method, Uri uri, string? accept)
        {
            var request = new HttpRequestMessage(method, uri);
            if (accept is not null)
            {
                request.Headers.TryAddWithoutValidation("Accept", accept);
            }

            return request;
        }

        /// <summary>Throws with the registry's own error text when the answer is not a success (or, with <paramref name="always"/>, not the one expected).</summary>
        internal static async Task EnsureAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken, bool always = false)
        {
            if (response.IsSuccessStatusCode && !always)
            {
                return;
            }

            string text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            throw new UpstreamStatusException(response.StatusCode, $"{what}: {(int)response.StatusCode} {(text.Length > 300 ? text[..300] : text).Trim()}");
        }

        internal static async Task<IReadOnlyList<string>> ReadArrayAsync(HttpResponseMessage response, string property, CancellationToken cancellationToken)
        {
            byte[] body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            using var json = JsonDocument.Parse(body);
            return json.RootElement.TryGetProperty(property, out var array) && array.ValueKind == JsonValueKind.Array
                ? [.. array.EnumerateArray().Select(e => e.GetString()).OfType<string>()]
                : [];
        }

        /// <summary>The distribution spec's pagination: <c>Link: &lt;url&gt;; rel="next"</c>.</summary>
        internal static Uri? NextLink(HttpResponseMessage response, Uri current)
        {
            if (!response.Headers.TryGetValues("Link", out var links))
            {
                return null;
            }

            foreach (string link in links)
            {
                int open = link.IndexOf('<', StringComparison.Ordinal);
                int close = link.IndexOf('>', StringComparison.Ordinal);
                if (open >= 0 && close > open && link.Contains("rel=\"next\"", StringComparison.Ordinal))
                {
                    return new Uri(current, link[(open + 1)..close]);
                }
            }

            return null;
        }
    }
}
