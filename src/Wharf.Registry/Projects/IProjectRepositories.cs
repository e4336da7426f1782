namespace Wharf.Registry.Projects;

/// <summary>
/// What projects need to know of the repositories the metadata store keeps: whether a project still
/// holds any (delete is refused while it does), its storage usage (quota reports) and its repository
/// names (search). The metadata store answers it (<see cref="MetadataProjectRepositories"/>); tests
/// give their own.
/// </summary>
public interface IProjectRepositories
{
    Task<bool> ProjectHasRepositoriesAsync(string project, CancellationToken cancellationToken);

    /// <summary>Distinct bytes reachable from the project's manifests.</summary>
    Task<long> GetProjectUsageAsync(string project, CancellationToken cancellationToken);

    /// <summary>Repository names of one project after <paramref name="last"/>, in lexical order, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<string>> ListProjectRepositoriesAsync(string project, string? last, int limit, CancellationToken cancellationToken);
}

/// <summary>The metadata store's answers, one line per method.</summary>
public sealed class MetadataProjectRepositories(Wharf.Registry.Metadata.IMetadataStore metadata) : IProjectRepositories
{
    public Task<bool> ProjectHasRepositoriesAsync(string project, CancellationToken cancellationToken) =>
        metadata.ProjectHasRepositoriesAsync(project, cancellationToken);

    public Task<long> GetProjectUsageAsync(string project, CancellationToken cancellationToken) =>
        metadata.GetProjectUsageAsync(project, cancellationToken);

    public Task<IReadOnlyList<string>> ListProjectRepositoriesAsync(string project, string? last, int limit, CancellationToken cancellationToken) =>
        metadata.ListProjectRepositoriesAsync(project, last, limit, cancellationToken);
}
