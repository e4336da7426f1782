using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Wharf.Oci;

namespace Wharf.Registry.Tests.Api;

/// <summary>
/// Odd requests a client can make: each gets the spec's answer (a clear 4xx, or an empty page),
/// never a 500, and changes nothing.
/// </summary>
public sealed class ClientInputAnswerTests : IAsyncLifetime
{
    private RegistryServer _server = null!;

    private HttpClient Client => _server.Client;

    public async Task InitializeAsync()
    {
        _server = await RegistryServer.StartAsync();
        await _server.PushImageAsync("lab/a", "v1", [1]);
        await _server.PushImageAsync("lab/a", "v2", [2]);
        await _server.PushImageAsync("lab/b", "v1", [3]);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("n=0", new string[0], false)]
    [InlineData("n=1", new[] { "lab/a" }, true)]
    [InlineData("n=99999999999999999999", new[] { "lab/a", "lab/b" }, false)]
    [InlineData("n=2147483647", new[] { "lab/a", "lab/b" }, false)]
    [InlineData("n=0&last=lab/a", new string[0], false)]
    [InlineData("last=", new[] { "lab/a", "lab/b" }, false)]
    [InlineData("last=lab/a", new[] { "lab/b" }, false)]
    [InlineData("last=%00", new[] { "lab/a", "lab/b" }, false)]
    [InlineData("last=%F0%9F%90%B3", new string[0], false)]
    [InlineData("last=zzzz&n=5", new string[0], false)]
    [InlineData("last=../../etc", new[] { "lab/a", "lab/b" }, false)]
    public async Task Catalog_EdgePages_AnswerAPage(string query, string[] expected, bool more)
    {
        using var response = await Client.GetAsync($"/v2/_catalog?{query}");

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(expected, doc.RootElement.GetProperty("repositories").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(more, response.Headers.Contains("Link"));
    }

    [Theory]
    [InlineData("/v2/_catalog?n=-1")]
    [InlineData("/v2/_catalog?n=abc")]
    [InlineData("/v2/_catalog?n=1.5")]
    [InlineData("/v2/_catalog?n=")]
    [InlineData("/v2/lab/a/tags/list?n=-1")]
    [InlineData("/v2/lab/a/tags/list?n=%2B1")]
    public async Task Paging_NotANumber_Returns400PaginationNumberInvalid(string url)
    {
        using var response = await Client.GetAsync(url);

        await ErrorAssert.HasErrorAsync(response, HttpStatusCode.BadRequest, "PAGINATION_NUMBER_INVALID");
    }

    [Theory]
    [InlineData("n=0", new string[0], false)]
    [InlineData("n=1", new[] { "v1" }, true)]
    [InlineData("n=99999999999999999999", new[] { "v1", "v2" }, false)]
    [InlineData("last=v1", new[] { "v2" }, false)]
    [InlineData("last=%00%01", new[] { "v1", "v2" }, false)]
    [InlineData("last=zz&n=0", new string[0], false)]
    public async Task TagList_EdgePages_AnswerAPage(string query, string[] expected, bool more)
    {
        using var response = await Client.GetAsync($"/v2/lab/a/tags/list?{query}");

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(expected, doc.RootElement.GetProperty("tags").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(more, response.Headers.Contains("Link"));
    }

    [Theory]
    [InlineData("GET", "-leadingdash")]
    [InlineData("HEAD", "-leadingdash")]
    [InlineData("GET", ".dot")]
    [InlineData("GET", "sha999:abc")]
    [InlineData("HEAD", "sha999:abc")]
    [InlineData("GET", "sha256:short")]
    [InlineData("GET", "sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("GET", "sha512:abc")]
    [InlineData("GET", ":")]
    [InlineData("GET", "a%20b")]
    public async Task Manifest_GetByReferenceThatIsNeitherTagNorDigest_Returns404ManifestUnknown(string method, string reference)
    {
        using var response = await Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), $"/v2/lab/a/manifests/{reference}"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        if (method == "GET")
        {
            await ErrorAssert.HasErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        }
    }

    [Fact]
    public async Task Manifest_GetBadReferenceInMissingRepository_Returns404NameUnknown()
    {
        using var response = await Client.GetAsync("/v2/lab/nothing/manifests/-bad");

        await ErrorAssert.HasErrorAsync(response, HttpStatusCode.NotFound, "NAME_UNKNOWN");
    }

    [Fact]
    public async Task Manifest_PutToInvalidTag_StaysTagInvalid()
    {
        var config = await _server.PushBlobAsync("lab/a", Encoding.UTF8.GetBytes("{}"));

        using var put = await _server.PutManifestAsync("lab/a", "-bad", Manifest(config, 2), MediaTypes.OciManifest);

        await ErrorAssert.HasErrorAsync(put, HttpStatusCode.BadRequest, "TAG_INVALID");
    }

    [Fact]
    public async Task Index_ChildSizeDiffersFromStoredManifest_Returns400AndNoTag()
    {
        var (child, body) = await _server.PushImageAsync("lab/multi", null, [7]);

        foreach (long size in new long[] { body.Length + 1, body.Length - 1, 0, -1, long.MaxValue })
        {
            using var put = await _server.PutManifestAsync("lab/multi", "lies", Index((child, size)), MediaTypes.OciIndex);
            Assert.True(put.StatusCode == HttpStatusCode.BadRequest, $"size {size}: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
            string code = await CodeAsync(put);
            Assert.True(code is "MANIFEST_INVALID" or "SIZE_INVALID", $"size {size}: {code}");
        }

        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/v2/lab/multi/manifests/lies")).StatusCode);
        using var ok = await _server.PutManifestAsync("lab/multi", "lies", Index((child, body.Length)), MediaTypes.OciIndex);
        Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/json")]
    [InlineData("application/vnd.oci.image.manifest.v1+json; charset=\"")]
    [InlineData("application/vnd.oci.image.index.v1+json")]
    [InlineData("application/vnd.docker.distribution.manifest.list.v2+json")]
    [InlineData("*/*")]
    [InlineData("")]
    public async Task Manifest_PutWithOddContentType_NeverAServerError(string contentType)
    {
        var config = await _server.PushBlobAsync("lab/a", Encoding.UTF8.GetBytes("{}"));
        using var content = new ByteArrayContent(Manifest(config, 2));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        using var put = await Client.PutAsync("/v2/lab/a/manifests/odd", content);

        Assert.True((int)put.StatusCode is 201 or 400 or 415, $"{contentType}: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
    }

    [Theory]
    [InlineData("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"a/b\",\"digest\":\"sha256:x\",\"size\":2},\"layers\":[]}")]
    [InlineData("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"a/b\",\"digest\":\"md5:abc\",\"size\":2},\"layers\":[]}")]
    [InlineData("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"a/b\",\"digest\":\"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"size\":1e400},\"layers\":[]}")]
    [InlineData("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"a/b\",\"digest\":\"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"size\":-5},\"layers\":[]}")]
    [InlineData("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"a/b\",\"digest\":\"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"size\":\"2\"},\"layers\":[]}")]
    [InlineData("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"size\":-1}]}")]
    [InlineData("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":{}}")]
    [InlineData("[]")]
    [InlineData("null")]
    [InlineData("")]
    public async Task Manifest_PutMalformed_IsA4xxNeverAServerError(string json)
    {
        string mediaType = json.Contains("index", StringComparison.Ordinal) ? MediaTypes.OciIndex : MediaTypes.OciManifest;

        using var put = await _server.PutManifestAsync("lab/a", "malformed", Encoding.UTF8.GetBytes(json), mediaType);

        Assert.True((int)put.StatusCode is >= 400 and < 500, $"{(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/v2/lab/a/manifests/malformed")).StatusCode);
    }

    [Fact]
    public async Task Manifest_PutWithManyLayers_IsStoredOrRefusedNeverAServerError()
    {
        var layer = await _server.PushBlobAsync("lab/many", [9]);
        var config = await _server.PushBlobAsync("lab/many", Encoding.UTF8.GetBytes("{}"));
        string one = $"{{\"mediaType\":\"{MediaTypes.OciLayerTar}\",\"digest\":\"{layer}\",\"size\":1}}";
        string json = $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"{config}\",\"size\":2}},\"layers\":[{string.Join(',', Enumerable.Repeat(one, 20_000))}]}}";

        using var put = await _server.PutManifestAsync("lab/many", "wide", Encoding.UTF8.GetBytes(json), MediaTypes.OciManifest);

        Assert.True((int)put.StatusCode is 201 or 400 or 413, $"{(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
    }

    [Theory]
    [InlineData("bytes=abc")]
    [InlineData("bytes=5-2")]
    [InlineData("bytes=999999-")]
    [InlineData("bytes=0-0,2-3")]
    [InlineData("bytes=-0")]
    [InlineData("items=0-1")]
    [InlineData("bytes=99999999999999999999-")]
    public async Task Blob_GetWithOddRange_NeverAServerError(string range)
    {
        var digest = await _server.PushBlobAsync("lab/a", Encoding.UTF8.GetBytes("0123456789"));
        var request = new HttpRequestMessage(HttpMethod.Get, $"/v2/lab/a/blobs/{digest}");
        request.Headers.TryAddWithoutValidation("Range", range);

        using var response = await Client.SendAsync(request);

        Assert.True((int)response.StatusCode is 200 or 206 or 416, $"{range}: {(int)response.StatusCode}");
    }

    [Theory]
    [InlineData("/v2/lab/a/blobs/sha999:abc")]
    [InlineData("/v2/lab/a/referrers/sha999:abc")]
    [InlineData("/v2/lab/a/referrers/not-a-digest")]
    [InlineData("/v2/lab/a/blobs/uploads/not-a-session")]
    [InlineData("/v2/LAB/a/tags/list")]
    [InlineData("/v2/lab//a/tags/list")]
    public async Task OddPaths_AreA4xxNeverAServerError(string url)
    {
        using var response = await Client.GetAsync(url);

        Assert.True((int)response.StatusCode is >= 400 and < 500, $"{url}: {(int)response.StatusCode}");
    }

    private static async Task<string> CodeAsync(HttpResponseMessage response)
    {
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("errors")[0].GetProperty("code").GetString() ?? "";
    }

    private static byte[] Manifest(Digest config, long configSize) => Encoding.UTF8.GetBytes(
        $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"{config}\",\"size\":{configSize}}},\"layers\":[]}}");

    private static byte[] Index(params (Digest Digest, long Size)[] children) => Encoding.UTF8.GetBytes(
        $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciIndex}\",\"manifests\":[{string.Join(',', children.Select(c => $"{{\"mediaType\":\"{MediaTypes.OciManifest}\",\"digest\":\"{c.Digest}\",\"size\":{c.Size}}}"))}]}}");
}
