using Microsoft.AspNetCore.Http;
using Wharf.Registry.Api;

namespace Wharf.Registry.Webhooks;

/// <summary>
/// Hands the registry's events to the project's webhook policies. On the request path it only checks
/// the in-memory policy list (a pull in a project nobody listens to costs a dictionary lookup) and
/// writes to the bounded <see cref="WebhookQueue"/>; it never waits and never touches the database.
/// </summary>
public sealed class WebhookNotifier(IRegistryEvents inner, WebhookStore store, WebhookQueue queue, TimeProvider time) : IRegistryEvents
{
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
        queue.Offer(new WebhookEvent(type, project, registryEvent.Repository, tag, digest, RegistryCaller.NameOf(context), time.GetUtcNow(),
            context.Request.Host.Value ?? "", registryEvent.Detail));
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
}
