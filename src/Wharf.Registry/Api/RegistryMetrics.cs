using Prometheus;

namespace Wharf.Registry.Api;

/// <summary>Registry counters exported on /metrics next to the process metrics.</summary>
internal static class RegistryMetrics
{
    public static readonly Counter Requests = Metrics.CreateCounter(
        "wharf_registry_requests_total", "Distribution API requests by route and status class.", "route", "method", "status");

    public static readonly Counter BlobBytesReceived = Metrics.CreateCounter(
        "wharf_registry_blob_bytes_received_total", "Bytes of blobs committed by pushes.");

    public static readonly Counter BlobBytesSent = Metrics.CreateCounter(
        "wharf_registry_blob_bytes_sent_total", "Bytes of blob bodies handed to connections by pulls (ranges count what they sent).");

    public static readonly Counter ManifestsPushed = Metrics.CreateCounter(
        "wharf_registry_manifests_pushed_total", "Manifests stored (new or re-tagged).");

    public static readonly Counter BlobsMounted = Metrics.CreateCounter(
        "wharf_registry_blobs_mounted_total", "Blobs linked by cross-repository mount instead of an upload.");
}
