using System.Net;
using System.Net.Http.Json;
using Wharf.Oci;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Proxy;

/// <summary>
/// A proxy-cache project in front of a real docker-registry: misses are fetched upstream, later
/// pulls are served locally — also while the upstream is down —, tags are re-checked after the
/// window, blobs are fetched once however many pull them, and pushes are refused.
/// </summary>
public sealed class ProxyCacheTests : IAsyncLifetime
{
    private DockerRegistry _upstream = null!;
    private WharfServer _server = null!;
    private HttpClient _origin = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _upstream = await DockerRegistry.StartAsync("upstream");
        _origin = _upstream.Client();
        _server = await WharfServer.StartAsync(new Dictionary<string, string?> { ["Registry:ProxyCache:TagRecheckInterval"] = "00:10:00" });
        long registry = await ProxySetup.RegisterAsync(_server, "origin", _upstream.Url);
        await ProxySetup.CreateProxyProjectAsync(_server, "cache", registry);
        _admin = _server.Admin();
    }

    public async Task DisposeAsync()
    {
        _admin?.Dispose();
        _origin?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _upstream?.Dispose();
    }

    [Fact]
    public async Task Pull_Miss_FetchedUpstreamThenServedFromCacheWhileUpstreamIsDown()
    {
        byte[][] layers = [ProxySetup.RandomLayer(), ProxySetup.RandomLayer(200_000), ProxySetup.RandomLayer(10)];
        var (digest, body) = await Images.PushImageAsync(_origin, "lab/app", "1", layers);

        var first = await ProxySetup.GetManifestAsync(_admin, "cache/lab/app", "1");
        Assert.Equal(digest, first.Digest);
        Assert.Equal(body, first.Body);
        var blobs = ProxySetup.BlobsOf(body);
        for (int i = 0; i < layers.Length; i++)
        {
            Assert.Equal(layers[i], await ProxySetup.GetBlobAsync(_admin, "cache/lab/app", blobs[i + 1]));
        }

        await ProxySetup.WhenStoredAsync(_server);
        await _upstream.StopAsync();
        _server.Clock.Advance(TimeSpan.FromHours(1)); // past the re-check window: the HEAD fails, the cache answers

        var byTag = await ProxySetup.GetManifestAsync(_admin, "cache/lab/app", "1");
        Assert.Equal(body, byTag.Body);
        var byDigest = await ProxySetup.GetManifestAsync(_admin, "cache/lab/app", digest.ToString());
        Assert.Equal(body, byDigest.Body);
        for (int i = 0; i < layers.Length; i++)
        {
            Assert.Equal(layers[i], await ProxySetup.GetBlobAsync(_admin, "cache/lab/app", blobs[i + 1]));
        }
    }

    [Fact]
    public async Task Pull_UncachedWhileUpstreamIsDown_ManifestUnknownNamingTheUpstream()
    {
        await _upstream.StopAsync();

        using var response = await _admin.GetAsync("v2/cache/lab/none/manifests/1");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        string text = await response.Content.ReadAsStringAsync();
        Assert.Contains("MANIFEST_UNKNOWN", text, StringComparison.Ordinal);
        Assert.Contains("origin", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_MultiPlatformIndex_IndexAndEveryPlatformCached()
    {
        var amd = await Images.PushImageAsync(_origin, "lab/multi", "amd64", ProxySetup.RandomLayer(), ProxySetup.RandomLayer());
        var arm = await Images.PushImageAsync(_origin, "lab/multi", "arm64", ProxySetup.RandomLayer());
        var index = await ProxySetup.PushIndexAsync(_origin, "lab/multi", "1", (amd.Digest, amd.Body.Length, "amd64"), (arm.Digest, arm.Body.Length, "arm64"));

        var pulled = await ProxySetup.GetManifestAsync(_admin, "cache/lab/multi", "1");
        Assert.Equal(index, pulled.Digest);
        Assert.Equal(MediaTypes.OciIndex, pulled.MediaType);
        await ProxySetup.WhenStoredAsync(_server);
        await _upstream.StopAsync();

        Assert.Equal(index, (await ProxySetup.GetManifestAsync(_admin, "cache/lab/multi", "1")).Digest);
        foreach (var child in new[] { amd, arm })
        {
            var manifest = await ProxySetup.GetManifestAsync(_admin, "cache/lab/multi", child.Digest.ToString());
            Assert.Equal(child.Body, manifest.Body);
            foreach (string blob in ProxySetup.BlobsOf(child.Body))
            {
                Assert.NotEmpty(await ProxySetup.GetBlobAsync(_admin, "cache/lab/multi", blob));
            }
        }
    }

    [Fact]
    public async Task Tag_ChangedUpstream_SeenOnlyAfterTheRecheckWindow()
    {
        var old = await Images.PushImageAsync(_origin, "lab/moving", "stable", ProxySetup.RandomLayer());
        Assert.Equal(old.Digest, (await ProxySetup.GetManifestAsync(_admin, "cache/lab/moving", "stable")).Digest);
        await ProxySetup.WhenStoredAsync(_server);

        var current = await Images.PushImageAsync(_origin, "lab/moving", "stable", ProxySetup.RandomLayer());
        _server.Clock.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal(old.Digest, (await ProxySetup.GetManifestAsync(_admin, "cache/lab/moving", "stable")).Digest);

        _server.Clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(current.Digest, (await ProxySetup.GetManifestAsync(_admin, "cache/lab/moving", "stable")).Digest);
        await ProxySetup.WhenStoredAsync(_server);

        // The new manifest was stored under the tag: it is what the cache answers once the upstream is gone.
        await _upstream.StopAsync();
        _server.Clock.Advance(TimeSpan.FromHours(1));
        Assert.Equal(current.Digest, (await ProxySetup.GetManifestAsync(_admin, "cache/lab/moving", "stable")).Digest);
    }

    [Fact]
    public async Task ConcurrentPulls_UncachedImage_EachBlobFetchedUpstreamOnce()
    {
        byte[][] layers = [ProxySetup.RandomLayer(300_000), ProxySetup.RandomLayer(100_000), ProxySetup.RandomLayer(1000)];
        var (digest, body) = await Images.PushImageAsync(_origin, "lab/busy", "1", layers);
        var blobs = ProxySetup.BlobsOf(body);

        // Ten clients pull the same image at once: manifest, then every blob.
        var pulls = Enumerable.Range(0, 10).Select(_ => Task.Run(async () =>
        {
            using var client = _server.Admin();
            var manifest = await ProxySetup.GetManifestAsync(client, "cache/lab/busy", "1");
            Assert.Equal(digest, manifest.Digest);
            for (int i = 0; i < layers.Length; i++)
            {
                Assert.Equal(layers[i], await ProxySetup.GetBlobAsync(client, "cache/lab/busy", blobs[i + 1]));
            }
        }));
        await Task.WhenAll(pulls);
        await ProxySetup.WhenStoredAsync(_server);

        foreach (string blob in blobs)
        {
            Assert.True(_upstream.BlobGets(blob) == 1, $"{blob} was fetched {_upstream.BlobGets(blob)} times upstream\n{_upstream.Logs}");
        }
    }

    [Fact]
    public async Task Push_IntoProxyProject_DeniedWithClearMessage()
    {
        var manifest = new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OciIndex + "\",\"manifests\":[]}"));
        manifest.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(MediaTypes.OciIndex);
        using var put = await _admin.PutAsync("v2/cache/lab/mine/manifests/1", manifest);
        Assert.Equal(HttpStatusCode.Forbidden, put.StatusCode);
        Assert.Contains("pushes are refused", await put.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var upload = await _admin.PostAsync("v2/cache/lab/mine/blobs/uploads/", null);
        Assert.Equal(HttpStatusCode.Forbidden, upload.StatusCode);
        string text = await upload.Content.ReadAsStringAsync();
        Assert.Contains("DENIED", text, StringComparison.Ordinal);
        Assert.Contains("proxy cache", text, StringComparison.Ordinal);
        using var tags = await _admin.GetAsync("v2/cache/lab/mine/tags/list");
        Assert.Equal(HttpStatusCode.NotFound, tags.StatusCode);
    }

    [Fact]
    public async Task Pull_OverProjectQuota_DeniedAndNothingCached()
    {
        long registry = await ProxySetup.RegisterAsync(_server, "origin-small", _upstream.Url);
        await ProxySetup.CreateProxyProjectAsync(_server, "small", registry, storageLimit: 50_000);
        var (_, body) = await Images.PushImageAsync(_origin, "lab/big", "1", ProxySetup.RandomLayer(100_000));
        string layer = ProxySetup.BlobsOf(body)[1];

        await ProxySetup.GetManifestAsync(_admin, "small/lab/big", "1");
        using var blob = await _admin.GetAsync($"v2/small/lab/big/blobs/{layer}");
        await ProxySetup.WhenStoredAsync(_server);

        Assert.Equal(HttpStatusCode.Forbidden, blob.StatusCode);
        Assert.Contains("quota", await blob.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        using var summary = await _admin.GetAsync("api/v2.0/projects/small/summary");
        var usage = await summary.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        Assert.True(usage.GetProperty("quota").GetProperty("used").GetProperty("storage").GetInt64() <= 50_000);
    }

    [Fact]
    public async Task Pull_WithSkopeo_ThroughTheProxy()
    {
        Assert.True(Skopeo.IsInstalled, "skopeo is not installed");
        var (_, body) = await Images.PushImageAsync(_origin, "lab/sk", "1", ProxySetup.RandomLayer(), ProxySetup.RandomLayer(50_000));
        using var skopeo = new Skopeo();
        string host = _server.BaseAddress.Authority;
        string auth = await skopeo.LoginAsync(host, "admin", WharfServer.AdminPassword);
        string dir = Path.Combine(skopeo.Scratch, "copy");

        var copy = await skopeo.RunAsync(auth, "copy", "--src-tls-verify=false", $"docker://{host}/cache/lab/sk:1", $"dir:{dir}");

        Assert.True(copy.ExitCode == 0, copy.ToString());
        Assert.Equal(body, await File.ReadAllBytesAsync(Path.Combine(dir, "manifest.json")));
        foreach (string blob in ProxySetup.BlobsOf(body))
        {
            Assert.True(File.Exists(Path.Combine(dir, blob["sha256:".Length..])), $"skopeo did not copy {blob}");
        }
    }
}
