using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Wharf.Oci;

namespace Wharf.Registry.Tests.Api;

public sealed class ManifestEndpointTests : IAsyncLifetime
{
    private RegistryServer _server = null!;

    private HttpClient Client => _server.Client;

    public async Task InitializeAsync() => _server = await RegistryServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Get_ByTagAndDigest_ReturnsExactBytesAndHeaders()
    {
        var (digest, body) = await _server.PushImageAsync("lab/img", "v1", [1, 2, 3]);

        foreach (string reference in new[] { "v1", digest.ToString() })
        {
            using var get = await Client.GetAsync($"/v2/lab/img/manifests/{reference}");
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            Assert.Equal(body, await get.Content.ReadAsByteArrayAsync());
            Assert.Equal(MediaTypes.OciManifest, get.Content.Headers.ContentType!.MediaType);
            Assert.Equal(digest.ToString(), get.Headers.GetValues("Docker-Content-Digest").Single());
            Assert.Equal(body.Length, get.Content.Headers.ContentLength);
            Assert.Equal($"\"{digest}\"", get.Headers.ETag!.Tag);
        }

        using var head = await Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/v2/lab/img/manifests/v1"));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(body.Length, head.Content.Headers.ContentLength);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Put_ReturnsLocationAndDigest()
    {
        var config = await _server.PushBlobAsync("lab/img", Encoding.UTF8.GetBytes("{}"));
        byte[] body = Manifest(config, 2);
        using var put = await _server.PutManifestAsync("lab/img", "latest", body, MediaTypes.OciManifest);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        var digest = Digest.Compute(body);
        Assert.Equal($"/v2/lab/img/manifests/{digest}", put.Headers.Location!.OriginalString);
        Assert.Equal(digest.ToString(), put.Headers.GetValues("Docker-Content-Digest").Single());
    }

    [Fact]
    public async Task Put_DockerSchema2_KeepsItsContentType()
    {
        var config = await _server.PushBlobAsync("lab/docker", Encoding.UTF8.GetBytes("{\"a\":1}"));
        string json = $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.DockerManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.DockerConfig}\",\"digest\":\"{config}\",\"size\":7}},\"layers\":[]}}";
        using var put = await _server.PutManifestAsync("lab/docker", "v2s2", Encoding.UTF8.GetBytes(json), MediaTypes.DockerManifest);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        using var get = await Client.GetAsync("/v2/lab/docker/manifests/v2s2");
        Assert.Equal(MediaTypes.DockerManifest, get.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task Put_MissingBlob_Returns404ManifestBlobUnknownAndNoTag()
    {
        var missing = Digest.Compute(new byte[] { 42 });
        using var put = await _server.PutManifestAsync("lab/img", "broken", Manifest(missing, 1), MediaTypes.OciManifest);
        await ErrorAssert.HasErrorAsync(put, HttpStatusCode.NotFound, "MANIFEST_BLOB_UNKNOWN");
        using var get = await Client.GetAsync("/v2/lab/img/manifests/broken");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task Put_BlobSizeDiffersFromManifest_Returns400ManifestInvalid()
    {
        var config = await _server.PushBlobAsync("lab/img", Encoding.UTF8.GetBytes("{}"));
        using var put = await _server.PutManifestAsync("lab/img", "lies", Manifest(config, 999), MediaTypes.OciManifest);
        await ErrorAssert.HasErrorAsync(put, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
    }

    [Fact]
    public async Task Put_InvalidJson_Returns400ManifestInvalid()
    {
        using var put = await _server.PutManifestAsync("lab/img", "junk", Encoding.UTF8.GetBytes("{not json"), MediaTypes.OciManifest);
        await ErrorAssert.HasErrorAsync(put, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
    }

    [Fact]
    public async Task Put_Schema1_IsRefusedWithClearDetail()
    {
        byte[] body = Encoding.UTF8.GetBytes("{\"schemaVersion\":1,\"name\":\"lab/img\",\"tag\":\"old\",\"fsLayers\":[]}");
        using var put = await _server.PutManifestAsync("lab/img", "old", body, MediaTypes.DockerSchema1Signed);
        await ErrorAssert.HasErrorAsync(put, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
        Assert.Contains("schema1", await ErrorAssert.DetailAsync(put), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Put_Oversized_Returns413()
    {
        byte[] body = new byte[MediaTypes.MaxManifestBytes + 10];
        Array.Fill(body, (byte)' ');
        using var put = await _server.PutManifestAsync("lab/img", "huge", body, MediaTypes.OciManifest);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, put.StatusCode);
        using var get = await Client.GetAsync("/v2/lab/img/manifests/huge");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task Put_ByDigestThatDoesNotMatch_Returns400DigestInvalid()
    {
        var config = await _server.PushBlobAsync("lab/img", Encoding.UTF8.GetBytes("{}"));
        var wrong = Digest.Compute(new byte[] { 0 });
        using var put = await _server.PutManifestAsync("lab/img", wrong.ToString(), Manifest(config, 2), MediaTypes.OciManifest);
        await ErrorAssert.HasErrorAsync(put, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Fact]
    public async Task Put_ByDigestWithTagQuery_TagsIt()
    {
        var config = await _server.PushBlobAsync("lab/img", Encoding.UTF8.GetBytes("{}"));
        byte[] body = Manifest(config, 2);
        var digest = Digest.Compute(body);
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(MediaTypes.OciManifest);
        using var put = await Client.PutAsync($"/v2/lab/img/manifests/{digest}?tag=a&tag=b", content);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(new[] { "a", "b" }, put.Headers.GetValues("OCI-Tag"));
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync("/v2/lab/img/manifests/b")).StatusCode);
    }

    [Theory]
    [InlineData("-leadingdash")]
    [InlineData(".dot")]
    public async Task Put_InvalidTag_Returns400TagInvalid(string tag)
    {
        var config = await _server.PushBlobAsync("lab/img", Encoding.UTF8.GetBytes("{}"));
        using var put = await _server.PutManifestAsync("lab/img", tag, Manifest(config, 2), MediaTypes.OciManifest);
        await ErrorAssert.HasErrorAsync(put, HttpStatusCode.BadRequest, "TAG_INVALID");
    }

    [Fact]
    public async Task Get_UnknownTag_Returns404ManifestUnknown_UnknownRepo_NameUnknown()
    {
        await _server.PushImageAsync("lab/img", "v1");
        using var tag = await Client.GetAsync("/v2/lab/img/manifests/nope");
        await ErrorAssert.HasErrorAsync(tag, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        using var repo = await Client.GetAsync("/v2/lab/nothing/manifests/v1");
        await ErrorAssert.HasErrorAsync(repo, HttpStatusCode.NotFound, "NAME_UNKNOWN");
    }

    [Fact]
    public async Task Get_AcceptListsOnlyOtherManifestTypes_Returns404()
    {
        await _server.PushImageAsync("lab/img", "v1");
        var req = new HttpRequestMessage(HttpMethod.Get, "/v2/lab/img/manifests/v1");
        req.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(MediaTypes.DockerManifest));
        using var resp = await Client.SendAsync(req);
        await ErrorAssert.HasErrorAsync(resp, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");

        var both = new HttpRequestMessage(HttpMethod.Get, "/v2/lab/img/manifests/v1");
        both.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(MediaTypes.DockerManifest));
        both.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(MediaTypes.OciManifest));
        using var ok = await Client.SendAsync(both);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task Get_IfNoneMatchCurrentDigest_Returns304()
    {
        var (digest, _) = await _server.PushImageAsync("lab/img", "v1");
        var req = new HttpRequestMessage(HttpMethod.Get, "/v2/lab/img/manifests/v1");
        req.Headers.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{digest}\""));
        using var resp = await Client.SendAsync(req);
        Assert.Equal(HttpStatusCode.NotModified, resp.StatusCode);
    }

    [Fact]
    public async Task Put_RetagToNewManifest_GetByTagSeesTheNewOne()
    {
        var (first, _) = await _server.PushImageAsync("lab/img", "moving", [1]);
        (await Client.GetAsync("/v2/lab/img/manifests/moving")).Dispose(); // warm any cache
        var (second, _) = await _server.PushImageAsync("lab/img", "moving", [2]);
        Assert.NotEqual(first, second);
        using var get = await Client.GetAsync("/v2/lab/img/manifests/moving");
        Assert.Equal(second.ToString(), get.Headers.GetValues("Docker-Content-Digest").Single());
    }

    [Fact]
    public async Task Index_WithMissingChild_Refused_WithChildren_Accepted()
    {
        var (child, body) = await _server.PushImageAsync("lab/multi", null, [1]);
        var missing = Digest.Compute(new byte[] { 3 });
        byte[] bad = Index((missing, 10));
        using var refused = await _server.PutManifestAsync("lab/multi", "all", bad, MediaTypes.OciIndex);
        await ErrorAssert.HasErrorAsync(refused, HttpStatusCode.NotFound, "MANIFEST_BLOB_UNKNOWN");

        byte[] good = Index((child, body.Length));
        using var ok = await _server.PutManifestAsync("lab/multi", "all", good, MediaTypes.OciIndex);
        Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
        using var get = await Client.GetAsync("/v2/lab/multi/manifests/all");
        Assert.Equal(MediaTypes.OciIndex, get.Content.Headers.ContentType!.MediaType);
        Assert.Equal(good, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Referrers_ListsManifestsWithSubject_FiltersByArtifactType()
    {
        var (subject, subjectBody) = await _server.PushImageAsync("lab/art", "v1", [1]);
        var empty = await _server.PushBlobAsync("lab/art", Encoding.UTF8.GetBytes("{}"));
        Digest PushArtifact(string artifactType, out byte[] body)
        {
            string json = $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"artifactType\":\"{artifactType}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciEmpty}\",\"digest\":\"{empty}\",\"size\":2}},\"layers\":[],\"subject\":{{\"mediaType\":\"{MediaTypes.OciManifest}\",\"digest\":\"{subject}\",\"size\":{subjectBody.Length}}},\"annotations\":{{\"org.example\":\"x\"}}}}";
            body = Encoding.UTF8.GetBytes(json);
            return Digest.Compute(body);
        }

        var sig = PushArtifact("application/vnd.example.sig", out var sigBody);
        using (var put = await _server.PutManifestAsync("lab/art", sig.ToString(), sigBody, MediaTypes.OciManifest))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            Assert.Equal(subject.ToString(), put.Headers.GetValues("OCI-Subject").Single());
        }

        var sbom = PushArtifact("application/vnd.example.sbom", out var sbomBody);
        (await _server.PutManifestAsync("lab/art", sbom.ToString(), sbomBody, MediaTypes.OciManifest)).Dispose();

        using var all = await Client.GetAsync($"/v2/lab/art/referrers/{subject}");
        Assert.Equal(HttpStatusCode.OK, all.StatusCode);
        Assert.Equal(MediaTypes.OciIndex, all.Content.Headers.ContentType!.MediaType);
        using var allDoc = JsonDocument.Parse(await all.Content.ReadAsStringAsync());
        var manifests = allDoc.RootElement.GetProperty("manifests");
        Assert.Equal(2, manifests.GetArrayLength());
        Assert.Equal("x", manifests[0].GetProperty("annotations").GetProperty("org.example").GetString());

        using var filtered = await Client.GetAsync($"/v2/lab/art/referrers/{subject}?artifactType=application/vnd.example.sbom");
        Assert.Equal("artifactType", filtered.Headers.GetValues("OCI-Filters-Applied").Single());
        using var doc = JsonDocument.Parse(await filtered.Content.ReadAsStringAsync());
        var only = Assert.Single(doc.RootElement.GetProperty("manifests").EnumerateArray());
        Assert.Equal(sbom.ToString(), only.GetProperty("digest").GetString());
        Assert.Equal("application/vnd.example.sbom", only.GetProperty("artifactType").GetString());

        using var none = await Client.GetAsync($"/v2/lab/art/referrers/{Digest.Compute(new byte[] { 5 })}");
        Assert.Equal(HttpStatusCode.OK, none.StatusCode);
    }

    [Fact]
    public async Task Delete_Tag_KeepsManifest_DeleteDigest_RemovesTags()
    {
        var (digest, _) = await _server.PushImageAsync("lab/del", "a", [1]);
        await _server.PushImageAsync("lab/del", "b", [1]);

        using var delTag = await Client.DeleteAsync("/v2/lab/del/manifests/a");
        Assert.Equal(HttpStatusCode.Accepted, delTag.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/v2/lab/del/manifests/a")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync($"/v2/lab/del/manifests/{digest}")).StatusCode);

        using var delDigest = await Client.DeleteAsync($"/v2/lab/del/manifests/{digest}");
        Assert.Equal(HttpStatusCode.Accepted, delDigest.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/v2/lab/del/manifests/b")).StatusCode);
        using var again = await Client.DeleteAsync($"/v2/lab/del/manifests/{digest}");
        await ErrorAssert.HasErrorAsync(again, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    private static byte[] Manifest(Digest config, long configSize) => Encoding.UTF8.GetBytes(
        $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"{config}\",\"size\":{configSize}}},\"layers\":[]}}");

    private static byte[] Index(params (Digest Digest, long Size)[] children) => Encoding.UTF8.GetBytes(
        $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciIndex}\",\"manifests\":[{string.Join(',', children.Select(c => $"{{\"mediaType\":\"{MediaTypes.OciManifest}\",\"digest\":\"{c.Digest}\",\"size\":{c.Size},\"platform\":{{\"architecture\":\"amd64\",\"os\":\"linux\"}}}}"))}]}}");
}
