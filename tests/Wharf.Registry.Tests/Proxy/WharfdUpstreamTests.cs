using System.Net;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Proxy;

/// <summary>
/// Another wharfd as the upstream: a private project reached with a stored credential through its
/// token service (Bearer challenge), and refused without one.
/// </summary>
public sealed class WharfdUpstreamTests : IAsyncLifetime
{
    private WharfServer _upstream = null!;
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _upstream = await WharfServer.StartAsync();
        _server = await WharfServer.StartAsync();
        await _upstream.CreateProjectAsync("team");
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        if (_upstream is not null)
        {
            await _upstream.DisposeAsync();
        }
    }

    [Fact]
    public async Task Pull_PrivateUpstreamWithCredential_FetchedThroughItsTokenService()
    {
        using var upstreamAdmin = _upstream.Admin();
        var (digest, body) = await Images.PushImageAsync(upstreamAdmin, "team/app", "1", ProxySetup.RandomLayer(), ProxySetup.RandomLayer(70_000));
        long registry = await ProxySetup.RegisterAsync(_server, "peer", _upstream.BaseAddress, "harbor", "admin", WharfServer.AdminPassword);
        await ProxySetup.CreateProxyProjectAsync(_server, "peer-cache", registry);
        using var admin = _server.Admin();

        var manifest = await ProxySetup.GetManifestAsync(admin, "peer-cache/team/app", "1");
        Assert.Equal(digest, manifest.Digest);
        foreach (string blob in ProxySetup.BlobsOf(body))
        {
            Assert.Equal(blob, Wharf.Oci.Digest.Compute(await ProxySetup.GetBlobAsync(admin, "peer-cache/team/app", blob)).ToString());
        }

        await ProxySetup.WhenStoredAsync(_server);
        await _upstream.StopKeepingDataAsync();
        Assert.Equal(digest, (await ProxySetup.GetManifestAsync(admin, "peer-cache/team/app", digest.ToString())).Digest);
    }

    [Fact]
    public async Task Pull_PrivateUpstreamAnonymously_NotFoundAndNothingCached()
    {
        using var upstreamAdmin = _upstream.Admin();
        await Images.PushImageAsync(upstreamAdmin, "team/secret", "1", ProxySetup.RandomLayer());
        long registry = await ProxySetup.RegisterAsync(_server, "peer-anon", _upstream.BaseAddress, "harbor");
        await ProxySetup.CreateProxyProjectAsync(_server, "anon-cache", registry);
        using var admin = _server.Admin();

        using var response = await admin.GetAsync("v2/anon-cache/team/secret/manifests/1");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("peer-anon", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
