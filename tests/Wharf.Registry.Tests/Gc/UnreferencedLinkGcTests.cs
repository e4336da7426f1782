using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Oci;
using Wharf.Registry.Gc;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Gc;

/// <summary>
/// Blobs linked to a repository that no manifest refers to (a refused or abandoned push) are
/// unlinked once the grace period has passed, then collected, freeing space and quota.
/// </summary>
public sealed class UnreferencedLinkGcTests : IAsyncLifetime
{
    private WharfServer _server = null!;
    private HttpClient _dev = null!;

    private GarbageCollector Gc => _server.Services.GetRequiredService<GarbageCollector>();

    public async Task InitializeAsync()
    {
        // No schedule: the tests move the clock by days and run GC themselves.
        _server = await WharfServer.StartAsync(new Dictionary<string, string?> { ["Registry:GcInterval"] = "00:00:00" });
        await _server.CreateProjectAsync("lab");
        await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);
        _dev = _server.Client("dev", WharfEndpoint.UserPassword);
    }

    public async Task DisposeAsync()
    {
        _dev.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Run_AbandonedPushPastGrace_IsUnlinkedAndCollected_FreeingQuota()
    {
        var image = await RegistryPush.PushImageAsync(_dev, "lab/a", "v1", RandomNumberGenerator.GetBytes(3_000));
        long imageUsage = await UsedAsync();
        byte[] layer = RandomNumberGenerator.GetBytes(5_000);
        var abandoned = await RegistryPush.PushBlobAsync(_dev, "lab/a", layer);
        Assert.Equal(imageUsage + layer.Length, await UsedAsync());

        // Within the default 24 hours the push may still be going on: nothing happens.
        _server.Clock.Advance(TimeSpan.FromHours(23));
        var early = await Gc.RunAsync(dryRun: false, default);
        Assert.Empty(early.Unlinked);
        Assert.Empty(early.Removed);

        _server.Clock.Advance(TimeSpan.FromHours(2));
        var dry = await Gc.RunAsync(dryRun: true, default);
        Assert.Equal(abandoned, Assert.Single(dry.Unlinked).Digest);
        Assert.Equal(abandoned, Assert.Single(dry.Removed).Digest);
        Assert.Contains($"would unlink {abandoned} from lab/a", dry.Log, StringComparison.Ordinal);
        Assert.Equal(imageUsage + layer.Length, await UsedAsync());
        Assert.Equal(HttpStatusCode.OK, await HeadBlobAsync("lab/a", abandoned));

        var report = await Gc.RunAsync(dryRun: false, default);
        var unlinked = Assert.Single(report.Unlinked);
        Assert.Equal(abandoned, unlinked.Digest);
        Assert.Equal("lab/a", unlinked.Repository?.Value);
        Assert.Equal(abandoned, Assert.Single(report.Removed).Digest);
        Assert.Equal(layer.Length, report.BytesFreed);
        Assert.Equal(imageUsage, await UsedAsync());
        Assert.Equal(HttpStatusCode.NotFound, await HeadBlobAsync("lab/a", abandoned));
        Assert.False(File.Exists(BlobPath(abandoned)));

        // The image's blobs are referenced by its manifest: they stay, and it still pulls.
        using var pulled = await _dev.GetAsync($"v2/lab/a/manifests/{image.Digest}");
        Assert.Equal(HttpStatusCode.OK, pulled.StatusCode);
    }

    [Fact]
    public async Task Run_RefusedManifestPush_FreesItsBlobsAfterGrace()
    {
        using (var admin = _server.Admin())
        {
            long id = (await admin.GetFromJsonAsync<JsonElement>("api/v2.0/projects/lab")).GetProperty("project_id").GetInt64();
            using var put = await admin.PutAsJsonAsync($"api/v2.0/quotas/{id}", new { hard = new { storage = RegistryPush.Config.Length + 4_000 + 20 } });
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        // The blobs fit, the manifest does not: the push fails and leaves its blobs linked.
        byte[] layer = RandomNumberGenerator.GetBytes(4_000);
        var config = await RegistryPush.PushBlobAsync(_dev, "lab/a", RegistryPush.Config);
        var layerDigest = await RegistryPush.PushBlobAsync(_dev, "lab/a", layer);
        string json = $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"{config}\",\"size\":{RegistryPush.Config.Length}}},\"layers\":[{{\"mediaType\":\"{MediaTypes.OciLayerGzip}\",\"digest\":\"{layerDigest}\",\"size\":{layer.Length}}}]}}";
        using (var refused = await RegistryPush.PutManifestAsync(_dev, "lab/a", "v1", System.Text.Encoding.UTF8.GetBytes(json), MediaTypes.OciManifest))
        {
            await ErrorAssert.HasErrorAsync(refused, HttpStatusCode.Forbidden, "DENIED");
        }

        Assert.Equal(RegistryPush.Config.Length + layer.Length, await UsedAsync());

        _server.Clock.Advance(TimeSpan.FromHours(25));
        var report = await Gc.RunAsync(dryRun: false, default);
        Assert.Equal(2, report.Unlinked.Count);
        Assert.Equal(0, await UsedAsync());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_server.DataDirectory, "blobs"), "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Run_BlobPushedAgain_RestartsItsGracePeriod()
    {
        byte[] layer = RandomNumberGenerator.GetBytes(2_000);
        var digest = await RegistryPush.PushBlobAsync(_dev, "lab/a", layer);
        _server.Clock.Advance(TimeSpan.FromHours(23));

        // A new push of the same layer (about to be referenced by its manifest) links it again.
        Assert.Equal(digest, await RegistryPush.PushBlobAsync(_dev, "lab/a", layer));
        _server.Clock.Advance(TimeSpan.FromHours(2));

        var report = await Gc.RunAsync(dryRun: false, default);
        Assert.Empty(report.Unlinked);
        Assert.Equal(HttpStatusCode.OK, await HeadBlobAsync("lab/a", digest));
        var image = await RegistryPush.PushImageAsync(_dev, "lab/a", "v1", layer);
        Assert.NotEqual(default, image.Digest);
    }

    private async Task<long> UsedAsync()
    {
        var summary = await _dev.GetFromJsonAsync<JsonElement>("api/v2.0/projects/lab/summary");
        return summary.GetProperty("quota").GetProperty("used").GetProperty("storage").GetInt64();
    }

    private async Task<HttpStatusCode> HeadBlobAsync(string repository, Digest digest)
    {
        using var head = await _dev.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/{repository}/blobs/{digest}"));
        return head.StatusCode;
    }

    private string BlobPath(Digest digest) => Path.Combine(_server.DataDirectory, "blobs", digest.Algorithm, digest.Encoded[..2], digest.Encoded);
}
