using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Oci;
using Wharf.Registry.Gc;
using Wharf.Registry.Storage;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Api;

/// <summary>
/// What a manifest delete may break: an image index is never left pointing at a deleted child, by
/// either the /v2 route or the management API; everything that breaks nothing still goes through.
/// </summary>
public sealed class ManifestDeleteRulesTests : IAsyncLifetime
{
    private readonly ManualTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private RegistryServer _server = null!;

    private HttpClient Client => _server.Client;

    public async Task InitializeAsync() => _server = await RegistryServer.StartAsync(s => s.AddSingleton<TimeProvider>(_clock));

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task DeleteByDigest_ChildOfIndex_Returns412ReferencedByOthersAndIndexStillPulls()
    {
        var (child, index) = await PushIndexAsync("lab/multi", "all");

        using var delete = await Client.DeleteAsync($"/v2/lab/multi/manifests/{child}");

        await ErrorAssert.HasErrorAsync(delete, HttpStatusCode.PreconditionFailed, "DENIED");
        string detail = await ErrorAssert.DetailAsync(delete);
        Assert.Contains("referenced by others", detail, StringComparison.Ordinal);
        Assert.Contains(index.ToString(), detail, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync($"/v2/lab/multi/manifests/{child}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync("/v2/lab/multi/manifests/all")).StatusCode);
    }

    [Fact]
    public async Task DeleteByDigest_ChildOfNestedIndex_IsRefusedAtEachLevelUntilTheTopIsGone()
    {
        var (child, inner) = await PushIndexAsync("lab/nested", null);
        byte[] outerBody = Index((inner, (await ManifestBytesAsync("lab/nested", inner)).Length, MediaTypes.OciIndex));
        using (var put = await _server.PutManifestAsync("lab/nested", "top", outerBody, MediaTypes.OciIndex))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var outer = Digest.Compute(outerBody);
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await Client.DeleteAsync($"/v2/lab/nested/manifests/{inner}")).StatusCode);
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await Client.DeleteAsync($"/v2/lab/nested/manifests/{child}")).StatusCode);

        Assert.Equal(HttpStatusCode.Accepted, (await Client.DeleteAsync($"/v2/lab/nested/manifests/{outer}")).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await Client.DeleteAsync($"/v2/lab/nested/manifests/{inner}")).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await Client.DeleteAsync($"/v2/lab/nested/manifests/{child}")).StatusCode);
    }

    [Fact]
    public async Task DeleteByDigest_AfterTheIndexIsDeleted_TheChildGoes()
    {
        var (child, index) = await PushIndexAsync("lab/multi", "all");

        Assert.Equal(HttpStatusCode.Accepted, (await Client.DeleteAsync($"/v2/lab/multi/manifests/{index}")).StatusCode);
        using var delete = await Client.DeleteAsync($"/v2/lab/multi/manifests/{child}");

        Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
        await ErrorAssert.HasErrorAsync(await Client.GetAsync($"/v2/lab/multi/manifests/{child}"), HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task DeleteTag_OfIndexChild_RemovesOnlyTheTag()
    {
        var (child, _) = await PushIndexAsync("lab/multi", "all", childTag: "amd64");

        Assert.Equal(HttpStatusCode.Accepted, (await Client.DeleteAsync("/v2/lab/multi/manifests/amd64")).StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/v2/lab/multi/manifests/amd64")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync($"/v2/lab/multi/manifests/{child}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync("/v2/lab/multi/manifests/all")).StatusCode);
    }

    [Fact]
    public async Task DeleteByDigest_SameManifestInAnotherRepository_IsNotHeldByTheOtherRepositorysIndex()
    {
        // lab/multi has an index over the child; lab/single has the very same manifest on its own.
        var (child, _) = await PushIndexAsync("lab/multi", "all");
        byte[] childBody = await ManifestBytesAsync("lab/multi", child);
        await PushSameImageAsync("lab/single", childBody);

        using var delete = await Client.DeleteAsync($"/v2/lab/single/manifests/{child}");

        Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync($"/v2/lab/multi/manifests/{child}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync("/v2/lab/multi/manifests/all")).StatusCode);
    }

    [Fact]
    public async Task DeleteByDigest_SubjectWithReferrers_IsAllowedAndReferrersOutliveIt()
    {
        // OCI distribution 1.1: referrers may outlive their subject; a referrer is no index.
        var (subject, subjectBody) = await _server.PushImageAsync("lab/art", "v1", [1]);
        var empty = await _server.PushBlobAsync("lab/art", Encoding.UTF8.GetBytes("{}"));
        byte[] sig = Encoding.UTF8.GetBytes(
            $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"artifactType\":\"application/vnd.example.sig\",\"config\":{{\"mediaType\":\"{MediaTypes.OciEmpty}\",\"digest\":\"{empty}\",\"size\":2}},\"layers\":[],\"subject\":{{\"mediaType\":\"{MediaTypes.OciManifest}\",\"digest\":\"{subject}\",\"size\":{subjectBody.Length}}}}}");
        (await _server.PutManifestAsync("lab/art", Digest.Compute(sig).ToString(), sig, MediaTypes.OciManifest)).EnsureSuccessStatusCode();

        Assert.Equal(HttpStatusCode.Accepted, (await Client.DeleteAsync($"/v2/lab/art/manifests/{subject}")).StatusCode);

        using var referrers = await Client.GetAsync($"/v2/lab/art/referrers/{subject}");
        using var doc = JsonDocument.Parse(await referrers.Content.ReadAsStringAsync());
        Assert.Equal(Digest.Compute(sig).ToString(), Assert.Single(doc.RootElement.GetProperty("manifests").EnumerateArray()).GetProperty("digest").GetString());
    }

    [Fact]
    public async Task Gc_AfterTheIndexTagIsDeleted_KeepsEveryBlobOfTheChild()
    {
        byte[] layer = RandomNumberGenerator.GetBytes(400);
        var (child, _) = await _server.PushImageAsync("lab/gc", null, layer);
        byte[] childBody = await ManifestBytesAsync("lab/gc", child);
        byte[] indexBody = Index((child, childBody.Length, MediaTypes.OciManifest));
        (await _server.PutManifestAsync("lab/gc", "all", indexBody, MediaTypes.OciIndex)).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.Accepted, (await Client.DeleteAsync("/v2/lab/gc/manifests/all")).StatusCode);
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await Client.DeleteAsync($"/v2/lab/gc/manifests/{child}")).StatusCode);
        _clock.Advance(TimeSpan.FromHours(3));

        var report = await _server.Services.GetRequiredService<GarbageCollector>().RunAsync(dryRun: false, default);

        Assert.DoesNotContain(report.Removed, r => r.Digest == Digest.Compute(layer));
        Assert.NotNull(_server.Services.GetRequiredService<IBlobStore>().Stat(Digest.Compute(layer)));
        using var pulled = await Client.GetAsync($"/v2/lab/gc/manifests/{Digest.Compute(indexBody)}");
        Assert.Equal(HttpStatusCode.OK, pulled.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync($"/v2/lab/gc/blobs/{Digest.Compute(layer)}")).StatusCode);
    }

    private async Task<(Digest Child, Digest Index)> PushIndexAsync(string repo, string? tag, string? childTag = null)
    {
        var (child, childBody) = await _server.PushImageAsync(repo, childTag, RandomNumberGenerator.GetBytes(64));
        byte[] body = Index((child, childBody.Length, MediaTypes.OciManifest));
        var index = Digest.Compute(body);
        using var put = await _server.PutManifestAsync(repo, tag ?? index.ToString(), body, MediaTypes.OciIndex);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        return (child, index);
    }

    private async Task PushSameImageAsync(string repo, byte[] manifest)
    {
        using var doc = JsonDocument.Parse(manifest);
        var descriptors = doc.RootElement.GetProperty("layers").EnumerateArray().Append(doc.RootElement.GetProperty("config"));
        foreach (var d in descriptors)
        {
            string digest = d.GetProperty("digest").GetString()!;
            using var mount = await Client.PostAsync($"/v2/{repo}/blobs/uploads/?mount={digest}&from=lab/multi", null);
            Assert.Equal(HttpStatusCode.Created, mount.StatusCode);
        }

        (await _server.PutManifestAsync(repo, "v1", manifest, MediaTypes.OciManifest)).EnsureSuccessStatusCode();
    }

    private async Task<byte[]> ManifestBytesAsync(string repo, Digest digest) =>
        await Client.GetByteArrayAsync($"/v2/{repo}/manifests/{digest}");

    internal static byte[] Index(params (Digest Digest, long Size, string MediaType)[] children) => Encoding.UTF8.GetBytes(
        $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciIndex}\",\"manifests\":[{string.Join(',', children.Select(c => $"{{\"mediaType\":\"{c.MediaType}\",\"digest\":\"{c.Digest}\",\"size\":{c.Size},\"platform\":{{\"architecture\":\"amd64\",\"os\":\"linux\"}}}}"))}]}}");
}

/// <summary>The management API's artifact delete keeps the same rule, answered as Harbor answers it.</summary>
public sealed class ArtifactDeleteRulesTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task DeleteArtifact_ChildOfIndex_Returns412AndTheIndexStillPulls()
    {
        using var admin = _server.Admin();
        var (child, childBody) = await Images.PushImageAsync(admin, "lab/multi", "amd64", RandomNumberGenerator.GetBytes(64));
        byte[] index = ManifestDeleteRulesTests.Index((child, childBody.Length, MediaTypes.OciManifest));
        using (var content = new ByteArrayContent(index))
        {
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(MediaTypes.OciIndex);
            (await admin.PutAsync("v2/lab/multi/manifests/all", content)).EnsureSuccessStatusCode();
        }

        foreach (string reference in new[] { child.ToString(), "amd64" })
        {
            using var delete = await admin.DeleteAsync($"api/v2.0/projects/lab/repositories/multi/artifacts/{reference}");

            Assert.Equal(HttpStatusCode.PreconditionFailed, delete.StatusCode);
            using var doc = JsonDocument.Parse(await delete.Content.ReadAsStringAsync());
            var error = doc.RootElement.GetProperty("errors")[0];
            Assert.Equal("VIOLATE_FOREIGN_KEY_CONSTRAINT", error.GetProperty("code").GetString());
            Assert.StartsWith("the deleting artifact is referenced by others", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("v2/lab/multi/manifests/all")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("v2/lab/multi/manifests/amd64")).StatusCode);

        // Removing the tag alone is fine; the index then goes with its now untagged child, as in Harbor.
        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync($"api/v2.0/projects/lab/repositories/multi/artifacts/{child}/tags/amd64")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync($"api/v2.0/projects/lab/repositories/multi/artifacts/{Digest.Compute(index)}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"v2/lab/multi/manifests/{child}")).StatusCode);
    }

    [Fact]
    public async Task DeleteArtifact_Index_TakesItsUntaggedUnsharedChildrenAlong()
    {
        using var admin = _server.Admin();
        var (tagged, taggedBody) = await Images.PushImageAsync(admin, "lab/multi", "amd64", RandomNumberGenerator.GetBytes(64));
        var (plain, plainBody) = await Images.PushImageAsync(admin, "lab/multi", "plain", RandomNumberGenerator.GetBytes(64));
        var (shared, sharedBody) = await Images.PushImageAsync(admin, "lab/multi", "shared", RandomNumberGenerator.GetBytes(64));
        Assert.Equal(HttpStatusCode.Accepted, (await admin.DeleteAsync("v2/lab/multi/manifests/plain")).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await admin.DeleteAsync("v2/lab/multi/manifests/shared")).StatusCode);
        byte[] first = ManifestDeleteRulesTests.Index(
            (tagged, taggedBody.Length, MediaTypes.OciManifest), (plain, plainBody.Length, MediaTypes.OciManifest), (shared, sharedBody.Length, MediaTypes.OciManifest));
        byte[] second = ManifestDeleteRulesTests.Index((shared, sharedBody.Length, MediaTypes.OciManifest));
        await PutIndexAsync(admin, "lab/multi", "first", first);
        await PutIndexAsync(admin, "lab/multi", "second", second);

        using var delete = await admin.DeleteAsync($"api/v2.0/projects/lab/repositories/multi/artifacts/{Digest.Compute(first)}");

        Assert.Equal(HttpStatusCode.OK, delete.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"v2/lab/multi/manifests/{Digest.Compute(first)}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"v2/lab/multi/manifests/{plain}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"v2/lab/multi/manifests/{tagged}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"v2/lab/multi/manifests/{shared}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("v2/lab/multi/manifests/second")).StatusCode);
    }

    private static async Task PutIndexAsync(HttpClient client, string repo, string tag, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(MediaTypes.OciIndex);
        using var put = await client.PutAsync($"v2/{repo}/manifests/{tag}", content);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
    }
}
