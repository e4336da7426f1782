using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Oci;
using Wharf.Registry.Gc;
using Wharf.Registry.Storage;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Gc;

public sealed class GarbageCollectorTests : IAsyncLifetime
{
    private readonly ManualTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private RegistryServer _server = null!;

    private GarbageCollector Gc => _server.Services.GetRequiredService<GarbageCollector>();

    public async Task InitializeAsync() => _server = await RegistryServer.StartAsync(s => s.AddSingleton<TimeProvider>(_clock));

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Run_UnlinkedBlobPastGrace_IsRemoved_ReferencedOnesStay()
    {
        var (manifest, _) = await _server.PushImageAsync("lab/a", "v1", RandomNumberGenerator.GetBytes(500));
        byte[] loose = RandomNumberGenerator.GetBytes(700);
        var digest = await _server.PushBlobAsync("lab/a", loose);
        (await _server.Client.DeleteAsync($"/v2/lab/a/blobs/{digest}")).Dispose();

        // Within the grace period nothing is collected: it may belong to a push in progress.
        Assert.Empty((await Gc.RunAsync(dryRun: false, default)).Removed);

        _clock.Advance(TimeSpan.FromHours(2));
        var dry = await Gc.RunAsync(dryRun: true, default);
        Assert.Equal(digest, Assert.Single(dry.Removed).Digest);
        Assert.NotNull(_server.Services.GetRequiredService<IBlobStore>().Stat(digest));

        var report = await Gc.RunAsync(dryRun: false, default);
        Assert.Equal(digest, Assert.Single(report.Removed).Digest);
        Assert.Equal(700, report.BytesFreed);
        Assert.Null(_server.Services.GetRequiredService<IBlobStore>().Stat(digest));

        // The image is untouched and still pulls.
        using var get = await _server.Client.GetAsync($"/v2/lab/a/manifests/{manifest}");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
    }

    [Fact]
    public async Task Run_BlobsOfDeletedManifest_AreCollectedOnlyOnceUnlinkedEverywhere()
    {
        byte[] layer = RandomNumberGenerator.GetBytes(300);
        var (m, _) = await _server.PushImageAsync("lab/a", "v1", layer);
        (await _server.Client.DeleteAsync($"/v2/lab/a/manifests/{m}")).Dispose();
        _clock.Advance(TimeSpan.FromHours(2));

        // The layer is still linked to lab/a (a repository may serve blobs without a manifest).
        var report = await Gc.RunAsync(dryRun: false, default);
        Assert.DoesNotContain(report.Removed, d => d.Digest == Digest.Compute(layer));
        Assert.DoesNotContain(report.Removed, d => d.Digest == m);
        Assert.Equal(HttpStatusCode.OK, (await _server.Client.GetAsync($"/v2/lab/a/blobs/{Digest.Compute(layer)}")).StatusCode);
    }

    [Fact]
    public async Task Run_FileWithoutRecord_IsRemovedAfterGrace()
    {
        byte[] orphan = RandomNumberGenerator.GetBytes(100);
        var digest = Digest.Compute(orphan);
        string dir = Path.Combine(_server.DataDirectory, "blobs", "sha256", digest.Encoded[..2]);
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, digest.Encoded);
        await File.WriteAllBytesAsync(path, orphan);
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow - TimeSpan.FromHours(3));
        _clock.Advance(TimeSpan.FromHours(2));

        var report = await Gc.RunAsync(dryRun: false, default);
        Assert.Contains(report.Removed, d => d.Digest == digest);
        Assert.False(File.Exists(path));
    }
}
