using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Oci;
using Wharf.Registry.Gc;
using Wharf.Registry.Proxy;
using Wharf.Registry.Storage;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Proxy;

/// <summary>Cached content nobody pulled for the configured time is evicted, and GC then frees its blobs.</summary>
public sealed class ProxyEvictionTests : IAsyncLifetime
{
    private DockerRegistry _upstream = null!;
    private WharfServer _server = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _upstream = await DockerRegistry.StartAsync("upstream");
        _server = await WharfServer.StartAsync(new Dictionary<string, string?>
        {
            ["Registry:ProxyCache:EvictAfter"] = "2.00:00:00",
            ["Registry:ProxyCache:TagRecheckInterval"] = "30.00:00:00",
        });
        long registry = await ProxySetup.RegisterAsync(_server, "origin", _upstream.Url);
        await ProxySetup.CreateProxyProjectAsync(_server, "cache", registry);
        await _server.CreateProjectAsync("own");
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

    [Fact]
    public async Task Evict_NotPulledForTheConfiguredTime_EvictedAndGcFreesItsBlobs_PulledOneStays()
    {
        using var origin = _upstream.Client();
        var idle = await Images.PushImageAsync(origin, "lab/idle", "1", ProxySetup.RandomLayer(5000));
        var busy = await Images.PushImageAsync(origin, "lab/busy", "1", ProxySetup.RandomLayer(6000));
        var own = await Images.PushImageAsync(_admin, "own/app", "1", ProxySetup.RandomLayer(7000));
        await ProxySetup.GetManifestAsync(_admin, "cache/lab/idle", "1");
        await ProxySetup.GetManifestAsync(_admin, "cache/lab/busy", "1");
        await ProxySetup.WhenStoredAsync(_server);

        _server.Clock.Advance(TimeSpan.FromDays(1.5));
        await ProxySetup.GetManifestAsync(_admin, "cache/lab/busy", "1");
        _server.Clock.Advance(TimeSpan.FromDays(1));

        int evicted = await _server.Services.GetRequiredService<ProxyEviction>().EvictAsync(default);
        await _server.Services.GetRequiredService<GarbageCollector>().RunAsync(dryRun: false, default);

        Assert.Equal(1, evicted);
        var blobs = _server.Services.GetRequiredService<IBlobStore>();
        Assert.Null(blobs.Stat(Digest.Parse(ProxySetup.BlobsOf(idle.Body)[1])));
        Assert.NotNull(blobs.Stat(Digest.Parse(ProxySetup.BlobsOf(busy.Body)[1])));
        Assert.NotNull(blobs.Stat(Digest.Parse(ProxySetup.BlobsOf(own.Body)[1])));

        // With the upstream gone, what was evicted is gone and what was pulled is still served.
        await _upstream.StopAsync();
        using var gone = await _admin.GetAsync($"v2/cache/lab/idle/manifests/{idle.Digest}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Equal(busy.Digest, (await ProxySetup.GetManifestAsync(_admin, "cache/lab/busy", "1")).Digest);
        Assert.Equal(own.Digest, (await ProxySetup.GetManifestAsync(_admin, "own/app", "1")).Digest);
    }
}
