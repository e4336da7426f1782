using Wharf.Registry.Projects;

namespace Wharf.Registry.Webhooks;

/// <summary>
/// DELETE_ARTIFACT for the deletes that do not pass through /v2: the management API's artifact and
/// repository deletes, the portal's delete buttons and retention runs (all go through
/// <see cref="ArtifactRules"/>). Like <see cref="WebhookNotifier"/> it only looks at the in-memory policy
/// list and writes to the bounded queue. The payload's tag is the first tag the artifact carried, as Harbor's.
/// </summary>
public sealed class WebhookArtifactEvents(WebhookStore store, WebhookQueue queue, TimeProvider time) : IArtifactEvents
{
    public void ArtifactDeleted(ArtifactDeletion deletion)
    {
        ArgumentNullException.ThrowIfNull(deletion);
        string project = deletion.Repository.Project;
        if (store.CachedPolicies is { } cached
            && !(cached.TryGetValue(project, out var policies) && policies.Any(p => p.Wants(WebhookEventTypes.DeleteArtifact))))
        {
            return;
        }

        string? tag = deletion.Tags.Count > 0 ? deletion.Tags[0] : null;
        queue.Offer(new WebhookEvent(WebhookEventTypes.DeleteArtifact, project, deletion.Repository, tag, deletion.Digest, deletion.Operator, time.GetUtcNow(), deletion.Host));
    }
}
