using Wharf.Registry.Quotas;

namespace Wharf.Registry.Projects;

/// <summary>The storage limit of a project, from its row; a project that does not exist gets no bytes at all.</summary>
public sealed class ProjectQuotas(IProjectStore projects) : IProjectQuotas
{
    public async ValueTask<long?> GetLimitAsync(string project, CancellationToken cancellationToken)
    {
        var row = await projects.FindByNameAsync(project, cancellationToken).ConfigureAwait(false);
        return row is null ? 0 : row.StorageLimit;
    }
}
