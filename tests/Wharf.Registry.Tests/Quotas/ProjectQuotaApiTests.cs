using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Wharf.Oci;
using Wharf.Registry.Projects;
using Wharf.Registry.Quotas;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Quotas;

/// <summary>
/// Quotas end to end: limits set through Harbor's API, pushes through token auth, usage read back from
/// <c>/api/v2.0/projects/{p}/summary</c> as a Harbor user would.
/// </summary>
public sealed class ProjectQuotaApiTests : IAsyncLifetime
{
    private WharfServer _server = null!;
    private HttpClient _dev = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
        await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);
        _dev = _server.Client("dev", "Passw0rdX");
    }

    public async Task DisposeAsync()
    {
        _dev.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Summary_PushesSharingLayers_CountEachBlobOnce()
    {
        byte[] shared = RandomNumberGenerator.GetBytes(20_000);
        byte[] own = RandomNumberGenerator.GetBytes(3_000);
        var (_, one) = await Images.PushImageAsync(_dev, "lab/one", "v1", shared);
        var (_, two) = await Images.PushImageAsync(_dev, "lab/two", "v1", shared, own);

        long expected = shared.Length + own.Length + Images.ConfigSize + one.Length + two.Length;
        Assert.Equal(expected, await UsedAsync());
        Assert.Equal(-1, await HardAsync());
    }

    [Fact]
    public async Task Summary_AfterDeletes_ReleasesExactlyWhatIsNoLongerReferenced()
    {
        byte[] shared = RandomNumberGenerator.GetBytes(10_000);
        byte[] own = RandomNumberGenerator.GetBytes(4_000);
        var (keep, keepBody) = await Images.PushImageAsync(_dev, "lab/a", "keep", shared);
        var (drop, _) = await Images.PushImageAsync(_dev, "lab/b", "drop", shared, own);
        using var admin = _server.Admin();

        Assert.Equal(HttpStatusCode.Accepted, (await admin.DeleteAsync($"v2/lab/b/manifests/{drop}")).StatusCode);
        Assert.Equal(shared.Length + Images.ConfigSize + keepBody.Length, await UsedAsync());

        Assert.Equal(HttpStatusCode.Accepted, (await admin.DeleteAsync($"v2/lab/a/manifests/{keep}")).StatusCode);
        Assert.Equal(0, await UsedAsync());
    }

    [Fact]
    public async Task Summary_TwentyParallelPushes_IsExact()
    {
        byte[] shared = RandomNumberGenerator.GetBytes(5_000);
        var layers = Enumerable.Range(0, 20).Select(_ => RandomNumberGenerator.GetBytes(1_000 + Random.Shared.Next(500))).ToArray();
        var manifests = new ConcurrentDictionary<Digest, int>();
        await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            using var client = _server.Client("dev", "Passw0rdX");
            var (digest, body) = await Images.PushImageAsync(client, $"lab/p{i % 5}", $"t{i}", shared, layers[i]);
            manifests[digest] = body.Length;
        }));

        long expected = shared.Length + layers.Sum(l => (long)l.Length) + Images.ConfigSize + manifests.Values.Sum(v => (long)v);
        Assert.Equal(20, manifests.Count);
        Assert.Equal(expected, await UsedAsync());
    }

    [Fact]
    public async Task Push_OverTheLimit_IsDeniedCleanlyAndUsageUnchanged()
    {
        await Images.PushImageAsync(_dev, "lab/a", "small", RandomNumberGenerator.GetBytes(1_000));
        long before = await UsedAsync();
        long projectId = (await _server.Admin().GetFromJsonAsync<JsonElement>("api/v2.0/projects/lab")).GetProperty("project_id").GetInt64();
        using (var admin = _server.Admin())
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"api/v2.0/quotas/{projectId}", new { hard = new { storage = before + 1_000 } })).StatusCode);
        }

        // The 5000-byte layer is refused when its upload is committed: blobs count, not only manifests.
        byte[] big = RandomNumberGenerator.GetBytes(5_000);
        using (var post = await _dev.PostAsync($"v2/lab/a/blobs/uploads/?digest={Digest.Compute(big)}", new ByteArrayContent(big)))
        {
            await ErrorAssert.HasErrorAsync(post, HttpStatusCode.Forbidden, "DENIED");
            string detail = await ErrorAssert.DetailAsync(post);
            Assert.Contains("quota exceeded", detail, StringComparison.Ordinal);
            Assert.Contains($"{QuotaSize.Format(before)} used of {QuotaSize.Format(before + 1_000)}", detail, StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await _dev.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/lab/a/blobs/{Digest.Compute(big)}"))).StatusCode);
        Assert.Equal(before, await UsedAsync());
        Assert.Equal(before + 1_000, await HardAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await _dev.GetAsync("v2/lab/a/manifests/big")).StatusCode);

        // A push that fits still goes through.
        await Images.PushImageAsync(_dev, "lab/a", "fits", RandomNumberGenerator.GetBytes(100));
    }

    private async Task<JsonElement> QuotaAsync()
    {
        var summary = await _dev.GetFromJsonAsync<JsonElement>("api/v2.0/projects/lab/summary");
        return summary.GetProperty("quota");
    }

    private async Task<long> UsedAsync() => (await QuotaAsync()).GetProperty("used").GetProperty("storage").GetInt64();

    private async Task<long> HardAsync() => (await QuotaAsync()).GetProperty("hard").GetProperty("storage").GetInt64();
}
