using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Wharf.IntegrationTests.Infrastructure;

namespace Wharf.IntegrationTests;

/// <summary>Requests no well-behaved client sends, over real HTTP: each gets the spec's error code and changes nothing.</summary>
[Collection(RegistryCollection.Name)]
public sealed class BadInputTests : RegistryTestBase
{
    private readonly HttpClient _http;

    public BadInputTests(RegistryFixture fixture, ITestOutputHelper output) : base(fixture, output)
    {
        _http = new HttpClient { BaseAddress = Server.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    [Fact]
    public async Task PutManifest_LayerBlobNeverUploaded_RejectedWithManifestBlobUnknownAndTagNotCreated()
    {
        var repository = NewRepository();
        var config = """{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"""u8.ToArray();
        var configDigest = await UploadMonolithicAsync(repository, config);
        var missingLayer = Digest(RandomNumberGenerator.GetBytes(64));
        var manifest = $$"""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
             "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{configDigest}}","size":{{config.Length}}},
             "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{{missingLayer}}","size":64}]}
            """;

        using var put = new HttpRequestMessage(HttpMethod.Put, $"v2/{repository}/manifests/broken")
        {
            Content = new StringContent(manifest, Encoding.UTF8),
        };
        put.Content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.oci.image.manifest.v1+json");
        using var response = await _http.SendAsync(put);

        await AssertErrorAsync(response, Server.ManifestBlobUnknownStatus, "MANIFEST_BLOB_UNKNOWN");
        using var get = new HttpRequestMessage(HttpMethod.Get, $"v2/{repository}/manifests/broken");
        get.Headers.Accept.ParseAdd("application/vnd.oci.image.manifest.v1+json");
        using var lookup = await _http.SendAsync(get);
        Assert.Equal(HttpStatusCode.NotFound, lookup.StatusCode);
    }

    [Fact]
    public async Task PutUpload_DigestDoesNotMatchContent_RejectedWithDigestInvalidAndNothingStored()
    {
        var repository = NewRepository();
        var content = RandomNumberGenerator.GetBytes(4096);
        var claimed = Digest(RandomNumberGenerator.GetBytes(16));

        var location = await StartUploadAsync(repository);
        using var put = new HttpRequestMessage(HttpMethod.Put, WithDigest(location, claimed))
        {
            Content = new ByteArrayContent(content),
        };
        put.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await _http.SendAsync(put);

        await AssertErrorAsync(response, HttpStatusCode.BadRequest, "DIGEST_INVALID");
        foreach (var digest in new[] { claimed, Digest(content) })
        {
            using var head = new HttpRequestMessage(HttpMethod.Head, $"v2/{repository}/blobs/{digest}");
            using var stat = await _http.SendAsync(head);
            Assert.Equal(HttpStatusCode.NotFound, stat.StatusCode);
        }
    }

    private async Task<Uri> StartUploadAsync(string repository)
    {
        using var post = await _http.PostAsync($"v2/{repository}/blobs/uploads/", content: null);
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        var location = post.Headers.Location ?? throw new InvalidOperationException("202 without Location");
        // The Location may be relative (distribution spec, "Pushing blobs").
        return location.IsAbsoluteUri ? location : new Uri(Server.BaseAddress, location);
    }

    private async Task<string> UploadMonolithicAsync(string repository, byte[] content)
    {
        var digest = Digest(content);
        var location = await StartUploadAsync(repository);
        using var put = new HttpRequestMessage(HttpMethod.Put, WithDigest(location, digest)) { Content = new ByteArrayContent(content) };
        put.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await _http.SendAsync(put);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return digest;
    }

    private static Uri WithDigest(Uri location, string digest) =>
        new(location + (string.IsNullOrEmpty(location.Query) ? "?" : "&") + "digest=" + Uri.EscapeDataString(digest));

    private static string Digest(byte[] content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    private static async Task AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status} {code}, got {(int)response.StatusCode}: {body}");
        using var json = JsonDocument.Parse(body);
        var codes = json.RootElement.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("code").GetString());
        Assert.Contains(code, codes);
    }

    protected override void Dispose(bool disposing)
    {
        _http.Dispose();
        base.Dispose(disposing);
    }
}
