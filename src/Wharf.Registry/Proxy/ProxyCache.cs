using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Wharf.Content;
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
    private readonly ConcurrentDictionary<Digest, BlobDownload> _blobFetches = new();
    private readonly ConcurrentDictionary<Task, byte> _pendingLinks = new();
    private readonly ConcurrentDictionary<string, Lazy<Task<StoredManifest?>>> _manifestFetches = new(StringComparer.Ordinal);
    private readonly string _spoolDirectory;
    private readonly ConcurrentDictionary<string, Task> _manifestStores = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();

    public ProxyCache(
        IProjectStore projects, IUpstreamRegistryStore registries, IMetadataStore metadata, IBlobStore blobs, Gc.BlobLocks locks, IProjectQuotas quotas,
        ManifestCache manifestCache, ProxyPullLog pulls, UpstreamClients clients, ProxyCacheOptions options, TimeProvider time, ILogger<ProxyCache> logger,
        RegistryOptions registryOptions)
    {
        // Spools of downloads a stop interrupted are of no use: the next pull fetches again.
        _spoolDirectory = Path.Combine(registryOptions.DataDirectory, "proxy-downloads");
        if (Directory.Exists(_spoolDirectory))
        {
            Directory.Delete(_spoolDirectory, recursive: true);
        }

        PrivateFiles.CreateDirectory(_spoolDirectory);
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

    /// <summary>Manifests fetched upstream so far (a HEAD that found the cached one current does not count).</summary>
    public long UpstreamManifestFetches => Interlocked.Read(ref _upstreamManifestFetches);

    private long _upstreamManifestFetches;

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

        try
        {
            // Single flight: concurrent pulls of the same reference share one upstream check or fetch,
            // which belongs to none of them (a client going away does not cancel it for the others).
            var fresh = new Lazy<Task<StoredManifest?>>(() => AskUpstreamAsync(target, reference, cached, key, now), LazyThreadSafetyMode.ExecutionAndPublication);
            var shared = _manifestFetches.GetOrAdd(key, fresh);
            if (ReferenceEquals(shared, fresh))
            {
                _ = shared.Value.ContinueWith(_ => _manifestFetches.TryRemove(new KeyValuePair<string, Lazy<Task<StoredManifest?>>>(key, fresh)),
                    CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            return await shared.Value.WaitAsync(cancellationToken).ConfigureAwait(false) ?? cached;
        }
        catch (Exception e) when (cached is not null && IsUpstreamTrouble(e, cancellationToken))
        {
            Log.ServedStale(_logger, repository, reference.ToString(), target.Upstream.Registry.Name, UpstreamClient.Describe(e));
            return cached;
        }
        catch (Exception e) when (IsUpstreamTrouble(e, cancellationToken))
        {
            Log.UpstreamFailed(_logger, repository, reference.ToString(), target.Upstream.Registry.Name, UpstreamClient.Describe(e));
            throw new OciException(OciErrorCode.ManifestUnknown, $"manifest {reference} is not cached and upstream {target.Upstream.Registry.Name} cannot be reached: {UpstreamClient.Describe(e)}");
        }
    }

    /// <summary>
    /// One conversation with the upstream about a reference: a HEAD when something is cached (the
    /// cached manifest stays when the digest is unchanged or the tag is gone upstream), else or then a
    /// GET of the manifest, which is served and stored in the background. Null: keep what is cached.
    /// </summary>
    private async Task<StoredManifest?> AskUpstreamAsync(ProxyTarget target, ManifestReference reference, StoredManifest? cached, string key, DateTimeOffset now)
    {
        await Task.Yield(); // leave GetOrAdd before any work
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        timeout.CancelAfter(_options.UpstreamTimeout);
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
            return null;
        }

        Interlocked.Increment(ref _upstreamManifestFetches);
        var manifest = new StoredManifest(fetched.Digest, fetched.MediaType, fetched.Content, null);
        Log.ManifestFetched(_logger, target.Repository, reference.ToString(), fetched.Digest, target.Upstream.Registry.Name);
        if (!reference.IsDigest)
        {
            _tagChecked[key] = now;
            _fetchedTags[key] = manifest;
        }

        StoreInBackground(target, manifest, reference.IsDigest ? null : reference.Tag.Value, key);
        return manifest;
    }

    /// <summary>
    /// Makes the blob available in the repository of a proxy cache: links it when stored already,
    /// else fetches it upstream (once per digest, whoever else asks waits for that fetch). Returns its
    /// size, or null when the repository is not a proxy cache.
    /// </summary>
    public async Task<long?> FetchBlobAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken) =>
        (await OpenBlobAsync(repository, digest, streaming: false, cancellationToken).ConfigureAwait(false))?.Size;

    /// <summary>
    /// A blob of a proxy-cache repository for a GET: with <paramref name="streaming"/>, a miss is
    /// answered while it downloads (<see cref="ProxyBlob.Body"/> reads the bytes as they arrive; the
    /// blob is linked to the repository once stored). Without it — a range request —, or when the
    /// project has a storage limit (the quota decides at link time, before anything is served), or
    /// when the upstream does not announce the size, the blob is stored and linked first and
    /// <see cref="ProxyBlob.Body"/> is null: read it from the store. Null when the repository is not
    /// a proxy cache.
    /// </summary>
    public async Task<ProxyBlob?> OpenBlobAsync(RepositoryName repository, Digest digest, bool streaming, CancellationToken cancellationToken)
    {
        var target = await FindAsync(repository, cancellationToken).ConfigureAwait(false);
        if (target is null)
        {
            return null;
        }

        try
        {
            if (streaming && _blobs.Stat(digest) is null
                && await _quotas.GetLimitAsync(repository.Project, cancellationToken).ConfigureAwait(false) is null)
            {
                var download = StartOrJoin(target, digest);
                if (await download.AnnouncedLength.WaitAsync(cancellationToken).ConfigureAwait(false) is long length
                    && download.TryOpenReader() is { } body)
                {
                    LinkWhenStored(target, download);
                    return new ProxyBlob(length, body);
                }
            }

            return new ProxyBlob(await EnsureBlobAsync(target, digest).WaitAsync(cancellationToken).ConfigureAwait(false), null);
        }
        catch (Exception e) when (IsUpstreamTrouble(e, cancellationToken))
        {
            Log.UpstreamFailed(_logger, repository, digest.ToString(), target.Upstream.Registry.Name, UpstreamClient.Describe(e));
            throw new OciException(OciErrorCode.BlobUnknown, $"blob {digest} is not cached and upstream {target.Upstream.Registry.Name} cannot serve it: {UpstreamClient.Describe(e)}");
        }
    }

    /// <summary>After a streamed answer: the blob joins the repository once the download is stored.</summary>
    private void LinkWhenStored(ProxyTarget target, BlobDownload download)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var link = Task.Run(async () =>
        {
            await gate.Task.ConfigureAwait(false);
            try
            {
                await download.Stored.ConfigureAwait(false);
                await LinkAsync(target, download.Digest).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // The client had the bytes (or saw the download fail); the next pull fetches again.
                Log.StoreFailed(_logger, target.Repository, download.Digest, e.Message);
            }
        });
        _pendingLinks.TryAdd(link, 0);
        _ = link.ContinueWith(t => _pendingLinks.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        gate.TrySetResult();
    }

    /// <summary>Waits until every manifest fetched so far is stored (or failed to store): for tests and shutdown.</summary>
    public async Task WhenStoredAsync()
    {
        await Task.WhenAll(_manifestStores.Values.Append(Task.CompletedTask)).ConfigureAwait(false);
        await Task.WhenAll(_pendingLinks.Keys.Append(Task.CompletedTask)).ConfigureAwait(false);
    }

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
            await StartOrJoin(target, digest).Stored.ConfigureAwait(false);
        }

        return await LinkAsync(target, digest).ConfigureAwait(false);
    }

    /// <summary>Links a stored blob to the repository, within the project's quota.</summary>
    private async Task<long> LinkAsync(ProxyTarget target, Digest digest)
    {
        var ct = _stopping.Token;
        // Under GC's lock on the digest, as an upload commits: the file is still there when linked.
        using (await _locks.AcquireAsync(digest, ct).ConfigureAwait(false))
        {
            long size = _blobs.Stat(digest) ?? throw new InvalidDataException($"blob {digest} vanished before it was linked");
            long? limit = await _quotas.GetLimitAsync(target.Repository.Project, ct).ConfigureAwait(false);
            await ((IQuotaBlobLinkStore)_metadata).LinkBlobAsync(target.Repository, digest, size, limit, ct).ConfigureAwait(false);
            return size;
        }
    }

    /// <summary>
    /// The download of the digest in flight, or a new one. Single flight: the first caller's download
    /// is everybody's; it is not tied to any one client's request, so a client that goes away does not
    /// fail the others. A finished download (stored or failed) leaves the table first, so the next miss
    /// after a failure tries again.
    /// </summary>
    private BlobDownload StartOrJoin(ProxyTarget target, Digest digest)
    {
        var fresh = new BlobDownload(digest, Path.Combine(_spoolDirectory, digest.Encoded + "-" + Guid.NewGuid().ToString("N")));
        var download = _blobFetches.GetOrAdd(digest, fresh);
        if (ReferenceEquals(download, fresh))
        {
            _ = DownloadAsync(target, fresh, _stopping.Token);
        }

        return download;
    }

    /// <summary>
    /// Streams the blob from upstream into an upload session (verified against the digest on commit)
    /// and, on the way, into the spool that readers tail.
    /// </summary>
    private async Task DownloadAsync(ProxyTarget target, BlobDownload download, CancellationToken ct)
    {
        await Task.Yield(); // leave GetOrAdd before any work
        var digest = download.Digest;
        string upload = "proxy-" + Guid.NewGuid().ToString("N");
        try
        {
            if (_blobs.Stat(digest) is long already)
            {
                // Committed by a download that ended between the caller's check and this one.
                Finish(download, already, null);
                return;
            }

            Interlocked.Increment(ref _upstreamBlobFetches);
            _blobs.CreateUpload(upload);
            await using (var body = await target.Upstream.OpenBlobAsync(target.UpstreamRepository, digest, ct).ConfigureAwait(false))
            await using (var spool = download.CreateSpool())
            {
                download.Announce((body as ResponseBodyStream)?.DeclaredLength);
                await _blobs.AppendAsync(upload, new SpoolingStream(body, spool, download, _options.BlobIdleTimeout), ct).ConfigureAwait(false);
            }

            long size;
            using (await _locks.AcquireAsync(digest, ct).ConfigureAwait(false))
            {
                size = await _blobs.CommitAsync(upload, digest, ct).ConfigureAwait(false);
            }

            Log.BlobFetched(_logger, digest, target.Repository, size, target.Upstream.Registry.Name);
            Finish(download, size, null);
        }
        catch (Exception e)
        {
            _blobs.Cancel(upload);
            Finish(download, 0, e);
        }
    }

    private void Finish(BlobDownload download, long size, Exception? error)
    {
        _blobFetches.TryRemove(new KeyValuePair<Digest, BlobDownload>(download.Digest, download));
        if (error is null)
        {
            download.Complete(size);
        }
        else
        {
            download.Fail(error);
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

/// <summary>A blob of a proxy cache to answer: its size, and its bytes while they arrive (null: read the store).</summary>
public sealed record ProxyBlob(long Size, Stream? Body);

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
        else if (registry.CaCertificate is { } pem && UpstreamRegistry.TryLoadCaCertificates(pem, out var roots, out _))
        {
            // The endpoint's own CA replaces the system store for it; the host name is still checked.
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.AddRange(roots);
            handler.SslOptions.CertificateChainPolicy = policy;
        }

        return new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }
}
