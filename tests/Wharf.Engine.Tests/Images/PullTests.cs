using System.Net;
using System.Text;
using System.Text.Json;
using Wharf.Client;
using Wharf.Oci;

namespace Wharf.Engine.Tests.Images;

/// <summary>A registry in memory: GET/HEAD of manifests and blobs, with a request log.</summary>
internal sealed class MiniRegistry : HttpMessageHandler
{
    public Dictionary<string, (string MediaType, byte[] Body)> Content { get; } = new(StringComparer.Ordinal);

    public List<string> Log { get; } = [];

    public List<string> Hosts { get; } = [];

    /// <summary>Hosts whose connections fail.</summary>
    public HashSet<string> DownHosts { get; } = [];

    public Descriptor Add(string path, string mediaType, byte[] body, params string[] tags)
    {
        var d = new Descriptor { MediaType = mediaType, Digest = Digest.Compute(body), Size = body.Length };
        string kind = MediaTypes.IsManifest(mediaType) ? "manifests" : "blobs";
        Content[$"/v2/{path}/{kind}/{d.Digest}"] = (mediaType, body);
        foreach (string t in tags)
        {
            Content[$"/v2/{path}/manifests/{t}"] = (mediaType, body);
        }

        return d;
    }

    public Descriptor AddImage(string path, string tag, string architecture)
    {
        var layer = Add(path, MediaTypes.OciLayerTar, Encoding.UTF8.GetBytes("layer-" + architecture + new string('x', 1000)));
        var config = Add(path, MediaTypes.OciConfig, Encoding.UTF8.GetBytes(
            $"{{\"created\":\"2026-01-01T00:00:00Z\",\"architecture\":\"{architecture}\",\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{layer.Digest}\"]}}}}"));
        var manifest = new ImageManifest { MediaType = MediaTypes.OciManifest, Config = config, Layers = [layer] };
        return Add(path, MediaTypes.OciManifest, JsonSerializer.SerializeToUtf8Bytes(manifest, OciJsonContext.Default.ImageManifest), tag);
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        string path = request.RequestUri!.AbsolutePath;
        if (DownHosts.Contains(request.RequestUri.Authority))
        {
            throw new HttpRequestException("connection refused");
        }

        Log.Add($"{request.Method} {path}");
        Hosts.Add(request.RequestUri.Authority);
        if (path == "/v2/")
        {
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK));
        }

        if (!Content.TryGetValue(path, out var entry))
        {
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.NotFound)
            {
                Content = new StringContent("{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}"),
            });
        }

        var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(request.Method == HttpMethod.Head ? [] : entry.Body) };
        response.Content.Headers.ContentType = new(entry.MediaType);
        response.Content.Headers.ContentLength = entry.Body.Length;
        return Task.FromResult(response);
    }
}

public sealed class PullTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-pull-").FullName;
    private readonly MiniRegistry _registry = new();

    public void Dispose()
    {
        _registry.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private ImageEngine Engine(string registriesConf = "", TextWriter? progress = null)
    {
        Directory.CreateDirectory(Path.Combine(_dir, "etc"));
        File.WriteAllText(Path.Combine(_dir, "etc", "registries.conf"), registriesConf);
        var env = new HostEnvironment(_ => null, Path.Combine(_dir, "home"), 0, Path.Combine(_dir, "etc"));
        return new ImageEngine(new EngineOptions
        {
            Environment = env,
            Root = Path.Combine(_dir, "graph"),
            RunRoot = Path.Combine(_dir, "run"),
            Transport = _registry,
            RetryDelay = _ => TimeSpan.Zero,
            Progress = progress ?? TextWriter.Null,
        });
    }

    private Descriptor AddIndex()
    {
        var amd = _registry.AddImage("lib/multi", "amd-only", "amd64");
        var arm = _registry.AddImage("lib/multi", "arm-only", "arm64");
        var index = new ImageIndex
        {
            MediaType = MediaTypes.OciIndex,
            Manifests =
            [
                arm with { Platform = new Platform { Architecture = "arm64", Os = "linux" } },
                amd with { Platform = new Platform { Architecture = "amd64", Os = "linux" } },
            ],
        };
        _registry.Add("lib/multi", MediaTypes.OciIndex, JsonSerializer.SerializeToUtf8Bytes(index, OciJsonContext.Default.ImageIndex), "1");
        return arm;
    }

    [Fact]
    public async Task Pull_MultiPlatformIndexWithArch_StoresThatPlatformsImage()
    {
        var arm = AddIndex();
        var engine = Engine();

        var report = await engine.Registry.PullAsync(new PullOptions { Reference = "reg.test/lib/multi:1", Architecture = "arm64" }, CancellationToken.None);

        var image = engine.Local.LookupImage("reg.test/lib/multi:1");
        Assert.Equal(arm.Digest.ToString(), image.Digest);
        Assert.Equal(report.ImageId, image.Id);
        Assert.DoesNotContain(_registry.Log, l => l.Contains("amd-only", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Pull_IndexWithoutWantedPlatform_ErrorNamesArchitecture()
    {
        AddIndex();
        var engine = Engine();

        var e = await Assert.ThrowsAsync<WharfException>(() =>
            engine.Registry.PullAsync(new PullOptions { Reference = "reg.test/lib/multi:1", Architecture = "s390x" }, CancellationToken.None));

        Assert.Contains("no image found in manifest list for architecture s390x", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_Alias_ResolvesAndSaysSo()
    {
        _registry.AddImage("lab/bb", "1", "amd64");
        var log = new StringWriter();
        var engine = Engine("[aliases]\n\"mybb\" = \"reg.test/lab/bb\"\n", log);

        var report = await engine.Registry.PullAsync(new PullOptions { Reference = "mybb:1" }, CancellationToken.None);

        Assert.Equal("reg.test/lab/bb:1", report.Name);
        Assert.StartsWith("Resolved \"mybb\" as an alias (", log.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_TwiceSameImage_SecondFetchesNoBlobs()
    {
        _registry.AddImage("lab/bb", "1", "amd64");
        var engine = Engine();
        await engine.Registry.PullAsync(new PullOptions { Reference = "reg.test/lab/bb:1" }, CancellationToken.None);
        _registry.Log.Clear();

        await engine.Registry.PullAsync(new PullOptions { Reference = "reg.test/lab/bb:1" }, CancellationToken.None);

        Assert.DoesNotContain(_registry.Log, l => l.StartsWith("GET /v2/lab/bb/blobs/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Pull_PrefixRewrite_FetchedFromLocationStoredUnderName()
    {
        _registry.AddImage("mirror/bb", "1", "amd64");
        var engine = Engine("[[registry]]\nprefix = \"harbor.example.org/lab\"\nlocation = \"reg.test/mirror\"\n");

        var report = await engine.Registry.PullAsync(new PullOptions { Reference = "harbor.example.org/lab/bb:1" }, CancellationToken.None);

        Assert.Equal("harbor.example.org/lab/bb:1", report.Name);
        Assert.Contains("GET /v2/mirror/bb/manifests/1", _registry.Log);
    }

    [Fact]
    public async Task Pull_MirrorConfigured_FetchedFromMirror()
    {
        _registry.AddImage("lab/bb", "1", "amd64");
        var engine = Engine("[[registry]]\nlocation = \"reg.test\"\n[[registry.mirror]]\nlocation = \"mirror.test\"\n");

        var report = await engine.Registry.PullAsync(new PullOptions { Reference = "reg.test/lab/bb:1" }, CancellationToken.None);

        Assert.Equal("reg.test/lab/bb:1", report.Name);
        Assert.All(_registry.Hosts, h => Assert.Equal("mirror.test", h));
    }

    [Fact]
    public async Task Pull_MirrorDown_FallsBackToPrimary()
    {
        _registry.AddImage("lab/bb", "1", "amd64");
        _registry.DownHosts.Add("mirror.test");
        var engine = Engine("[[registry]]\nlocation = \"reg.test\"\n[[registry.mirror]]\nlocation = \"mirror.test\"\n");

        var report = await engine.Registry.PullAsync(new PullOptions { Reference = "reg.test/lab/bb:1" }, CancellationToken.None);

        Assert.Equal("reg.test/lab/bb:1", report.Name);
        Assert.Contains("reg.test", _registry.Hosts);
    }

    [Fact]
    public async Task Pull_DigestOnlyMirrorAndTag_MirrorSkipped()
    {
        _registry.AddImage("lab/bb", "1", "amd64");
        var engine = Engine("[[registry]]\nlocation = \"reg.test\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = \"mirror.test\"\n");

        await engine.Registry.PullAsync(new PullOptions { Reference = "reg.test/lab/bb:1" }, CancellationToken.None);

        Assert.DoesNotContain("mirror.test", _registry.Hosts);
    }

    [Fact]
    public async Task Pull_BlockedRegistry_Refused()
    {
        var engine = Engine("[[registry]]\nlocation = \"reg.test\"\nblocked = true\n");

        var e = await Assert.ThrowsAsync<WharfException>(() => engine.Registry.PullAsync(new PullOptions { Reference = "reg.test/x" }, CancellationToken.None));

        Assert.StartsWith("initializing source docker://reg.test/x:latest: registry reg.test is blocked in ", e.Message, StringComparison.Ordinal);
        Assert.Empty(_registry.Log);
    }
}

public sealed class ConcurrentPullTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-conc-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Pull_ManyEnginesSameStoreAtOnce_EveryImageRecorded()
    {
        using var registry = new MiniRegistry();
        for (int i = 0; i < 8; i++)
        {
            registry.AddImage($"lab/app{i}", "1", "amd64");
        }

        var env = new HostEnvironment(_ => null, Path.Combine(_dir, "home"), 0, Path.Combine(_dir, "etc"));
        var pulls = Enumerable.Range(0, 8).Select(i => Task.Run(() =>
            new ImageEngine(new EngineOptions { Environment = env, Root = Path.Combine(_dir, "graph"), RunRoot = Path.Combine(_dir, "run"), Transport = registry })
                .Registry.PullAsync(new PullOptions { Reference = $"reg.test/lab/app{i}:1" }, CancellationToken.None)));

        await Task.WhenAll(pulls);

        var engine = new ImageEngine(new EngineOptions { Environment = env, Root = Path.Combine(_dir, "graph"), RunRoot = Path.Combine(_dir, "run") });
        Assert.Equal(8, engine.Local.ListImages(new ListImagesOptions()).Rows.Count);
    }
}
