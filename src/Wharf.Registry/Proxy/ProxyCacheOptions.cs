namespace Wharf.Registry.Proxy;

/// <summary>Configuration <c>Registry:ProxyCache:*</c>.</summary>
public sealed class ProxyCacheOptions
{
    /// <summary>A cached tag is re-checked upstream (one HEAD) at most this often; digests never are.</summary>
    public TimeSpan TagRecheckInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a manifest request upstream may take before the cached copy is served instead.</summary>
    public TimeSpan UpstreamTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long a blob download may go without a single byte from the upstream before it is given up
    /// (its readers get a cut response, the next pull fetches again); a slow upstream is fine, a silent one is not.
    /// </summary>
    public TimeSpan BlobIdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Cached manifests nobody pulled for this long are evicted (then GC frees their blobs); zero keeps them.</summary>
    public TimeSpan EvictAfter { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How often eviction runs; zero disables the schedule.</summary>
    public TimeSpan EvictionInterval { get; set; } = TimeSpan.FromHours(1);
}
