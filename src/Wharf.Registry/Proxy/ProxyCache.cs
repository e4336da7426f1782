using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;
using Wharf.Oci;
using Wharf.Registry.Api;
using Wharf.Registry.Metadata;
using Wharf.Registry.Projects;
using Wharf.Registry.Quotas;
using Wharf.Registry.Storage;

namespace Wharf.Registry.Proxy;

/// <summary>
/// What makes a project a pull-through cache: a miss is fetched from the bound upstream and stored
/// as if it had been pushed (so quotas, GC and deletes treat it like any content of the project); a
/// tag is re-checked upstream at most every <see cref="ProxyCacheOptions.TagRecheckInterval"/>, and
/// when the upstream is down, slow or refusing, the cached manifest is served. Each blob digest is
/// fetched upstream once however many pulls want it at the same time.
/// </summary>
public sealed partial class ProxyCache : IDisposable
{
    private readonly IProjectStore _projects;
    private readonly IUpstreamRegistryStore _registries;
    private readonly IMetadataStore _metadata;
    private readonly IBlobStore _blobs;
    private readonly Gc.BlobLocks _locks;
    private readonly ProxyPullLog _pulls;
    private readonly IProjectQuotas _quotas;
    private readonly ManifestCache _manifestCache;
    private readonly UpstreamClients _clients;
    private readonly ProxyCacheOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ProxyCache> _logger;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _tagChecked = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StoredManifest> _fetchedTags = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Digest, Task<long>> _blobFetches = new();
    private readonly ConcurrentDictionary<string, Task> _manifestStores = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();

    public ProxyCache(
        IProjectStore projects, IUpstreamRegistryStore registries, IMetadataStore metadata, IBlobStore blobs, Gc.BlobLocks locks, IProjectQuotas quotas,
        ManifestCache manifestCache, ProxyPullLog pulls, UpstreamClients clients, ProxyCacheOptions options, TimeProvider time, ILogger<ProxyCache> logger)
    {
        _projects = projects;
        _registries = registries;
        _metadata = metadata;
        _blobs = blobs;
        _locks = locks;
        _pulls = pulls;
        _quotas = quotas;
        _manifestCache = manifestCache;
        _clients = clients;
        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>Upstream blob downloads started so far (each digest counts once per fetch).</summary>
    public long UpstreamBlobFetches => Interlocked.Read(ref _upstreamBlobFetches);

    private long _upstreamBlobFetches;

    /// <summary>The proxy target of a repository, or null when its project is not a proxy cache.</summary>
    public async Task<ProxyTarget?> FindAsync(RepositoryName repository, CancellationToken cancellationToken)
    {
        if (!repository.Value.Contains('/', StringComparison.Ordinal))
        {
            return null;
        }

        var project = await _projects.FindByNameAsync(repository.Project, cancellationToken).ConfigureAwait(false);
        if (project is null || await _registries.RegistryOfProjectAsync(project.Id, cancellationToken).ConfigureAwait(false) is not long registryId)
        {
            return null;
        }

        var registry = await _registries.FindByIdAsync(registryId, cancellationToken).ConfigureAwait(false);
        return registry is null ? null : new ProxyTarget(repository, _clients.For(registry), ProxyTarget.UpstreamName(repository, registry));
    }

    /// <summary>Pushes into a proxy cache are refused: its content is the upstream's.</summary>
    public async Task RefusePushAsync(RepositoryName repository, CancellationToken cancellationToken)
    {
        if (await FindAsync(repository, cancellationToken).ConfigureAwait(false) is { } target)
        {
            throw new OciException(OciErrorCode.Denied,
                $"project {repository.Project} is a proxy cache of {target.Upstream.Registry.Name}: pushes are refused, push to the upstream instead");
        }
    }

    /// <summary>
    /// The manifest to serve for a pull: <paramref name="cached"/> (what is stored locally, or null)
    /// unless the repository is a proxy cache and the upstream has something newer or the cache
    /// misses. Null when neither has it.
    /// </summary>
    public async Task<StoredManifest?> GetManifestAsync(RepositoryName repository, ManifestReference reference, StoredManifest? cached, CancellationToken cancellationToken)
    {
        var target = await FindAsync(repository, cancellationToken).ConfigureAwait(false);
        if (target is null)
        {
            return cached;
        }

        var manifest = await ResolveManifestAsync(target, reference, cached, cancellationToken).ConfigureAwait(false);
        if (manifest is not null)
        {
            // What eviction goes by: content nobody pulls for a while leaves the cache.
            await _pulls.RecordAsync(repository, manifest.Digest, MediaTypes.IsIndex(manifest.MediaType), _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        }

        return manifest;
    }

    private async Task<StoredManifest?> ResolveManifestAsync(ProxyTarget target, ManifestReference reference, StoredManifest? cached, CancellationToken cancellationToken)
    {
        var repository = target.Repository;
        bool byDigest = reference.IsDigest;
        if (byDigest && cached is not null)
        {
            return cached; // content-addressed: immutable, never re-checked
        }

        string key = repository.Value + ":" + reference;
        var now = _time.GetUtcNow();
        if (!byDigest)
        {
            if (_fetchedTags.TryGetValue(key, out var fetching))
            {
                cached = fetching; // fetched from upstream, still being stored
            }

            if (cached is not null && _tagChecked.TryGetValue(key, out var checkedAt) && now - checkedAt < _options.TagRecheckInterval)
            {
                return cached;
            }
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.UpstreamTimeout);
        try
        {
            if (cached is not null)
            {
                var current = await target.Upstream.HeadManifestAsync(target.UpstreamRepository, reference, timeout.Token).ConfigureAwait(false);
                if (current is null || current == cached.Digest)
                {
                    // Gone upstream: the cached image stays pullable; unchanged: nothing to fetch.
                    _tagChecked[key] = now;
                    return cached;
                }
            }

            var fetched = await target.Upstream.GetManifestAsync(target.UpstreamRepository, reference, timeout.Token).ConfigureAwait(false);
            if (fetched is null)
            {
                return cached;
            }

            var manifest = new StoredManifest(fetched.Digest, fetched.MediaType, fetched.Content, null);
            Log.ManifestFetched(_logger, repository, reference.ToString(), fetched.Digest, target.Upstream.Registry.Name);
            if (!byDigest)
            {
                _tagChecked[key] = now;
                _fetchedTags[key] = manifest;
            }

            StoreInBackground(target, manifest, byDigest ? null : reference.Tag.Value, key);
            return manifest;
        }
        catch (Exception e) when (cached is not null && IsUpstreamTrouble(e, cancellationToken))
        {
            Log.ServedStale(_logger, repository, reference.ToString(), target.Upstream.Registry.Name, e.Message);
            return cached;
        }
        catch (Exception e) when (IsUpstreamTrouble(e, cancellationToken))
        {
            Log.UpstreamFailed(_logger, repository, reference.ToString(), target.Upstream.Registry.Name, e.Message);
            throw new OciException(OciErrorCode.ManifestUnknown, $"manifest {reference} is not cached and upstream {target.Upstream.Registry.Name} cannot be reached: {e.Message}");
        }
    }

    /// <summary>
    /// Makes the blob available in the repository of a proxy cache: links it when stored already,
    /// else fetches it upstream (once per digest, whoever else asks waits for that fetch). Returns its
    /// size, or null when the repository is not a proxy cache.
    /// </summary>
    public async Task<long?> FetchBlobAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken)
    {
        var target = await FindAsync(repository, cancellationToken).ConfigureAwait(false);
        if (target is null)
        {
            return null;
        }

        try
        {
            return await EnsureBlobAsync(target, digest).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsUpstreamTrouble(e, cancellationToken))
        {
            Log.UpstreamFailed(_logger, repository, digest.ToString(), target.Upstream.Registry.Name, e.Message);
            throw new OciException(OciErrorCode.BlobUnknown, $"blob {digest} is not cached and upstream {target.Upstream.Registry.Name} cannot serve it: {e.Message}");
        }
    }

    /// <summary>Waits until every manifest fetched so far is stored (or failed to store): for tests and shutdown.</summary>
    public Task WhenStoredAsync() => Task.WhenAll(_manifestStores.Values.Append(Task.CompletedTask));

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private async Task<long> EnsureBlobAsync(ProxyTarget target, Digest digest)
    {
        var ct = _stopping.Token;
        if (await _metadata.GetLinkedBlobSizeAsync(target.Repository, digest, ct).ConfigureAwait(false) is long linked)
        {
            return linked;
        }

        if (_blobs.Stat(digest) is null)
        {
            // Single flight: the first caller's download is everybody's; it is not tied to any one
            // client's request, so a client that goes away does not fail the others.
            var fetch = _blobFetches.GetOrAdd(digest, d => DownloadAsync(target, d, ct));
            try
            {
                await fetch.ConfigureAwait(false);
            }
            finally
            {
                _blobFetches.TryRemove(new KeyValuePair<Digest, Task<long>>(digest, fetch));
            }
        }

        // Under GC's lock on the digest, as an upload commits: the file is still there when linked.
        using (await _locks.AcquireAsync(digest, ct).ConfigureAwait(false))
        {
            long size = _blobs.Stat(digest) ?? throw new InvalidDataException($"blob {digest} vanished before it was linked");
            long? limit = await _quotas.GetLimitAsync(target.Repository.Project, ct).ConfigureAwait(false);
            await ((IQuotaBlobLinkStore)_metadata).LinkBlobAsync(target.Repository, digest, size, limit, ct).ConfigureAwait(false);
            return size;
        }
    }

    /// <summary>Streams the blob from upstream into an upload session, verified against the digest on commit.</summary>
    private async Task<long> DownloadAsync(ProxyTarget target, Digest digest, CancellationToken ct)
    {
        await Task.Yield(); // leave GetOrAdd before any work
        Interlocked.Increment(ref _upstreamBlobFetches);
        string upload = "proxy-" + Guid.NewGuid().ToString("N");
        _blobs.CreateUpload(upload);
        try
        {
            await using (var body = await target.Upstream.OpenBlobAsync(target.UpstreamRepository, digest, ct).ConfigureAwait(false))
            {
                await _blobs.AppendAsync(upload, body, ct).ConfigureAwait(false);
            }

            long size;
            using (await _locks.AcquireAsync(digest, ct).ConfigureAwait(false))
            {
                size = await _blobs.CommitAsync(upload, digest, ct).ConfigureAwait(false);
            }

            Log.BlobFetched(_logger, digest, target.Repository, size, target.Upstream.Registry.Name);
            return size;
        }
        catch
        {
            _blobs.Cancel(upload);
            throw;
        }
    }

    private void StoreInBackground(ProxyTarget target, StoredManifest manifest, string? tag, string key)
    {
        string storeKey = target.Repository.Value + "@" + manifest.Digest + "#" + tag;
        // The task waits for the gate so its cleanup cannot run before it is in the table.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _manifestStores.GetOrAdd(storeKey, _ => Task.Run(async () =>
        {
            await gate.Task.ConfigureAwait(false);
            try
            {
                await StoreManifestAsync(target, manifest, tag, 0).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // The client got its manifest from upstream; only the cache copy is missing.
                Log.StoreFailed(_logger, target.Repository, manifest.Digest, e.Message);
            }
            finally
            {
                if (tag is not null)
                {
                    _fetchedTags.TryRemove(new KeyValuePair<string, StoredManifest>(key, manifest));
                }

                _manifestStores.TryRemove(storeKey, out Task? _);
            }
        }));
        gate.TrySetResult();
    }

    /// <summary>
    /// Stores a fetched manifest the way a push would: its blobs (and an index's child manifests)
    /// first, then the manifest itself, under the project's quota.
    /// </summary>
    private async Task StoreManifestAsync(ProxyTarget target, StoredManifest manifest, string? tag, int depth)
    {
        var ct = _stopping.Token;
        var parsed = ManifestParser.Parse(manifest.Content, manifest.MediaType);
        if (depth < 2)
        {
            foreach (var child in parsed.Manifests)
            {
                var digest = child.Digest;
                if (await _metadata.GetManifestAsync(target.Repository, digest, ct).ConfigureAwait(false) is not null)
                {
                    continue;
                }

                var fetched = await target.Upstream.GetManifestAsync(target.UpstreamRepository, digest, ct).ConfigureAwait(false)
                    ?? throw new InvalidDataException($"upstream does not have {digest}, which the index lists");
                await StoreManifestAsync(target, new StoredManifest(fetched.Digest, fetched.MediaType, fetched.Content, null), null, depth + 1).ConfigureAwait(false);
            }
        }

        foreach (var blob in parsed.Blobs)
        {
            await EnsureBlobAsync(target, blob.Digest).ConfigureAwait(false);
        }

        _manifestCache.Invalidate(target.Repository.Value);
        try
        {
            await _metadata.PutManifestAsync(target.Repository, manifest.Digest, parsed.MediaType, manifest.Content, parsed,
                tag is null ? [] : [tag], _quotas.GetLimitAsync, ct).ConfigureAwait(false);
        }
        finally
        {
            _manifestCache.Invalidate(target.Repository.Value);
        }

        await _pulls.RecordAsync(target.Repository, manifest.Digest, parsed.IsIndex, _time.GetUtcNow(), ct).ConfigureAwait(false);
        Log.ManifestCached(_logger, target.Repository, manifest.Digest, tag ?? "-");
    }

    /// <summary>The outside being down, slow or refusing — not the client going away.</summary>
    private static bool IsUpstreamTrouble(Exception e, CancellationToken request) => e switch
    {
        OperationCanceledException => !request.IsCancellationRequested,
        UpstreamStatusException s => s.Status is HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError
            or HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.NotFound,
        HttpRequestException or IOException or InvalidDataException => true,
        OciException o => o.Code == OciErrorCode.ManifestInvalid,
        _ => false,
    };

    private static partial class Log
    {
        [LoggerMessage(EventId = 40, Level = LogLevel.Information, Message = "proxy {Repository}:{Reference} fetched from {Upstream} ({Digest})")]
        public static partial void ManifestFetched(ILogger logger, RepositoryName repository, string reference, Digest digest, string upstream);

        [LoggerMessage(EventId = 41, Level = LogLevel.Warning, Message = "proxy {Repository}:{Reference}: upstream {Upstream} failed ({Reason}); serving the cached manifest")]
        public static partial void ServedStale(ILogger logger, RepositoryName repository, string reference, string upstream, string reason);

        [LoggerMessage(EventId = 42, Level = LogLevel.Warning, Message = "proxy {Repository}:{Reference}: upstream {Upstream} failed ({Reason}) and nothing is cached")]
        public static partial void UpstreamFailed(ILogger logger, RepositoryName repository, string reference, string upstream, string reason);

        [LoggerMessage(EventId = 43, Level = LogLevel.Information, Message = "proxy blob {Digest} fetched into {Repository} from {Upstream} ({Size} bytes)")]
        public static partial void BlobFetched(ILogger logger, Digest digest, RepositoryName repository, long size, string upstream);

        [LoggerMessage(EventId = 44, Level = LogLevel.Information, Message = "proxy {Repository}@{Digest} cached (tag {Tag})")]
        public static partial void ManifestCached(ILogger logger, RepositoryName repository, Digest digest, string tag);

        [LoggerMessage(EventId = 45, Level = LogLevel.Warning, Message = "proxy {Repository}@{Digest} served but not cached: {Reason}")]
        public static partial void StoreFailed(ILogger logger, RepositoryName repository, Digest digest, string reason);
    }
}

/// <summary>
/// One HTTP client per upstream endpoint as configured (an edit of the endpoint gets a new one): connections
/// and tokens are reused between pulls. An insecure endpoint skips certificate checks, as asked.
/// </summary>
public sealed class UpstreamClients : IDisposable
{
    // Keyed by every field of the endpoint (a record): any edit, even within the same second, gets a new client.
    private readonly ConcurrentDictionary<UpstreamRegistry, UpstreamClient> _clients = new();
    private readonly List<HttpClient> _https = [];

    public UpstreamClient For(UpstreamRegistry registry) => _clients.GetOrAdd(registry, Create);

    /// <summary>A client for a check of settings not stored (ping of an endpoint being created).</summary>
    public static (UpstreamClient Client, IDisposable Lifetime) CreateTransient(UpstreamRegistry registry)
    {
        var http = NewHttpClient(registry);
        return (new UpstreamClient(registry, http), http);
    }

    public void Dispose()
    {
        lock (_https)
        {
            foreach (var http in _https)
            {
                http.Dispose();
            }
        }
    }

    private UpstreamClient Create(UpstreamRegistry registry)
    {
        var http = NewHttpClient(registry);
        lock (_https)
        {
            _https.Add(http);
        }

        return new UpstreamClient(registry, http);
    }

    private static HttpClient NewHttpClient(UpstreamRegistry registry)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = true, // blob GETs redirect to storage (S3, CDN) on most registries
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(15),
        };
        if (registry.Insecure)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }

        return new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }
}
