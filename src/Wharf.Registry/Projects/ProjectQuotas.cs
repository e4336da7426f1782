using Wharf.Registry.Quotas;

namespace Wharf.Registry.Projects;

/// <summary>
/// The storage limit of a project, from its row. A project that does not exist gets no bytes at all,
/// unless the registry is open (no projects need exist there).
/// </summary>
public sealed class ProjectQuotas(IProjectStore projects, Identity.IdentityOptions options) : IProjectQuotas
{
    public async ValueTask<long?> GetLimitAsync(string project, CancellationToken cancellationToken)
    {
        var row = await projects.FindByNameAsync(project, cancellationToken).ConfigureAwait(false);
        return row is null ? (options.OpenRegistry ? null : 0) : row.StorageLimit;
    }
}
