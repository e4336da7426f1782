using Wharf.Oci;
using Wharf.Registry.Proxy;

namespace Wharf.Registry.Tests.Proxy;

public sealed class ProxyTargetTests
{
    private static UpstreamRegistry Registry(string type, string url) =>
        new(1, "up", type, new Uri(url), null, false, null, null, default, default);

    [Theory]
    [InlineData("docker-hub", "dockerhub-cache/alpine", "library/alpine")]
    [InlineData("docker-hub", "dockerhub-cache/library/alpine", "library/alpine")]
    [InlineData("docker-hub", "dockerhub-cache/bitnami/redis", "bitnami/redis")]
    [InlineData("docker-registry", "mirror/alpine", "alpine")]
    [InlineData("docker-registry", "mirror/a/b/c", "a/b/c")]
    public void UpstreamName_DockerHubOneSegment_LibraryImplied(string type, string local, string upstream) =>
        Assert.Equal(upstream, ProxyTarget.UpstreamName(RepositoryName.Parse(local), Registry(type, "https://hub.docker.com")));

    [Theory]
    [InlineData("docker-hub", "https://hub.docker.com", "https://registry-1.docker.io/")]
    [InlineData("docker-registry", "http://127.0.0.1:5000/some/path", "http://127.0.0.1:5000/")]
    [InlineData("quay", "https://quay.io", "https://quay.io/")]
    public void ApiBase_DockerHubWebSite_MapsToItsRegistry(string type, string url, string expected) =>
        Assert.Equal(expected, Registry(type, url).ApiBase.ToString());

    [Theory]
    [InlineData("realm=\"https://auth.example/token\",service=\"registry.example\",scope=\"repository:a/b:pull\"", "https://auth.example/token", "registry.example")]
    [InlineData("realm=https://auth.example/token, service=svc", "https://auth.example/token", "svc")]
    public void ParseChallenge_QuotedAndBare(string parameters, string realm, string service)
    {
        var values = UpstreamClient.ParseChallenge(parameters);
        Assert.Equal(realm, values["realm"]);
        Assert.Equal(service, values["service"]);
    }
}
