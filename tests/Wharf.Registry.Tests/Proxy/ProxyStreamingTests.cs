using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Proxy;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Proxy;

/// <summary>
/// A miss is answered while it downloads, concurrent misses share one upstream request (blobs and
/// manifests), and a failed upstream request is not remembered: the next pull tries again. The
/// upstream is scripted on a real socket so a test can hold a blob half-sent.
/// </summary>
public sealed class ProxyStreamingTests : IAsyncLifetime
{
    private ScriptedUpstream _upstream = null!;
    private WharfServer _server = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _upstream = await ScriptedUpstream.StartAsync();
        _server = await WharfServer.StartAsync(new Dictionary<string, string?> { ["Registry:ProxyCache:TagRecheckInterval"] = "00:10:00" });
        long registry = await ProxySetup.RegisterAsync(_server, "scripted", _upstream.Url);
        await ProxySetup.CreateProxyProjectAsync(_server, "cache", registry);
        _admin = _server.Admin();
    }

    public async Task DisposeAsync()
    {
        _admin?.Dispose();
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
    public async Task BlobMiss_ClientReceivesBytesBeforeTheUpstreamHasSentThemAll()
    {
        byte[] layer = ProxySetup.RandomLayer(1 << 20);
        var (_, body) = _upstream.AddImage("lab/big", "1", layer);
        string digest = ProxySetup.BlobsOf(body)[1];
        var gate = _upstream.HoldBlob(Oci.Digest.Parse(digest), 256 * 1024);
        await ProxySetup.GetManifestAsync(_admin, "cache/lab/big", "1");

        using var response = await _admin.GetAsync($"v2/cache/lab/big/blobs/{digest}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(layer.Length, response.Content.Headers.ContentLength);
        await using var stream = await response.Content.ReadAsStreamAsync();
        byte[] received = new byte[layer.Length];
        // The upstream holds the rest back: these bytes can only come from the download in progress.
        await stream.ReadExactlyAsync(received.AsMemory(0, 200_000)).AsTask().WaitAsync(TimeSpan.FromMinutes(2));
        Assert.False(gate.Task.IsCompleted);

        gate.SetResult();
        await stream.ReadExactlyAsync(received.AsMemory(200_000));
        Assert.Equal(0, await stream.ReadAsync(new byte[1]));
        Assert.Equal(layer, received);

        // Stored while streamed: served from the cache with the upstream gone, fetched upstream once.
        await ProxySetup.WhenStoredAsync(_server);
        Assert.Equal(1, _upstream.Requests($"GET /v2/lab/big/blobs/{digest}"));
        await _upstream.DisposeAsync();
        _upstream = null!;
        Assert.Equal(layer, await ProxySetup.GetBlobAsync(_admin, "cache/lab/big", digest));
    }

    [Fact]
    public async Task ConcurrentBlobMisses_AllStreamedFromOneUpstreamDownload()
    {
        byte[] layer = ProxySetup.RandomLayer(600_000);
        var (_, body) = _upstream.AddImage("lab/busy", "1", layer);
        string digest = ProxySetup.BlobsOf(body)[1];
        var gate = _upstream.HoldBlob(Oci.Digest.Parse(digest), 100_000);
        await ProxySetup.GetManifestAsync(_admin, "cache/lab/busy", "1");

        var pulls = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            using var client = _server.Admin();
            return await ProxySetup.GetBlobAsync(client, "cache/lab/busy", digest);
        })).ToList();
        await Task.Delay(500); // let the pulls join the held download (if they come later they read the store: still one fetch)
        gate.SetResult();

        foreach (var pull in pulls)
        {
            Assert.Equal(layer, await pull);
        }

        await ProxySetup.WhenStoredAsync(_server);
        Assert.Equal(1, _upstream.Requests($"GET /v2/lab/busy/blobs/{digest}"));
    }

    [Fact]
    public async Task BlobDownloadCutMidway_ClientSeesAnErrorAndTheNextPullFetchesAgain()
    {
        byte[] layer = ProxySetup.RandomLayer(300_000);
        var (_, body) = _upstream.AddImage("lab/flaky", "1", layer);
        string digest = ProxySetup.BlobsOf(body)[1];
        // No manifest pull first: storing a fetched manifest fetches its layers in the background,
        // and that fetch would race this client's for the one cut response.
        _upstream.CutBlobOnce(Oci.Digest.Parse(digest), 100_000);

        // The first client gets a cut response (never a short 200 it could take for the blob).
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            using var response = await _admin.GetAsync($"v2/cache/lab/flaky/blobs/{digest}");
            response.EnsureSuccessStatusCode();
        });

        Assert.Equal(layer, await ProxySetup.GetBlobAsync(_admin, "cache/lab/flaky", digest));
        Assert.Equal(2, _upstream.Requests($"GET /v2/lab/flaky/blobs/{digest}"));
    }

    [Fact]
    public async Task BlobDownloadGoesSilent_GivenUpAfterTheIdleTimeoutAndTheNextPullFetchesAgain()
    {
        await using var impatient = await WharfServer.StartAsync(new Dictionary<string, string?> { ["Registry:ProxyCache:BlobIdleTimeout"] = "00:00:01" });
        long registry = await ProxySetup.RegisterAsync(impatient, "scripted", _upstream.Url);
        await ProxySetup.CreateProxyProjectAsync(impatient, "cache", registry);
        using var admin = impatient.Admin();
        byte[] layer = ProxySetup.RandomLayer(200_000);
        var (_, body) = _upstream.AddImage("lab/silent", "1", layer);
        string digest = ProxySetup.BlobsOf(body)[1];
        // No manifest pull first: its background layer fetch would race this client's for the held response.
        var gate = _upstream.HoldBlob(Oci.Digest.Parse(digest), 50_000); // and never released during the first pull

        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            using var response = await admin.GetAsync($"v2/cache/lab/silent/blobs/{digest}");
            response.EnsureSuccessStatusCode();
        });

        gate.SetResult();
        Assert.Equal(layer, await ProxySetup.GetBlobAsync(admin, "cache/lab/silent", digest));
        Assert.Equal(2, _upstream.Requests($"GET /v2/lab/silent/blobs/{digest}"));
    }

    [Fact]
    public async Task RangeRequestOnMiss_StoredFirstThenTheRangeServed()
    {
        byte[] layer = ProxySetup.RandomLayer(50_000);
        var (_, body) = _upstream.AddImage("lab/range", "1", layer);
        string digest = ProxySetup.BlobsOf(body)[1];
        await ProxySetup.GetManifestAsync(_admin, "cache/lab/range", "1");

        using var request = new HttpRequestMessage(HttpMethod.Get, $"v2/cache/lab/range/blobs/{digest}");
        request.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(1000, 1999);
        using var response = await _admin.SendAsync(request);

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal(layer.AsSpan(1000, 1000).ToArray(), await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task ConcurrentManifestMisses_OneUpstreamFetch()
    {
        var (digest, body) = _upstream.AddImage("lab/hot", "1", ProxySetup.RandomLayer());
        _upstream.ManifestGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var pulls = Enumerable.Range(0, 10).Select(_ => Task.Run(async () =>
        {
            using var client = _server.Admin();
            return await ProxySetup.GetManifestAsync(client, "cache/lab/hot", "1");
        })).ToList();
        // Without single flight all ten would be at the upstream now; with it, one is.
        for (int i = 0; i < 60 && _upstream.Requests("GET /v2/lab/hot/manifests/1") < 10; i++)
        {
            await Task.Delay(50);
        }

        _upstream.ManifestGate.SetResult();
        foreach (var pull in pulls)
        {
            var pulled = await pull;
            Assert.Equal(digest, pulled.Digest);
            Assert.Equal(body, pulled.Body);
        }

        Assert.Equal(1, _upstream.Requests("GET /v2/lab/hot/manifests/1"));
        Assert.Equal(1, _server.Services.GetRequiredService<ProxyCache>().UpstreamManifestFetches);
    }

    [Fact]
    public async Task ManifestFetchFails_NextPullTriesAgain()
    {
        var (digest, _) = _upstream.AddImage("lab/later", "1", ProxySetup.RandomLayer());
        _upstream.FailManifests(1, 503);

        using var failed = await _admin.GetAsync("v2/cache/lab/later/manifests/1");
        Assert.Equal(HttpStatusCode.NotFound, failed.StatusCode);
        Assert.Contains("503", await failed.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        Assert.Equal(digest, (await ProxySetup.GetManifestAsync(_admin, "cache/lab/later", "1")).Digest);
        Assert.Equal(2, _upstream.Requests("GET /v2/lab/later/manifests/1"));
    }
}
