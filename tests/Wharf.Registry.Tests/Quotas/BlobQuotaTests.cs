using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Wharf.Oci;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Quotas;

/// <summary>
/// A project's quota covers every byte stored for it: blobs count once committed (monolithic,
/// chunked or mounted), once per project, and usage reads the same from /quotas and the project summary.
/// </summary>
public sealed class BlobQuotaTests : IAsyncLifetime
{
    private const int MiB = 1024 * 1024;
    private WharfServer _server = null!;
    private HttpClient _dev = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
        await _server.CreateProjectAsync("other");
        await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);
        await _server.AddMemberAsync("other", "dev", ProjectRole.Developer);
        _dev = _server.Client("dev", WharfEndpoint.UserPassword);
    }

    public async Task DisposeAsync()
    {
        _dev.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task MonolithicUpload_FiveTenMegabyteBlobsIntoTenMegabyteProject_OnlyTheFirstIsStored()
    {
        await SetLimitAsync("lab", 10 * MiB);
        var blobs = Enumerable.Range(0, 5).Select(_ => RandomNumberGenerator.GetBytes(10 * MiB)).ToList();

        using (var first = await PostMonolithicAsync("lab/a", blobs[0]))
        {
            Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        }

        foreach (var blob in blobs.Skip(1))
        {
            using var refused = await PostMonolithicAsync("lab/a", blob);
            await ErrorAssert.HasErrorAsync(refused, HttpStatusCode.Forbidden, "DENIED");
            Assert.Contains("quota exceeded", await ErrorAssert.DetailAsync(refused), StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.NotFound, await HeadBlobAsync("lab/a", Digest.Compute(blob)));
        }

        Assert.Equal(10 * MiB, await QuotaUsedAsync("lab"));
        Assert.Equal(10 * MiB, await SummaryUsedAsync("lab"));
        Assert.Single(Directory.EnumerateFiles(Path.Combine(_server.DataDirectory, "blobs"), "*", SearchOption.AllDirectories));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_server.DataDirectory, "uploads")));
    }

    [Fact]
    public async Task ChunkedUpload_OverQuota_IsDeniedAndLeavesNothing()
    {
        await SetLimitAsync("lab", 100_000);
        byte[] blob = RandomNumberGenerator.GetBytes(150_000);

        // First chunk fits; the second would not, and its length is known: refused before it is written.
        var location = await StartSessionAsync("lab/a");
        using (var patch = Chunk(location, blob, 0, 60_000))
        using (var ok = await _dev.SendAsync(patch))
        {
            Assert.Equal(HttpStatusCode.Accepted, ok.StatusCode);
        }

        using (var patch = Chunk(location, blob, 60_000, 90_000))
        using (var refused = await _dev.SendAsync(patch))
        {
            await ErrorAssert.HasErrorAsync(refused, HttpStatusCode.Forbidden, "DENIED");
            Assert.Contains("quota exceeded", await ErrorAssert.DetailAsync(refused), StringComparison.Ordinal);
        }

        using (var status = await _dev.GetAsync(location))
        {
            await ErrorAssert.HasErrorAsync(status, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        }

        // Chunks without a length (streamed): refused when the upload is closed.
        location = await StartSessionAsync("lab/a");
        using (var patch = new HttpRequestMessage(HttpMethod.Patch, location) { Content = new StreamContent(new MemoryStream(blob)) })
        {
            patch.Headers.TransferEncodingChunked = true;
            using var accepted = await _dev.SendAsync(patch);
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        using (var put = await _dev.PutAsync(location + "?digest=" + Digest.Compute(blob), null))
        {
            await ErrorAssert.HasErrorAsync(put, HttpStatusCode.Forbidden, "DENIED");
        }

        Assert.Equal(0, await QuotaUsedAsync("lab"));
        Assert.Equal(HttpStatusCode.NotFound, await HeadBlobAsync("lab/a", Digest.Compute(blob)));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_server.DataDirectory, "uploads")));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_server.DataDirectory, "blobs"), "*", SearchOption.AllDirectories));

        // What fits still goes through, chunked.
        byte[] small = RandomNumberGenerator.GetBytes(90_000);
        location = await StartSessionAsync("lab/a");
        using (var patch = Chunk(location, small, 0, small.Length))
        using (var accepted = await _dev.SendAsync(patch))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        using (var put = await _dev.PutAsync(location + "?digest=" + Digest.Compute(small), null))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        Assert.Equal(small.Length, await QuotaUsedAsync("lab"));
    }

    [Fact]
    public async Task Mount_FromAnotherProject_CountsAndIsDeniedOverQuota_WithinTheProjectCountsOnce()
    {
        byte[] blob = RandomNumberGenerator.GetBytes(50_000);
        var digest = Digest.Compute(blob);
        using (var post = await PostMonolithicAsync("other/src", blob))
        {
            Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        }

        await SetLimitAsync("lab", 40_000);
        using (var mount = await _dev.PostAsync($"v2/lab/a/blobs/uploads/?mount={digest}&from=other/src", null))
        {
            await ErrorAssert.HasErrorAsync(mount, HttpStatusCode.Forbidden, "DENIED");
            Assert.Contains("quota exceeded", await ErrorAssert.DetailAsync(mount), StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.NotFound, await HeadBlobAsync("lab/a", digest));
        Assert.Equal(0, await QuotaUsedAsync("lab"));

        await SetLimitAsync("lab", 60_000);
        using (var mount = await _dev.PostAsync($"v2/lab/a/blobs/uploads/?mount={digest}&from=other/src", null))
        {
            Assert.Equal(HttpStatusCode.Created, mount.StatusCode);
        }

        Assert.Equal(blob.Length, await QuotaUsedAsync("lab"));

        // A second repository of the same project: the blob is counted once (Harbor counts per project).
        using (var mount = await _dev.PostAsync($"v2/lab/b/blobs/uploads/?mount={digest}&from=lab/a", null))
        {
            Assert.Equal(HttpStatusCode.Created, mount.StatusCode);
        }

        using (var again = await PostMonolithicAsync("lab/c", blob))
        {
            Assert.Equal(HttpStatusCode.Created, again.StatusCode);
        }

        Assert.Equal(blob.Length, await QuotaUsedAsync("lab"));
        Assert.Equal(blob.Length, await SummaryUsedAsync("lab"));
        Assert.Equal(blob.Length, await QuotaUsedAsync("other"));
    }

    [Fact]
    public async Task Manifest_ReferencingCountedBlobs_AddsOnlyItsOwnBytes_DeletesFreeUsage()
    {
        byte[] layer = RandomNumberGenerator.GetBytes(20_000);
        var configDigest = await RegistryPush.PushBlobAsync(_dev, "lab/a", RegistryPush.Config);
        var layerDigest = await RegistryPush.PushBlobAsync(_dev, "lab/a", layer);
        long blobs = RegistryPush.Config.Length + layer.Length;
        Assert.Equal(blobs, await QuotaUsedAsync("lab"));

        var image = await RegistryPush.PushImageAsync(_dev, "lab/a", "v1", layer);
        Assert.Equal(blobs + image.Body.Length, await QuotaUsedAsync("lab"));
        Assert.Equal(blobs + image.Body.Length, await SummaryUsedAsync("lab"));

        // The same image in a second repository of the project adds nothing.
        await RegistryPush.PushImageAsync(_dev, "lab/b", "v1", layer);
        Assert.Equal(blobs + image.Body.Length, await QuotaUsedAsync("lab"));

        // Deleting frees: the manifests (with the blobs only they held), then a loose blob.
        using (var admin = _server.Admin())
        {
            foreach (string repo in new[] { "lab/a", "lab/b" })
            {
                using var del = await admin.DeleteAsync($"v2/{repo}/manifests/{image.Digest}");
                Assert.Equal(HttpStatusCode.Accepted, del.StatusCode);
            }

            Assert.Equal(0, await QuotaUsedAsync("lab"));

            byte[] loose = RandomNumberGenerator.GetBytes(7_000);
            var looseDigest = await RegistryPush.PushBlobAsync(_dev, "lab/a", loose);
            Assert.Equal(loose.Length, await QuotaUsedAsync("lab"));
            using var delBlob = await admin.DeleteAsync($"v2/lab/a/blobs/{looseDigest}");
            Assert.Equal(HttpStatusCode.Accepted, delBlob.StatusCode);
            Assert.Equal(0, await QuotaUsedAsync("lab"));
        }

        Assert.NotEqual(configDigest, layerDigest);
    }

    private async Task SetLimitAsync(string project, long bytes)
    {
        using var admin = _server.Admin();
        long id = (await admin.GetFromJsonAsync<JsonElement>($"api/v2.0/projects/{project}")).GetProperty("project_id").GetInt64();
        using var put = await admin.PutAsJsonAsync($"api/v2.0/quotas/{id}", new { hard = new { storage = bytes } });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
    }

    private async Task<long> QuotaUsedAsync(string project)
    {
        using var admin = _server.Admin();
        long id = (await admin.GetFromJsonAsync<JsonElement>($"api/v2.0/projects/{project}")).GetProperty("project_id").GetInt64();
        var quotas = await admin.GetFromJsonAsync<JsonElement>($"api/v2.0/quotas?reference=project&reference_id={id}");
        return quotas[0].GetProperty("used").GetProperty("storage").GetInt64();
    }

    private async Task<long> SummaryUsedAsync(string project)
    {
        var summary = await _dev.GetFromJsonAsync<JsonElement>($"api/v2.0/projects/{project}/summary");
        return summary.GetProperty("quota").GetProperty("used").GetProperty("storage").GetInt64();
    }

    private Task<HttpResponseMessage> PostMonolithicAsync(string repository, byte[] blob) =>
        _dev.PostAsync($"v2/{repository}/blobs/uploads/?digest={Digest.Compute(blob)}", new ByteArrayContent(blob));

    private async Task<HttpStatusCode> HeadBlobAsync(string repository, Digest digest)
    {
        using var head = await _dev.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/{repository}/blobs/{digest}"));
        return head.StatusCode;
    }

    private async Task<string> StartSessionAsync(string repository)
    {
        using var post = await _dev.PostAsync($"v2/{repository}/blobs/uploads/", null);
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        return post.Headers.Location!.OriginalString.TrimStart('/');
    }

    private static HttpRequestMessage Chunk(string location, byte[] blob, int offset, int length)
    {
        var content = new ByteArrayContent(blob, offset, length);
        content.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + length - 1}");
        return new HttpRequestMessage(HttpMethod.Patch, location) { Content = content };
    }
}
