using Wharf.Registry.Projects;

namespace Wharf.Registry.Metrics;

/// <summary>
/// Fills the per-project storage and quota gauges when Prometheus scrapes, from the usage the
/// metadata store keeps up to date (one indexed read per project); series of deleted projects go.
/// </summary>
internal sealed class ProjectStorageMetrics(RegistryMetrics metrics, IProjectStore projects, IProjectRepositories repositories)
{
    private const int PageSize = 100;
    private readonly SemaphoreSlim _one = new(1, 1);
    private HashSet<string> _reported = [];

    public async Task CollectAsync(CancellationToken cancellationToken)
    {
        await _one.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int page = 1; ; page++)
            {
                var (list, total) = await projects.ListAsync(new ProjectQuery(), page, PageSize, cancellationToken).ConfigureAwait(false);
                foreach (var project in list)
                {
                    seen.Add(project.Name);
                    long used = await repositories.GetProjectUsageAsync(project.Name, cancellationToken).ConfigureAwait(false);
                    metrics.ProjectStorage.WithLabels(project.Name).Set(used);
                    if (project.StorageLimit is >= 0 and long limit)
                    {
                        metrics.ProjectQuota.WithLabels(project.Name).Set(limit);
                    }
                    else
                    {
                        metrics.ProjectQuota.RemoveLabelled(project.Name);
                    }
                }

                if (list.Count < PageSize || (long)page * PageSize >= total)
                {
                    break;
                }
            }

            foreach (string gone in _reported.Except(seen))
            {
                metrics.ProjectStorage.RemoveLabelled(gone);
                metrics.ProjectQuota.RemoveLabelled(gone);
            }

            _reported = seen;
        }
        finally
        {
            _one.Release();
        }
    }
}
