using Microsoft.AspNetCore.Http;
using Wharf.Registry.Api;

namespace Wharf.Registry.Audit;

/// <summary>Turns the registry's push, pull and delete events into audit entries, and counts pulls.</summary>
public sealed class AuditRegistryEvents(IAuditLog audit, Accounting.PullAccounting pulls) : IRegistryEvents
{
    public void Publish(HttpContext context, in RegistryEvent registryEvent)
    {
        string who = RegistryCaller.NameOf(context);
        var repository = registryEvent.Repository;
        string reference = registryEvent.Reference.ToString();
        string project = repository.Project;
        string artifact = registryEvent.Reference.IsDigest ? $"{repository}@{reference}" : $"{repository}:{reference}";
        switch (registryEvent.Kind)
        {
            case RegistryEventKind.ManifestPulled when registryEvent.Digest is { } digest:
                audit.RecordPull(who, repository, registryEvent.Reference, digest);
                pulls.Record(repository, digest);
                break;
            case RegistryEventKind.ManifestPushed:
                audit.Record(who, "push", "artifact", artifact, project);
                break;
            case RegistryEventKind.ManifestDeleted:
                audit.Record(who, "delete", "artifact", artifact, project);
                break;
            case RegistryEventKind.TagDeleted:
                audit.Record(who, "delete", "tag", artifact, project);
                break;
            case RegistryEventKind.BlobDeleted:
                audit.Record(who, "delete", "blob", $"{repository}@{reference}", project);
                break;
        }
    }
}
