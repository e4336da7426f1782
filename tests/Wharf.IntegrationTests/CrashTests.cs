using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Wharf.IntegrationTests.Infrastructure;

namespace Wharf.IntegrationTests;

/// <summary>
/// SIGKILL in the middle of an upload and of a manifest PUT, then a restart on the same data:
/// nothing partial is visible, the upload resumes or restarts, and every image acknowledged
/// before the crash still pulls and verifies.
/// </summary>
public sealed class CrashTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TempDirectory _scratch = new("wharf-it-crash");
    private RegistryServer _server = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _server = RegistryServer.Create(Path.Combine(_scratch.Path, "data"));
        await _server.StartAsync();
        _http = new HttpClient { BaseAddress = _server.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public async Task DisposeAsync()
    {
        output.WriteLine(_server.Logs);
        _http.Dispose();
        await _server.DisposeAsync();
        _scratch.Dispose();
    }

    [WharfdOnlyFact("an upload session cut by a crash mid-PATCH is gone afterwards (GET of it answers 404)")]
    public async Task Kill_DuringBlobUpload_NoPartialBlobAndUploadResumes()
    {
        byte[] blob = RandomNumberGenerator.GetBytes(8 * 1024 * 1024);
        string digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(blob));
        using var post = await _http.PostAsync("v2/lab/crash/blobs/uploads/", null);
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        var location = new Uri(_server.BaseAddress, post.Headers.Location!);

        // Stream half the blob, then hold the request open and kill the registry under it.
        var halfSent = new TaskCompletionSource();
        var body = new StalledContent(blob, blob.Length / 2, halfSent);
        var patch = _http.PatchAsync(location, body);
        await halfSent.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await Task.Delay(300); // let the server write what it received
        _server.Kill();
        body.Abandon();
        await Assert.ThrowsAnyAsync<Exception>(() => patch);

        await _server.StartAsync();
        _http.Dispose();
        _http = new HttpClient { BaseAddress = _server.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

        using (var head = await _http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/lab/crash/blobs/{digest}")))
        {
            Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
        }

        // The session survived: its status says how much arrived; continue from there.
        location = new Uri(_server.BaseAddress, location.PathAndQuery);
        using var status = await _http.GetAsync(location);
        Assert.Equal(HttpStatusCode.NoContent, status.StatusCode);
        string range = status.Headers.GetValues("Range").Single();
        int received = range == "0-0" ? 0 : int.Parse(range.Split('-')[1], System.Globalization.CultureInfo.InvariantCulture) + 1;
        output.WriteLine($"received before the crash: {received} bytes");
        Assert.InRange(received, 0, blob.Length / 2);

        using var rest = new ByteArrayContent(blob, received, blob.Length - received);
        rest.Headers.TryAddWithoutValidation("Content-Range", $"{received}-{blob.Length - 1}");
        using var put = await _http.PutAsync(new Uri(location + "?digest=" + digest), rest);
        Assert.True(put.StatusCode == HttpStatusCode.Created, await put.Content.ReadAsStringAsync());
        Assert.Equal(blob, await _http.GetByteArrayAsync($"v2/lab/crash/blobs/{digest}"));

        // A fresh upload of other content works too.
        byte[] other = RandomNumberGenerator.GetBytes(1000);
        string otherDigest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(other));
        using var mono = await _http.PostAsync($"v2/lab/crash/blobs/uploads/?digest={otherDigest}", new ByteArrayContent(other));
        Assert.Equal(HttpStatusCode.Created, mono.StatusCode);
    }

    [WharfdOnlyFact("no single-request upload (POST ?digest= with the blob answers 202), which the spec leaves optional")]
    public async Task Kill_DuringManifestPuts_AcknowledgedImagesStayWholeAndNothingPartialAppears()
    {
        // Images acknowledged (201) before the kill must all survive it.
        var acknowledged = new List<(string Tag, string Digest, string[] Blobs)>();
        for (int i = 0; i < 5; i++)
        {
            acknowledged.Add(await PushImageAsync($"v{i}"));
        }

        // A manifest PUT whose body stalls half-way, killed in flight.
        var (config, layer) = (await PushBlobAsync(Encoding.UTF8.GetBytes("{\"os\":\"linux\"}")), await PushBlobAsync(RandomNumberGenerator.GetBytes(4096)));
        byte[] manifest = Manifest(config, 14, layer, 4096);
        var halfSent = new TaskCompletionSource();
        var content = new StalledContent(manifest, manifest.Length / 2, halfSent);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.oci.image.manifest.v1+json");
        var inFlight = _http.PutAsync("v2/lab/crash/manifests/partial", content);

        // And a burst of concurrent pushes racing the kill.
        using var stop = new CancellationTokenSource();
        var burst = Task.Run(async () =>
        {
            int n = 0;
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var image = await PushImageAsync($"burst{n++}");
                    lock (acknowledged)
                    {
                        acknowledged.Add(image);
                    }
                }
                catch (Exception)
                {
                    return; // the registry is gone
                }
            }
        });

        await halfSent.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await Task.Delay(400);
        _server.Kill();
        content.Abandon();
        await stop.CancelAsync();
        await burst;
        await Assert.ThrowsAnyAsync<Exception>(() => inFlight);

        await _server.StartAsync();
        _http.Dispose();
        _http = new HttpClient { BaseAddress = _server.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

        using (var partial = await _http.GetAsync("v2/lab/crash/manifests/partial"))
        {
            Assert.Equal(HttpStatusCode.NotFound, partial.StatusCode);
        }

        output.WriteLine($"{acknowledged.Count} images acknowledged before the crash");
        foreach (var (tag, digest, blobs) in acknowledged)
        {
            using var get = await _http.GetAsync($"v2/lab/crash/manifests/{tag}");
            Assert.True(get.StatusCode == HttpStatusCode.OK, $"{tag}: {(int)get.StatusCode}");
            byte[] body = await get.Content.ReadAsByteArrayAsync();
            Assert.Equal(digest, "sha256:" + Convert.ToHexStringLower(SHA256.HashData(body)));
            foreach (string blob in blobs)
            {
                byte[] bytes = await _http.GetByteArrayAsync($"v2/lab/crash/blobs/{blob}");
                Assert.Equal(blob, "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes)));
            }
        }

        // Every tag the registry lists resolves to a whole manifest.
        string tags = await _http.GetStringAsync("v2/lab/crash/tags/list");
        Assert.DoesNotContain("partial", tags, StringComparison.Ordinal);
    }

    private async Task<(string Tag, string Digest, string[] Blobs)> PushImageAsync(string tag)
    {
        byte[] configBytes = Encoding.UTF8.GetBytes($"{{\"os\":\"linux\",\"tag\":\"{tag}\"}}");
        byte[] layerBytes = RandomNumberGenerator.GetBytes(16 * 1024);
        string config = await PushBlobAsync(configBytes);
        string layer = await PushBlobAsync(layerBytes);
        byte[] manifest = Manifest(config, configBytes.Length, layer, layerBytes.Length);
        var content = new ByteArrayContent(manifest);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.oci.image.manifest.v1+json");
        using var put = await _http.PutAsync($"v2/lab/crash/manifests/{tag}", content);
        if (put.StatusCode != HttpStatusCode.Created)
        {
            throw new HttpRequestException($"manifest PUT answered {(int)put.StatusCode}");
        }

        return (tag, "sha256:" + Convert.ToHexStringLower(SHA256.HashData(manifest)), [config, layer]);
    }

    private async Task<string> PushBlobAsync(byte[] content)
    {
        string digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));
        using var post = await _http.PostAsync($"v2/lab/crash/blobs/uploads/?digest={digest}", new ByteArrayContent(content));
        if (post.StatusCode != HttpStatusCode.Created)
        {
            throw new HttpRequestException($"blob POST answered {(int)post.StatusCode}");
        }

        return digest;
    }

    private static byte[] Manifest(string config, long configSize, string layer, long layerSize) => Encoding.UTF8.GetBytes(
        $"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"{config}\",\"size\":{configSize}}},\"layers\":[{{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"{layer}\",\"size\":{layerSize}}}]}}");

    /// <summary>Sends the first <c>sent</c> bytes, signals, then never finishes (declared length is the whole).</summary>
    private sealed class StalledContent(byte[] data, int sent, TaskCompletionSource signal) : HttpContent
    {
        private readonly CancellationTokenSource _release = new();

        /// <summary>Ends the stall (with an error), once the registry is dead.</summary>
        public void Abandon() => _release.Cancel();

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(data.AsMemory(0, sent));
            await stream.FlushAsync();
            signal.TrySetResult();
            await Task.Delay(TimeSpan.FromSeconds(60), _release.Token);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = data.Length;
            return true;
        }
    }
}
