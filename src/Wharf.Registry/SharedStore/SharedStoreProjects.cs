using Wharf.Registry.Management;
using Wharf.Registry.Projects;

namespace Wharf.Registry.SharedStore;

/// <summary>
/// The rule for a project's <c>publish_to_shared_store</c>, for the project API and the portal's settings
/// form alike: asking for it on a registry without a shared image store is refused (nobody waits for images
/// that never come); a change is recorded and handed to the publisher. Who may change it (project admins)
/// is <see cref="ProjectRules"/>' to check before.
/// </summary>
public sealed class SharedStoreProjects(SharedStoreOptions options, SharedStoreRecords records, SharedStorePublisher publisher)
{
    /// <summary>Whether this registry publishes at all (<c>Registry:SharedStore:Path</c> is set).</summary>
    public bool Available => options.Enabled;

    /// <summary>Refuses <c>true</c> on a registry without a shared image store, before anything changes.</summary>
    public void RequireAvailable(bool publish)
    {
        if (publish && !options.Enabled)
        {
            throw ApiException.BadRequest(
                $"metadata.{SharedStoreMetadata.Key}: this registry has no shared image store (set Registry:SharedStore:Path in wharfd's configuration)");
        }
    }

    public Task<bool> IsPublishingAsync(Project project, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(project);
        return records.IsPublishingAsync(project.Id, cancellationToken);
    }

    /// <summary>Turns publishing on or off; false when it already was so (nothing to record or audit).</summary>
    public async Task<bool> SetAsync(Project project, bool publish, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(project);
        RequireAvailable(publish);
        if (await records.IsPublishingAsync(project.Id, cancellationToken).ConfigureAwait(false) == publish)
        {
            return false;
        }

        await records.SetPublishingAsync(project.Id, publish, cancellationToken).ConfigureAwait(false);
        publisher.ProjectChanged(project.Name, publish);
        return true;
    }
}
