using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Wharf.Oci;

namespace Wharf.Cli.Tests.Images;

/// <summary>
/// <c>wharf image mirror</c> against real peers: a docker-registry source seeded with a real image
/// (two tags) and a three-platform index, a second docker-registry or an OCI layout as the
/// destination, skopeo reading what was written, and a wharf killed by PID in the middle of a
/// large blob read through a slow link.
/// </summary>
[Collection("registry")]
public sealed class ImageMirrorTests(RegistryFixture registry) : IDisposable
{
    private static readonly (string Os, string Arch, string? Variant)[] Platforms = [("linux", "amd64", null), ("linux", "arm64", null), ("linux", "arm", "v7")];

    private readonly DockerRegistry _source = DockerRegistry.Start("mirror-src");
    private readonly WharfRunner _wharf = new();

    public void Dispose()
    {
        _wharf.Dispose();
        _source.Dispose();
    }

    private string Layout => Path.Combine(_wharf.Dir, "usb", "layout");

    [Fact]
    public async Task Mirror_ListFileToLayout_SkopeoReadsEveryImageByteForByte_SecondRunCopiesNothing()
    {
        await SeedAsync();
        string list = WriteList($"# images for the cluster\n{_source.Host}/lab/fixture:1\n\ndocker://{_source.Host}/lab/multi:1\n");

        var first = _wharf.Run("image", "mirror", "--src-tls-verify=false", "--images-from", list, "oci:" + Layout);

        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.Matches(@"^Mirrored 2 of 2 images: \d+ blobs copied \([0-9.]+[kMG]?B\), 0 skipped\n$", first.Stdout);
        Assert.Equal(await ManifestAsync(_source.Host, "lab/fixture", "1"), SkopeoRaw($"oci:{Layout}:{_source.Host}/lab/fixture:1"));
        Assert.Equal(await ManifestAsync(_source.Host, "lab/multi", "1"), SkopeoRaw($"oci:{Layout}:{_source.Host}/lab/multi:1"));
        // skopeo copies every platform out of the layout, verifying each blob against its digest.
        Tools.Check("skopeo", "copy", "--quiet", "--all", $"oci:{Layout}:{_source.Host}/lab/multi:1", "dir:" + Path.Combine(_wharf.Dir, "out-multi"));
        Tools.Check("skopeo", "copy", "--quiet", $"oci:{Layout}:{_source.Host}/lab/fixture:1", "dir:" + Path.Combine(_wharf.Dir, "out-fixture"));

        var second = _wharf.Run("image", "mirror", "--src-tls-verify=false", "--images-from", list, "oci:" + Layout);

        Assert.True(second.ExitCode == 0, second.Stderr);
        Assert.Matches(@"^Mirrored 2 of 2 images: 0 blobs copied \(0B\), [1-9]\d* skipped\n$", second.Stdout);
        Assert.Equal(2, IndexEntries().Count);
    }

    [Fact]
    public async Task Mirror_LayoutBackIntoARegistry_DigestsKept_WharfPullsAndLoadsIt()
    {
        await SeedAsync();
        using var inner = DockerRegistry.Start("mirror-inner");
        var outside = _wharf.Run("image", "mirror", "-q", "--src-tls-verify=false", $"{_source.Host}/lab/fixture:1", $"{_source.Host}/lab/multi:1", "oci:" + Layout);
        Assert.True(outside.ExitCode == 0, outside.Stderr);

        // On the inner side: the whole layout into the inner registry under a prefix.
        var inside = _wharf.Run("image", "mirror", "--dest-tls-verify=false", "oci:" + Layout, $"docker://{inner.Host}/mirror");

        Assert.True(inside.ExitCode == 0, inside.Stderr);
        Assert.StartsWith("Mirrored 2 of 2 images:", inside.Stdout, StringComparison.Ordinal);
        Assert.Contains($"Copying image 1/2 oci:{Layout}:{_source.Host}/lab/fixture:1 to {inner.Host}/mirror/lab/fixture:1", inside.Stderr, StringComparison.Ordinal);
        Assert.Equal(await ManifestAsync(_source.Host, "lab/fixture", "1"), await ManifestAsync(inner.Host, "mirror/lab/fixture", "1"));
        Assert.Equal(await ManifestAsync(_source.Host, "lab/multi", "1"), await ManifestAsync(inner.Host, "mirror/lab/multi", "1"));
        var pulled = _wharf.Run("pull", "-q", "--tls-verify=false", $"{inner.Host}/mirror/lab/fixture:1");
        Assert.True(pulled.ExitCode == 0, pulled.Stderr);
        Assert.Equal(registry.ImageId + "\n", pulled.Stdout);

        // The same layout loads with wharf load (one image of it: the fixture's own layout).
        string single = Path.Combine(_wharf.Dir, "single");
        Assert.Equal(0, _wharf.Run("image", "mirror", "-q", $"oci:{Layout}:{_source.Host}/lab/fixture:1", "oci:" + single).ExitCode);
        Assert.Equal(0, _wharf.Run("rmi", "-a", "-f").ExitCode);
        var loaded = _wharf.Run("load", "-q", "-i", single);
        Assert.True(loaded.ExitCode == 0, loaded.Stderr);
        Assert.Contains($"{_source.Host}/lab/fixture:1", _wharf.Run("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mirror_AllTagsAndAnIndexToARegistry_EveryTagAndPlatformWithTheSameDigests()
    {
        await SeedAsync();
        using var dest = DockerRegistry.Start("mirror-dest");

        var result = _wharf.Run("image", "mirror", "--src-tls-verify=false", "--dest-tls-verify=false", "--all-tags",
            $"{_source.Host}/lab/fixture", $"{_source.Host}/lab/multi:1", $"docker://{dest.Host}/dmz");

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.StartsWith("Mirrored 3 of 3 images:", result.Stdout, StringComparison.Ordinal);
        foreach (string tag in new[] { "1", "2" })
        {
            Assert.Equal(await ManifestAsync(_source.Host, "lab/fixture", tag), await ManifestAsync(dest.Host, "dmz/lab/fixture", tag));
        }

        byte[] index = await ManifestAsync(_source.Host, "lab/multi", "1");
        Assert.Equal(index, await ManifestAsync(dest.Host, "dmz/lab/multi", "1"));
        foreach (var child in ManifestParser.Parse(index, null).Manifests)
        {
            Assert.Equal(await ManifestAsync(_source.Host, "lab/multi", child.Digest.ToString()), await ManifestAsync(dest.Host, "dmz/lab/multi", child.Digest.ToString()));
        }

        // --scoped keeps the source host in the name (its ':' made a valid path character).
        var scoped = _wharf.Run("image", "mirror", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", "--scoped", $"{_source.Host}/lab/fixture:1", $"docker://{dest.Host}");
        Assert.True(scoped.ExitCode == 0, scoped.Stderr);
        Assert.Equal(await ManifestAsync(_source.Host, "lab/fixture", "1"), await ManifestAsync(dest.Host, $"{_source.Host.Replace(':', '_')}/lab/fixture", "1"));
    }

    [Fact]
    public async Task Mirror_PlatformSelection_OneGivesThatManifestSeveralGiveASmallerIndex()
    {
        await SeedAsync();
        byte[] index = await ManifestAsync(_source.Host, "lab/multi", "1");
        var arm64 = ManifestParser.Parse(index, null).Manifests.Single(m => m.Platform!.Architecture == "arm64");

        var one = _wharf.Run("image", "mirror", "-q", "--src-tls-verify=false", "--platform", "linux/arm64", $"{_source.Host}/lab/multi:1", "oci:" + Layout);

        Assert.True(one.ExitCode == 0, one.Stderr);
        Assert.Equal(await ManifestAsync(_source.Host, "lab/multi", arm64.Digest.ToString()), SkopeoRaw($"oci:{Layout}:{_source.Host}/lab/multi:1"));

        var two = _wharf.Run("image", "mirror", "-q", "--src-tls-verify=false", "--platform", "linux/amd64", "--platform", "linux/arm/v7", $"{_source.Host}/lab/multi:1", "oci:" + Layout);

        Assert.True(two.ExitCode == 0, two.Stderr);
        var subset = ManifestParser.Parse(SkopeoRaw($"oci:{Layout}:{_source.Host}/lab/multi:1"), null);
        Assert.Equal(["amd64", "arm"], subset.Manifests.Select(m => m.Platform!.Architecture).Order().ToArray());
        Tools.Check("skopeo", "copy", "--quiet", "--all", $"oci:{Layout}:{_source.Host}/lab/multi:1", "dir:" + Path.Combine(_wharf.Dir, "out"));

        var none = _wharf.Run("image", "mirror", "-q", "--src-tls-verify=false", "--platform", "linux/s390x", $"{_source.Host}/lab/multi:1", "oci:" + Layout);
        Assert.Equal(125, none.ExitCode);
        Assert.Contains("no image in the manifest list matches linux/s390x", none.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mirror_BadReferenceInTheList_Exit125NamingTheLineAndNothingCopied()
    {
        await SeedAsync();
        string list = WriteList($"{_source.Host}/lab/fixture:1\n{_source.Host}/Lab/Bad::tag\n");
        int mark = _source.Mark;

        var result = _wharf.Run("image", "mirror", "--src-tls-verify=false", "--images-from", list, "oci:" + Layout);

        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith($"Error: {list}:2: invalid image reference \"{_source.Host}/Lab/Bad::tag\"", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(result.Stdout);
        Assert.False(Directory.Exists(Layout));
        Assert.Equal(0, _source.ManifestGets("lab/fixture", mark));

        var destination = _wharf.Run("image", "mirror", $"{_source.Host}/lab/fixture:1", "ftp://nowhere");
        Assert.Equal(125, destination.ExitCode);
        Assert.Contains("invalid destination \"ftp://nowhere\": expected docker://HOST[/PREFIX] or oci:DIRECTORY", destination.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mirror_MissingImage_StopsThereByDefault_KeepGoingCopiesTheRestAndFailsAtTheEnd()
    {
        await SeedAsync();
        string list = WriteList($"{_source.Host}/lab/fixture:1\n{_source.Host}/lab/nosuch:1\n{_source.Host}/lab/multi:1\n");

        var stops = _wharf.Run("image", "mirror", "-q", "--src-tls-verify=false", "--images-from", list, "oci:" + Layout);

        Assert.Equal(125, stops.ExitCode);
        Assert.StartsWith("Mirrored 1 of 3 images:", stops.Stdout, StringComparison.Ordinal);
        Assert.Contains($"Error: copying docker://{_source.Host}/lab/nosuch:1: ", stops.Stderr, StringComparison.Ordinal);
        Assert.Equal([$"{_source.Host}/lab/fixture:1"], IndexEntries());

        var keepGoing = _wharf.Run("image", "mirror", "-q", "--src-tls-verify=false", "--keep-going", "--images-from", list, "oci:" + Layout);

        Assert.Equal(125, keepGoing.ExitCode);
        Assert.StartsWith("Mirrored 2 of 3 images:", keepGoing.Stdout, StringComparison.Ordinal);
        Assert.Contains($"docker://{_source.Host}/lab/nosuch:1", keepGoing.Stderr, StringComparison.Ordinal);
        Assert.Equal([$"{_source.Host}/lab/fixture:1", $"{_source.Host}/lab/multi:1"], IndexEntries().Order().ToArray());
    }

    [Fact]
    public async Task Mirror_KilledInTheMiddleOfABlob_NoHalfBlobVisible_SecondRunCopiesOnlyWhatIsMissing()
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://{_source.Host}/") };
        byte[] big = RandomNumberGenerator.GetBytes(24 << 20);
        byte[] small = RegistryPush.Layer("small", 4096);
        var image = await RegistryPush.PushImageAsync(http, "lab/big", "1", small, big);
        var bigDigest = Digest.Compute(big);
        await using var slow = await SlowProxy.StartAsync(_source.Port, bytesPerTick: 32 << 10, tick: TimeSpan.FromMilliseconds(10));

        string[] args = ["image", "mirror", "--src-tls-verify=false", $"127.0.0.1:{slow.Port}/lab/big:1", "oci:" + Layout];
        using (var running = _wharf.Start(args))
        {
            running.OutputDataReceived += (_, _) => { };
            running.ErrorDataReceived += (_, _) => { };
            running.BeginOutputReadLine();
            running.BeginErrorReadLine();
            try
            {
                // Until the small layer is in and the big one is part-way: then SIGKILL by PID.
                string blobs = Path.Combine(Layout, "blobs", "sha256");
                var deadline = DateTime.UtcNow.AddMinutes(3);
                while (!(File.Exists(Path.Combine(blobs, Digest.Compute(small).Encoded))
                    && Directory.Exists(blobs) && Directory.EnumerateFiles(blobs, bigDigest.Encoded + ".partial-*").Any(f => new FileInfo(f).Length > 1 << 20)))
                {
                    Assert.False(running.HasExited, "wharf finished before it could be killed");
                    Assert.True(DateTime.UtcNow < deadline, "the big blob never started arriving");
                    await Task.Delay(20);
                }

                running.Kill();
                await running.WaitForExitAsync();
            }
            finally
            {
                if (!running.HasExited)
                {
                    running.Kill();
                }
            }
        }

        // Killed: no blob under the big layer's digest, no image in the index.
        Assert.False(File.Exists(Path.Combine(Layout, "blobs", "sha256", bigDigest.Encoded)));
        Assert.Empty(IndexEntries());

        var second = _wharf.Run(args);

        Assert.True(second.ExitCode == 0, second.Stderr);
        // The small layer (at least) was kept from the first run; the big one (at least) copied now.
        Assert.Matches(@"^Mirrored 1 of 1 images: [12] blobs copied \(2[0-9.]+MB\), [12] skipped\n$", second.Stdout);
        Assert.Contains($"Copying blob {Digest.Compute(small)} skipped: already exists", second.Stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFiles(Layout, "*.partial-*", SearchOption.AllDirectories));
        Assert.Equal(image.Body, SkopeoRaw($"oci:{Layout}:127.0.0.1:{slow.Port}/lab/big:1"));
        Tools.Check("skopeo", "copy", "--quiet", $"oci:{Layout}:127.0.0.1:{slow.Port}/lab/big:1", "dir:" + Path.Combine(_wharf.Dir, "out"));
        Assert.Equal(SHA256.HashData(big), SHA256.HashData(File.ReadAllBytes(Path.Combine(_wharf.Dir, "out", bigDigest.Encoded))));
    }

    private List<string> IndexEntries()
    {
        var layout = new Content.OciLayoutTarget(Layout);
        return [.. layout.ReadIndex().Select(d => d.Annotations![Content.OciLayoutTarget.RefNameAnnotation])];
    }

    private string WriteList(string text)
    {
        string path = Path.Combine(_wharf.Dir, "images.txt");
        File.WriteAllText(path, text);
        return path;
    }

    private static byte[] SkopeoRaw(string image) => Encoding.UTF8.GetBytes(Tools.Check("skopeo", "inspect", "--raw", image));

    private static async Task<byte[]> ManifestAsync(string host, string repository, string reference)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{host}/v2/{repository}/manifests/{reference}");
        request.Headers.TryAddWithoutValidation("Accept", string.Join(", ", MediaTypes.OciManifest, MediaTypes.OciIndex, "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json"));
        using var response = await http.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, $"{host}/{repository}:{reference}: {(int)response.StatusCode}");
        return await response.Content.ReadAsByteArrayAsync();
    }

    /// <summary>The fixture image (a real layer) as lab/fixture:1 and :2, and a three-platform index lab/multi:1.</summary>
    private async Task SeedAsync()
    {
        foreach (string tag in new[] { "1", "2" })
        {
            Tools.Check("skopeo", "copy", "--quiet", "--preserve-digests", "--src-tls-verify=false", "--dest-tls-verify=false",
                $"docker://{registry.Open}/lab/fixture:1", $"docker://{_source.Host}/lab/fixture:{tag}");
        }

        using var http = new HttpClient { BaseAddress = new Uri($"http://{_source.Host}/") };
        var entries = new List<string>();
        foreach (var (os, arch, variant) in Platforms)
        {
            var pushed = await RegistryPush.PushImageAsync(http, "lab/multi", null, RegistryPush.Layer($"{arch}{variant}", 50_000), RegistryPush.Layer("shared", 20_000));
            string platform = $"\"os\":\"{os}\",\"architecture\":\"{arch}\"" + (variant is null ? string.Empty : $",\"variant\":\"{variant}\"");
            entries.Add($"{{\"mediaType\":\"{MediaTypes.OciManifest}\",\"digest\":\"{pushed.Digest}\",\"size\":{pushed.Body.Length},\"platform\":{{{platform}}}}}");
        }

        byte[] index = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciIndex}\",\"manifests\":[{string.Join(',', entries)}]}}");
        using var put = await RegistryPush.PutManifestAsync(http, "lab/multi", "1", index, MediaTypes.OciIndex);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
    }

    /// <summary>A TCP relay on 127.0.0.1 that passes the server's bytes on at a fixed rate: a slow link to the outside.</summary>
    private sealed class SlowProxy : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        private readonly List<Task> _tasks = [];

        private SlowProxy(TcpListener listener) => _listener = listener;

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static Task<SlowProxy> StartAsync(int upstreamPort, int bytesPerTick, TimeSpan tick)
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var proxy = new SlowProxy(listener);
            proxy._tasks.Add(Task.Run(() => proxy.AcceptAsync(upstreamPort, bytesPerTick, tick)));
            return Task.FromResult(proxy);
        }

        private async Task AcceptAsync(int upstreamPort, int bytesPerTick, TimeSpan tick)
        {
            var ct = _stop.Token;
            while (!ct.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync(ct);
                }
                catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
                {
                    return;
                }

                lock (_tasks)
                {
                    _tasks.Add(Task.Run(() => RelayAsync(client, upstreamPort, bytesPerTick, tick, ct)));
                }
            }
        }

        private static async Task RelayAsync(TcpClient client, int upstreamPort, int bytesPerTick, TimeSpan tick, CancellationToken ct)
        {
            using var c = client;
            using var upstream = new TcpClient();
            try
            {
                await upstream.ConnectAsync(IPAddress.Loopback, upstreamPort, ct);
                var toServer = c.GetStream().CopyToAsync(upstream.GetStream(), ct);
                var toClient = ThrottledCopyAsync(upstream.GetStream(), c.GetStream(), bytesPerTick, tick, ct);
                await Task.WhenAny(toServer, toClient);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The wharf at the other end was killed, or the test is over.
            }
        }

        private static async Task ThrottledCopyAsync(Stream from, Stream to, int bytesPerTick, TimeSpan tick, CancellationToken ct)
        {
            byte[] buffer = new byte[bytesPerTick];
            int n;
            while ((n = await from.ReadAsync(buffer, ct)) > 0)
            {
                await to.WriteAsync(buffer.AsMemory(0, n), ct);
                await Task.Delay(tick, ct);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            Task[] tasks;
            lock (_tasks)
            {
                tasks = [.. _tasks];
            }

            try
            {
                await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception e) when (e is OperationCanceledException or TimeoutException or IOException or SocketException)
            {
            }

            _stop.Dispose();
        }
    }
}
