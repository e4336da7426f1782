namespace Wharf.Registry.Quotas;

/// <summary>
/// Where the storage limit of a project comes from. The metadata store keeps each project's
/// usage (the distinct bytes reachable from its manifests) inside the same transaction that
/// links a manifest, and asks this for the limit; null means unlimited.
/// </summary>
public interface IProjectQuotas
{
    ValueTask<long?> GetLimitAsync(string project, CancellationToken cancellationToken);
}

public sealed class UnlimitedProjectQuotas : IProjectQuotas
{
    public ValueTask<long?> GetLimitAsync(string project, CancellationToken cancellationToken) => ValueTask.FromResult<long?>(null);
}
