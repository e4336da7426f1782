using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Oci;
using Wharf.Registry.Metadata;
using Wharf.Registry.Quotas;

namespace Wharf.Registry.Tests.Quotas;

public sealed class QuotaEnforcementTests : IAsyncLifetime
{
    private readonly FixedQuotas _quotas = new();
    private RegistryServer _server = null!;

    private IMetadataStore Store => _server.Services.GetRequiredService<IMetadataStore>();

    public async Task InitializeAsync() =>
        _server = await RegistryServer.StartAsync(s => s.AddSingleton<IProjectQuotas>(_quotas));

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Usage_SharedLayerAcrossRepositories_CountsOnce()
    {
        byte[] shared = RandomNumberGenerator.GetBytes(10_000);
        var (m1, body1) = await _server.PushImageAsync("lab/one", "v1", shared);
        var (m2, body2) = await _server.PushImageAsync("lab/two", "v1", shared);
        long config = ConfigSize;

        // Both images have the same config and layer, so the same manifest: counted once.
        Assert.Equal(m1, m2);
        Assert.Equal(shared.Length + config + body1.Length, await Store.GetProjectUsageAsync("lab", default));

        byte[] extra = RandomNumberGenerator.GetBytes(3_000);
        var (_, body3) = await _server.PushImageAsync("lab/two", "v2", shared, extra);
        Assert.Equal(shared.Length + extra.Length + config + body1.Length + body3.Length, await Store.GetProjectUsageAsync("lab", default));
        Assert.Equal(0, await Store.GetProjectUsageAsync("other", default));
    }

    [Fact]
    public async Task Delete_Manifest_ReleasesItsBytesAtOnce()
    {
        byte[] shared = RandomNumberGenerator.GetBytes(10_000);
        byte[] own = RandomNumberGenerator.GetBytes(5_000);
        var (keep, keepBody) = await _server.PushImageAsync("lab/a", "keep", shared);
        var (drop, _) = await _server.PushImageAsync("lab/a", "drop", shared, own);

        using var del = await _server.Client.DeleteAsync($"/v2/lab/a/manifests/{drop}");
        Assert.Equal(HttpStatusCode.Accepted, del.StatusCode);
        Assert.Equal(shared.Length + ConfigSize + keepBody.Length, await Store.GetProjectUsageAsync("lab", default));

        (await _server.Client.DeleteAsync($"/v2/lab/a/manifests/{keep}")).Dispose();
        Assert.Equal(0, await Store.GetProjectUsageAsync("lab", default));
    }

    [Fact]
    public async Task Push_ManifestOverLimit_Returns403DeniedNamingNumbers_AndUsageUnchanged()
    {
        await _server.PushImageAsync("lab/a", "small", RandomNumberGenerator.GetBytes(1_000));
        long before = await Store.GetProjectUsageAsync("lab", default);

        // The layer fits (it is counted once committed); the manifest's own bytes do not.
        var config = await _server.PushBlobAsync("lab/a", Encoding.UTF8.GetBytes(ConfigJson));
        byte[] big = RandomNumberGenerator.GetBytes(2_000);
        _quotas.Limits["lab"] = before + 2_000 + 10;
        var layer = await _server.PushBlobAsync("lab/a", big);
        long withLayer = await Store.GetProjectUsageAsync("lab", default);
        Assert.Equal(before + 2_000, withLayer);

        string json = $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"{config}\",\"size\":{ConfigSize}}},\"layers\":[{{\"mediaType\":\"{MediaTypes.OciLayerGzip}\",\"digest\":\"{layer}\",\"size\":2000}}]}}";
        using var put = await _server.PutManifestAsync("lab/a", "big", Encoding.UTF8.GetBytes(json), MediaTypes.OciManifest);
        await ErrorAssert.HasErrorAsync(put, HttpStatusCode.Forbidden, "DENIED");
        string detail = await ErrorAssert.DetailAsync(put);
        Assert.Contains("quota exceeded", detail, StringComparison.Ordinal);
        Assert.Contains($": {QuotaSize.Format(withLayer)} used of {QuotaSize.Format(before + 2_010)}, this push needs {QuotaSize.Format(json.Length)} more", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("bytes", detail, StringComparison.Ordinal);
        Assert.Equal(withLayer, await Store.GetProjectUsageAsync("lab", default));
        Assert.Equal(HttpStatusCode.NotFound, (await _server.Client.GetAsync("/v2/lab/a/manifests/big")).StatusCode);
    }

    [Fact]
    public async Task Push_TwentyInParallel_UsageIsExact()
    {
        byte[] shared = RandomNumberGenerator.GetBytes(4_000);
        var layers = Enumerable.Range(0, 20).Select(_ => RandomNumberGenerator.GetBytes(1_000)).ToArray();
        var results = new ConcurrentBag<(Digest, byte[])>();
        await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
            results.Add(await _server.PushImageAsync($"lab/p{i % 4}", $"t{i}", shared, layers[i]))));

        long manifests = results.Select(r => r.Item1).Distinct().Sum(d => results.First(r => r.Item1 == d).Item2.LongLength);
        long expected = shared.Length + layers.Sum(l => (long)l.Length) + ConfigSize + manifests;
        Assert.Equal(expected, await Store.GetProjectUsageAsync("lab", default));
    }

    [Fact]
    public async Task Push_ParallelPastLimit_NeverExceedsIt()
    {
        _quotas.Limits["lab"] = 8_000;
        int accepted = 0;
        await Task.WhenAll(Enumerable.Range(0, 12).Select(async i =>
        {
            try
            {
                await _server.PushImageAsync($"lab/q{i % 3}", $"t{i}", RandomNumberGenerator.GetBytes(1_000));
                Interlocked.Increment(ref accepted);
            }
            catch (HttpRequestException e) when (e.StatusCode == HttpStatusCode.Forbidden)
            {
                // refused by quota: PushImageAsync throws on anything but 201
            }
        }));

        long usage = await Store.GetProjectUsageAsync("lab", default);
        Assert.InRange(usage, 1, 8_000);
        Assert.InRange(accepted, 1, 11);
    }

    private const string ConfigJson = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";

    private static long ConfigSize => Encoding.UTF8.GetByteCount(ConfigJson);

    private sealed class FixedQuotas : IProjectQuotas
    {
        public ConcurrentDictionary<string, long> Limits { get; } = new();

        public ValueTask<long?> GetLimitAsync(string project, CancellationToken cancellationToken) =>
            ValueTask.FromResult(Limits.TryGetValue(project, out long l) ? l : (long?)null);
    }
}
