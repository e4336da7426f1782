namespace Wharf.Registry.Projects;

/// <summary>
/// What projects need to know of the repositories the metadata store keeps: whether a project still
/// holds any (delete is refused while it does), its storage usage (quota reports) and its repository
/// names (search). The metadata store implements it; the signatures follow its IProjectUsageStore and
/// IRepositoryStore so the adapter is one line per method.
/// </summary>
public interface IProjectRepositories
{
    Task<bool> ProjectHasRepositoriesAsync(string project, CancellationToken cancellationToken);

    /// <summary>Distinct bytes reachable from the project's manifests.</summary>
    Task<long> GetProjectUsageAsync(string project, CancellationToken cancellationToken);

    /// <summary>Repository names of one project after <paramref name="last"/>, in lexical order, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<string>> ListProjectRepositoriesAsync(string project, string? last, int limit, CancellationToken cancellationToken);
}

/// <summary>Used until a metadata store is registered: no project holds a repository.</summary>
public sealed class NoProjectRepositories : IProjectRepositories
{
    public Task<bool> ProjectHasRepositoriesAsync(string project, CancellationToken cancellationToken) => Task.FromResult(false);

    public Task<long> GetProjectUsageAsync(string project, CancellationToken cancellationToken) => Task.FromResult(0L);

    public Task<IReadOnlyList<string>> ListProjectRepositoriesAsync(string project, string? last, int limit, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<string>>([]);
}
