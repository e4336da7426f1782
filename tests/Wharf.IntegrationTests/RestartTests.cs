using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Wharf.IntegrationTests.Images;
using Wharf.IntegrationTests.Infrastructure;

namespace Wharf.IntegrationTests;

/// <summary>A registry of its own, killed and started again on the same data directory.</summary>
public sealed class RestartTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TempDirectory _scratch = new("wharf-it-restart");
    private readonly Skopeo _skopeo = new(output);
    private RegistryServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await RegistryServer.StartNewAsync(Path.Combine(_scratch.Path, "data"));
    }

    public async Task DisposeAsync()
    {
        output.WriteLine(_server.Logs);
        await _server.DisposeAsync();
        _scratch.Dispose();
    }

    [SkopeoFact]
    public async Task Restart_KilledThenStartedOnSameDataDir_ServesImagesPushedBeforeAndAfter()
    {
        var layout = new OciLayoutBuilder(_scratch.Sub("source"));
        var before = await layout.AddImageAsync([256 * 1024, 64 * 1024]);
        var after = await layout.AddImageAsync([128 * 1024]);
        layout.Tag("before", before.Manifest);
        layout.Tag("after", after.Manifest);
        var repository = $"library/restart";
        string Ref(string tag) => $"docker://{_server.Host}/{repository}:{tag}";

        var first = await _skopeo.CopyAsync(layout.Reference("before"), Ref("before"));
        Assert.True(first.Succeeded, first.ToString());

        await _server.RestartAsync();

        Assert.Equal(before.ManifestBytes, await _skopeo.InspectRawAsync(Ref("before")));
        var second = await _skopeo.CopyAsync(layout.Reference("after"), Ref("after"));
        Assert.True(second.Succeeded, second.ToString());

        await _server.RestartAsync();

        foreach (var (tag, image) in new[] { ("before", before), ("after", after) })
        {
            var back = Path.Combine(_scratch.Path, "pulled-" + tag);
            var pull = await _skopeo.CopyAsync(Ref(tag), $"oci:{back}:{tag}");
            Assert.True(pull.Succeeded, pull.ToString());
            Assert.Equal(image.Manifest.Digest, OciLayoutReader.DigestOfTag(back, tag));
            foreach (var blob in image.Blobs)
            {
                Assert.Equal(blob.Digest, OciLayoutReader.HashBlob(back, blob.Digest));
            }
        }
    }

    [Fact]
    public async Task Upload_RegistryKilledBetweenChunks_SessionResumesAndBlobIsWhole()
    {
        using var http = new HttpClient { BaseAddress = _server.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        var first = RandomNumberGenerator.GetBytes(256 * 1024);
        var second = RandomNumberGenerator.GetBytes(100 * 1024);
        var blob = first.Concat(second).ToArray();
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(blob));

        using var post = await http.PostAsync("v2/library/resumed/blobs/uploads/", content: null);
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        var location = Absolute(post.Headers.Location);
        location = await PatchAsync(http, location, first, offset: 0);

        await _server.RestartAsync();

        location = await PatchAsync(http, location, second, offset: first.Length);
        var separator = string.IsNullOrEmpty(location.Query) ? "?" : "&";
        using var put = await http.PutAsync(new Uri($"{location}{separator}digest={Uri.EscapeDataString(digest)}"), content: null);
        Assert.True(put.StatusCode == HttpStatusCode.Created, $"PUT answered {(int)put.StatusCode}: {await put.Content.ReadAsStringAsync()}");
        Assert.Equal(blob, await http.GetByteArrayAsync($"v2/library/resumed/blobs/{digest}"));
    }

    /// <summary>One chunk of a chunked upload (distribution spec, "Pushing a blob in chunks"); returns the next Location.</summary>
    private async Task<Uri> PatchAsync(HttpClient http, Uri location, byte[] chunk, long offset)
    {
        using var patch = new HttpRequestMessage(HttpMethod.Patch, location) { Content = new ByteArrayContent(chunk) };
        patch.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        patch.Content.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + chunk.Length - 1}");
        using var response = await http.SendAsync(patch);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted,
            $"PATCH at offset {offset} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return Absolute(response.Headers.Location);
    }

    private Uri Absolute(Uri? location)
    {
        Assert.NotNull(location);
        return location.IsAbsoluteUri ? location : new Uri(_server.BaseAddress, location);
    }
}
