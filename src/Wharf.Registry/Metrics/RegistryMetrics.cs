using Prometheus;

namespace Wharf.Registry.Metrics;

/// <summary>
/// wharfd's series, exported on /metrics when <c>Metrics:Enabled</c> is true. Each host has its own
/// registry (not prometheus-net's static default), so two wharfd in one process — tests — count
/// apart. Counting is always on and costs an increment; what the switch decides is whether anyone
/// can read it and whether requests are timed.
/// </summary>
public sealed class RegistryMetrics
{
    /// <summary>Latency buckets from 1 ms to 30 s: manifest answers are milliseconds, layer streams many seconds.</summary>
    private static readonly double[] SecondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private static readonly double[] DatabaseBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

    public RegistryMetrics()
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        Requests = factory.CreateCounter("wharf_http_requests_total", "HTTP requests by route template, method and status code.", "route", "method", "code");
        RequestDuration = factory.CreateHistogram("wharf_http_request_duration_seconds", "Time to answer an HTTP request, by route template and method.",
            new HistogramConfiguration { LabelNames = ["route", "method"], Buckets = SecondsBuckets });
        BytesReceived = factory.CreateCounter("wharf_http_received_bytes_total", "Request body bytes (as declared by Content-Length) by route template.", "route");
        BytesSent = factory.CreateCounter("wharf_http_sent_bytes_total", "Response body bytes (as declared by Content-Length) by route template.", "route");
        UploadsInFlight = factory.CreateGauge("wharf_registry_uploads_in_flight", "Blob upload requests (POST, PATCH, PUT of an upload session) being received now.");
        BlobBytesReceived = factory.CreateCounter("wharf_registry_blob_bytes_received_total", "Bytes of blobs committed by pushes.");
        BlobBytesSent = factory.CreateCounter("wharf_registry_blob_bytes_sent_total", "Bytes of blob bodies handed to connections by pulls (ranges count what they sent).");
        ManifestsPushed = factory.CreateCounter("wharf_registry_manifests_pushed_total", "Manifests stored (new or re-tagged).");
        BlobsMounted = factory.CreateCounter("wharf_registry_blobs_mounted_total", "Blobs linked by cross-repository mount instead of an upload.");
        ProjectStorage = factory.CreateGauge("wharf_project_storage_bytes", "Distinct bytes stored per project (what its quota counts).", "project");
        ProjectQuota = factory.CreateGauge("wharf_project_quota_bytes", "Storage limit per project; absent when unlimited.", "project");
        GcRuns = factory.CreateCounter("wharf_gc_runs_total", "Garbage collection runs by outcome.", "status", "dry_run");
        GcBytesFreed = factory.CreateCounter("wharf_gc_bytes_freed_total", "Bytes of blobs garbage collection removed.");
        GcBlobsRemoved = factory.CreateCounter("wharf_gc_blobs_removed_total", "Blobs garbage collection removed.");
        TokensIssued = factory.CreateCounter("wharf_auth_tokens_issued_total", "Bearer tokens issued by /service/token.");
        AuthFailures = factory.CreateCounter("wharf_auth_failures_total", "Requests answered 401 (missing or wrong credentials, or a token without the scope), by route template.", "route");
        DatabaseDuration = factory.CreateHistogram("wharf_db_operation_duration_seconds", "Time of metadata store calls on the registry API's path, by operation.",
            new HistogramConfiguration { LabelNames = ["operation"], Buckets = DatabaseBuckets });
        WebhookDeliveries = factory.CreateCounter("wharf_webhook_deliveries_total", "Webhook delivery attempts by result (success, retry, failed).", "result");
        WebhookDeliveryDuration = factory.CreateHistogram("wharf_webhook_delivery_duration_seconds", "Time of one webhook delivery attempt.",
            new HistogramConfiguration { Buckets = SecondsBuckets });
        WebhookEventsDropped = factory.CreateCounter("wharf_webhook_events_dropped_total", "Events not delivered because the webhook queue was full.");
        WebhookQueued = factory.CreateGauge("wharf_webhook_deliveries_pending", "Webhook deliveries waiting to be sent or retried.");
    }

    public CollectorRegistry Registry { get; }

    public Counter Requests { get; }

    public Histogram RequestDuration { get; }

    public Counter BytesReceived { get; }

    public Counter BytesSent { get; }

    public Gauge UploadsInFlight { get; }

    public Counter BlobBytesReceived { get; }

    public Counter BlobBytesSent { get; }

    public Counter ManifestsPushed { get; }

    public Counter BlobsMounted { get; }

    public Gauge ProjectStorage { get; }

    public Gauge ProjectQuota { get; }

    public Counter GcRuns { get; }

    public Counter GcBytesFreed { get; }

    public Counter GcBlobsRemoved { get; }

    public Counter TokensIssued { get; }

    public Counter AuthFailures { get; }

    public Histogram DatabaseDuration { get; }

    public Counter WebhookDeliveries { get; }

    public Histogram WebhookDeliveryDuration { get; }

    public Counter WebhookEventsDropped { get; }

    public Gauge WebhookQueued { get; }
}
