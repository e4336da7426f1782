using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Wharf.Registry.Api;
using Wharf.Registry.Metrics;

namespace Wharf.Registry.Webhooks;

/// <summary>
/// Hands the registry's events to the project's webhook policies. On the request path it only checks
/// the in-memory policy list (a pull in a project nobody listens to costs a dictionary lookup) and
/// writes to a bounded queue; it never waits and never touches the database. Past the queue's
/// length events are dropped, logged and counted (<c>wharf_webhook_events_dropped_total</c>).
/// </summary>
public sealed partial class WebhookNotifier(IRegistryEvents inner, WebhookStore store, WebhookOptions options, RegistryMetrics metrics, TimeProvider time, ILogger<WebhookNotifier> logger)
    : IRegistryEvents
{
    private readonly Channel<WebhookEvent> _queue = Channel.CreateBounded<WebhookEvent>(
        new BoundedChannelOptions(Math.Max(1, options.QueueLength)) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    internal ChannelReader<WebhookEvent> Events => _queue.Reader;

    public void Publish(HttpContext context, in RegistryEvent registryEvent)
    {
        inner.Publish(context, registryEvent);
        string? type = registryEvent.Kind switch
        {
            RegistryEventKind.ManifestPushed => WebhookEventTypes.PushArtifact,
            RegistryEventKind.ManifestPulled => WebhookEventTypes.PullArtifact,
            RegistryEventKind.ManifestDeleted => WebhookEventTypes.DeleteArtifact,
            RegistryEventKind.QuotaExceeded => WebhookEventTypes.QuotaExceed,
            _ => null,
        };
        string project = registryEvent.Repository.Project;
        if (type is null || !MayListen(project, type))
        {
            return;
        }

        var reference = registryEvent.Reference;
        string? tag = reference.IsDigest || reference.ToString().Length == 0 ? null : reference.ToString();
        var digest = registryEvent.Digest ?? (reference.IsDigest ? reference.Digest : null);
        Offer(new WebhookEvent(type, project, registryEvent.Repository, tag, digest, RegistryCaller.NameOf(context), time.GetUtcNow(),
            context.Request.Host.Value ?? "", registryEvent.Detail));
    }

    /// <summary>For events that do not come from a /v2 request (replication).</summary>
    public void Offer(WebhookEvent webhookEvent)
    {
        ArgumentNullException.ThrowIfNull(webhookEvent);
        if (!_queue.Writer.TryWrite(webhookEvent))
        {
            metrics.WebhookEventsDropped.Inc();
            LogDropped(logger, webhookEvent.Type, webhookEvent.Project);
        }
    }

    /// <summary>
    /// False only when the policies are known and none of the project's wants the event (a push also
    /// interests QUOTA_WARNING listeners). Before the first read the dispatcher decides.
    /// </summary>
    private bool MayListen(string project, string type)
    {
        if (store.CachedPolicies is not { } cached)
        {
            return true;
        }

        return cached.TryGetValue(project, out var policies)
            && policies.Any(p => p.Wants(type) || (type == WebhookEventTypes.PushArtifact && p.Wants(WebhookEventTypes.QuotaWarning)));
    }

    [LoggerMessage(EventId = 1601, Level = LogLevel.Warning, Message = "Webhook queue full: {Type} event of project {Project} dropped")]
    private static partial void LogDropped(ILogger logger, string type, string project);
}
