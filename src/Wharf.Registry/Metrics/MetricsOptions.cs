namespace Wharf.Registry.Metrics;

/// <summary>
/// Settings under <c>Metrics</c> (<c>wharfd --Metrics:Enabled=true</c>), as Harbor's <c>metric</c>
/// block: off by default; on the registry's own port unless <see cref="Port"/> names another.
/// </summary>
public sealed class MetricsOptions
{
    public bool Enabled { get; set; }

    /// <summary>A separate port for the metrics (Harbor uses 9090); null serves them on the registry's port.</summary>
    public int? Port { get; set; }

    /// <summary>The address the separate port listens on: <c>+</c> for every interface, or a host name or IP.</summary>
    public string Host { get; set; } = "+";

    public string Path { get; set; } = "/metrics";
}
