using Wharf.Content;
using Wharf.Oci;

namespace Wharf.Registry.Replication;

/// <summary>One side of a replication: this wharfd or a registered endpoint.</summary>
public interface IReplicationEndpoint
{
    /// <summary>For logs: "local" or the endpoint's name and URL.</summary>
    string Name { get; }

    /// <summary>Every repository (the catalog).</summary>
    Task<IReadOnlyList<string>> ListRepositoriesAsync(CancellationToken cancellationToken);

    IReplicationRepository Repository(string repository);
}

/// <summary>A repository as the copy engine's target, plus what replication needs beyond a copy.</summary>
public interface IReplicationRepository : ITarget, IMountable
{
    string Path { get; }

    /// <summary>Empty when the repository does not exist.</summary>
    Task<IReadOnlyList<string>> ListTagsAsync(CancellationToken cancellationToken);

    /// <summary>The digest a tag points at, or null when there is no such tag.</summary>
    Task<Digest?> FindTagAsync(string tag, CancellationToken cancellationToken);

    /// <summary>Manifests whose subject is <paramref name="subject"/> (empty where the registry has no referrers API).</summary>
    Task<IReadOnlyList<Descriptor>> ListReferrersAsync(Digest subject, CancellationToken cancellationToken);

    /// <summary>Deletes a tag or a manifest by digest; false when it was not there.</summary>
    Task<bool> DeleteAsync(string reference, CancellationToken cancellationToken);

    /// <summary>Makes the repository able to receive (this wharfd creates the project when missing, as Harbor does).</summary>
    Task PrepareAsync(CancellationToken cancellationToken);
}
