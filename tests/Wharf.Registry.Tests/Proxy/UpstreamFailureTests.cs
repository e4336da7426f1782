using System.Net;
using System.Net.Http.Json;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Proxy;

/// <summary>
/// A cached image never becomes unpullable because the outside misbehaves: when the re-check of a
/// tag meets 429, 5xx or no answer at all, the cached manifest is served.
/// </summary>
public sealed class UpstreamFailureTests : IAsyncLifetime
{
    private DockerRegistry _upstream = null!;
    private WharfServer _server = null!;
    private HttpClient _admin = null!;
    private long _registry;

    public async Task InitializeAsync()
    {
        _upstream = await DockerRegistry.StartAsync("upstream");
        _server = await WharfServer.StartAsync(new Dictionary<string, string?>
        {
            ["Registry:ProxyCache:TagRecheckInterval"] = "00:05:00",
            ["Registry:ProxyCache:UpstreamTimeout"] = "00:00:01",
        });
        _registry = await ProxySetup.RegisterAsync(_server, "origin", _upstream.Url);
        await ProxySetup.CreateProxyProjectAsync(_server, "cache", _registry);
        _admin = _server.Admin();
    }

    public async Task DisposeAsync()
    {
        _admin?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _upstream?.Dispose();
    }

    [Theory]
    [InlineData(429)]
    [InlineData(500)]
    [InlineData(503)]
    [InlineData(null)] // accepts, never answers: the timeout
    public async Task Recheck_UpstreamFailing_CachedManifestServed(int? status)
    {
        using var origin = _upstream.Client();
        var (digest, body) = await Images.PushImageAsync(origin, "lab/app", "1", ProxySetup.RandomLayer());
        await ProxySetup.GetManifestAsync(_admin, "cache/lab/app", "1");
        await ProxySetup.WhenStoredAsync(_server);

        await using var failing = new FailingUpstream(status);
        await PointRegistryAtAsync(failing.Url);
        _server.Clock.Advance(TimeSpan.FromMinutes(6));

        var served = await ProxySetup.GetManifestAsync(_admin, "cache/lab/app", "1");

        Assert.Equal(digest, served.Digest);
        Assert.Equal(body, served.Body);
        Assert.True(failing.Requests >= 1, "the tag was not re-checked upstream");
    }

    [Fact]
    public async Task Recheck_WithinWindow_UpstreamNotAsked()
    {
        using var origin = _upstream.Client();
        await Images.PushImageAsync(origin, "lab/quiet", "1", ProxySetup.RandomLayer());
        await ProxySetup.GetManifestAsync(_admin, "cache/lab/quiet", "1");
        await ProxySetup.WhenStoredAsync(_server);
        await using var failing = new FailingUpstream(503);
        await PointRegistryAtAsync(failing.Url);

        _server.Clock.Advance(TimeSpan.FromMinutes(4));
        await ProxySetup.GetManifestAsync(_admin, "cache/lab/quiet", "1");

        Assert.Equal(0, failing.Requests);
    }

    private async Task PointRegistryAtAsync(Uri url)
    {
        _server.Clock.Advance(TimeSpan.FromSeconds(1)); // a new update time: the endpoint's client is made anew
        using var response = await _admin.PutAsJsonAsync($"api/v2.0/registries/{_registry}", new { url = url.ToString() });
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.OK);
    }
}
