using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Wharf.Registry.Metrics;

namespace Wharf.Registry.Webhooks;

/// <summary>
/// The bounded in-memory queue between whoever saw an event (the /v2 event sink, the replication
/// runner) and the dispatcher. Writing never waits: past <see cref="WebhookOptions.QueueLength"/>
/// events are dropped, logged and counted (<c>wharf_webhook_events_dropped_total</c>). It depends on
/// nothing that raises events, so the replication runner can hold it without a cycle.
/// </summary>
public sealed partial class WebhookQueue(WebhookOptions options, RegistryMetrics metrics, ILogger<WebhookQueue> logger)
{
    private readonly Channel<WebhookEvent> _queue = Channel.CreateBounded<WebhookEvent>(
        new BoundedChannelOptions(Math.Max(1, options.QueueLength)) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    internal ChannelReader<WebhookEvent> Reader => _queue.Reader;

    public void Offer(WebhookEvent webhookEvent)
    {
        ArgumentNullException.ThrowIfNull(webhookEvent);
        if (!_queue.Writer.TryWrite(webhookEvent))
        {
            metrics.WebhookEventsDropped.Inc();
            LogDropped(logger, webhookEvent.Type, webhookEvent.Project);
        }
    }

    [LoggerMessage(EventId = 1601, Level = LogLevel.Warning, Message = "Webhook queue full: {Type} event of project {Project} dropped")]
    private static partial void LogDropped(ILogger logger, string type, string project);
}
