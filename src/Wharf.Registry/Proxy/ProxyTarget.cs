using Wharf.Oci;

namespace Wharf.Registry.Proxy;

/// <summary>A repository of a proxy-cache project and the upstream repository it mirrors.</summary>
public sealed record ProxyTarget(RepositoryName Repository, UpstreamClient Upstream, string UpstreamRepository)
{
    /// <summary>
    /// The upstream name is the local one without the project; Docker Hub's official images live under
    /// <c>library/</c>, which its clients imply for one-segment names, so the proxy implies it too.
    /// </summary>
    public static string UpstreamName(RepositoryName repository, UpstreamRegistry registry)
    {
        string rest = repository.Value[(repository.Project.Length + 1)..];
        return registry.IsDockerHub && !rest.Contains('/', StringComparison.Ordinal) ? "library/" + rest : rest;
    }
}
