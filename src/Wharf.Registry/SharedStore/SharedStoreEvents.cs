using Microsoft.AspNetCore.Http;
using Wharf.Oci;
using Wharf.Registry.Api;
using Wharf.Registry.Projects;

namespace Wharf.Registry.SharedStore;

/// <summary>Pushes and deletes on /v2 name a repository for the publisher to look at; the request only writes to its queue.</summary>
public sealed class SharedStoreRegistryEvents(IRegistryEvents inner, SharedStorePublisher publisher) : IRegistryEvents
{
    public void Publish(HttpContext context, in RegistryEvent registryEvent)
    {
        inner.Publish(context, registryEvent);
        if (registryEvent.Kind is RegistryEventKind.ManifestPushed or RegistryEventKind.TagDeleted or RegistryEventKind.ManifestDeleted)
        {
            publisher.Offer(registryEvent.Repository);
        }
    }
}

/// <summary>Deletes outside /v2 (the management API, the portal, retention runs, repository deletes) do the same.</summary>
public sealed class SharedStoreArtifactEvents(IArtifactEvents inner, SharedStorePublisher publisher) : IArtifactEvents
{
    public void ArtifactDeleted(ArtifactDeletion deletion)
    {
        ArgumentNullException.ThrowIfNull(deletion);
        inner.ArtifactDeleted(deletion);
        publisher.Offer(deletion.Repository);
    }

    public void TagChanged(RepositoryName repository, string tag)
    {
        inner.TagChanged(repository, tag);
        publisher.Offer(repository);
    }
}
