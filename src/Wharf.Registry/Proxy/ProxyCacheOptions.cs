namespace Wharf.Registry.Proxy;

/// <summary>Configuration <c>Registry:ProxyCache:*</c>.</summary>
public sealed class ProxyCacheOptions
{
    /// <summary>A cached tag is re-checked upstream (one HEAD) at most this often; digests never are.</summary>
    public TimeSpan TagRecheckInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a manifest request upstream may take before the cached copy is served instead.</summary>
    public TimeSpan UpstreamTimeout { get; set; } = TimeSpan.FromSeconds(15);
}
