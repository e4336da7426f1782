using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Wharf.Oci;

namespace Wharf.Registry.Tests.Api;

public sealed class BlobEndpointTests : IAsyncLifetime
{
    private RegistryServer _server = null!;

    private HttpClient Client => _server.Client;

    public async Task InitializeAsync() => _server = await RegistryServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Base_Get_Returns200WithApiVersionHeader()
    {
        using var resp = await Client.GetAsync("/v2/");
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        Assert.Equal("registry/2.0", resp.Headers.GetValues("Docker-Distribution-API-Version").Single());
    }

    [Fact]
    public async Task PostThenPut_Monolithic_StoresBlobServedByGetAndHead()
    {
        byte[] content = RandomNumberGenerator.GetBytes(100_000);
        var digest = Digest.Compute(content);

        using var post = await Client.PostAsync("/v2/lab/app/blobs/uploads/", null);
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        Assert.StartsWith("/v2/lab/app/blobs/uploads/", post.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.Equal("0-0", post.Headers.GetValues("Range").Single());
        Assert.NotEmpty(post.Headers.GetValues("Docker-Upload-UUID").Single());

        using var put = await Client.PutAsync(RegistryServer.AppendQuery(post.Headers.Location, "digest=" + digest), new ByteArrayContent(content));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal($"/v2/lab/app/blobs/{digest}", put.Headers.Location!.OriginalString);
        Assert.Equal(digest.ToString(), put.Headers.GetValues("Docker-Content-Digest").Single());

        using var head = await Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/lab/app/blobs/{digest}"));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(content.Length, head.Content.Headers.ContentLength);
        Assert.Equal(digest.ToString(), head.Headers.GetValues("Docker-Content-Digest").Single());
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());

        using var get = await Client.GetAsync($"/v2/lab/app/blobs/{digest}");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(content, await get.Content.ReadAsByteArrayAsync());
        Assert.Equal($"\"{digest}\"", get.Headers.ETag!.Tag);
    }

    [Fact]
    public async Task Post_WithDigestAndBody_CreatesBlobInOneRequest()
    {
        byte[] content = RandomNumberGenerator.GetBytes(5000);
        var digest = Digest.Compute(content);
        using var post = await Client.PostAsync($"/v2/lab/one/blobs/uploads/?digest={digest}", new ByteArrayContent(content));
        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        Assert.Equal(digest.ToString(), post.Headers.GetValues("Docker-Content-Digest").Single());
        Assert.Equal(content, await Client.GetByteArrayAsync($"/v2/lab/one/blobs/{digest}"));
    }

    [Fact]
    public async Task Post_WithWrongDigest_Returns400AndStoresNothing()
    {
        byte[] content = RandomNumberGenerator.GetBytes(5000);
        var wrong = Digest.Compute(new byte[] { 1, 2, 3 });
        using var post = await Client.PostAsync($"/v2/lab/one/blobs/uploads/?digest={wrong}", new ByteArrayContent(content));
        await ErrorAssert.HasErrorAsync(post, HttpStatusCode.BadRequest, "DIGEST_INVALID");
        using var head = await Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/lab/one/blobs/{Digest.Compute(content)}"));
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
        Assert.Empty(Directory.GetFiles(Path.Combine(_server.DataDirectory, "uploads")));
    }

    [Fact]
    public async Task Patch_ChunksInOrder_CompletesWithStatusReportingRange()
    {
        byte[] content = RandomNumberGenerator.GetBytes(30_000);
        var digest = Digest.Compute(content);
        using var post = await Client.PostAsync("/v2/lab/chunked/blobs/uploads/", null);
        var location = post.Headers.Location!;

        for (int offset = 0; offset < content.Length; offset += 10_000)
        {
            using var chunk = new ByteArrayContent(content, offset, 10_000);
            chunk.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + 9_999}");
            using var patch = await Client.PatchAsync(location, chunk);
            Assert.Equal(HttpStatusCode.Accepted, patch.StatusCode);
            Assert.Equal($"0-{offset + 9_999}", patch.Headers.GetValues("Range").Single());
            location = patch.Headers.Location!;
        }

        using var status = await Client.GetAsync(location);
        Assert.Equal(HttpStatusCode.NoContent, status.StatusCode);
        Assert.Equal("0-29999", status.Headers.GetValues("Range").Single());

        using var put = await Client.PutAsync(RegistryServer.AppendQuery(location, "digest=" + digest), null);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(content, await Client.GetByteArrayAsync($"/v2/lab/chunked/blobs/{digest}"));
    }

    [Fact]
    public async Task Patch_OutOfOrderOrRepeatedChunk_Returns416WithCurrentRange()
    {
        using var post = await Client.PostAsync("/v2/lab/chunked/blobs/uploads/", null);
        var location = post.Headers.Location!;
        using var first = new ByteArrayContent(new byte[100]);
        first.Headers.TryAddWithoutValidation("Content-Range", "0-99");
        using var ok = await Client.PatchAsync(location, first);
        Assert.Equal(HttpStatusCode.Accepted, ok.StatusCode);

        using var repeated = new ByteArrayContent(new byte[100]);
        repeated.Headers.TryAddWithoutValidation("Content-Range", "0-99");
        using var again = await Client.PatchAsync(location, repeated);
        await ErrorAssert.HasErrorAsync(again, HttpStatusCode.RequestedRangeNotSatisfiable, "RANGE_INVALID");
        Assert.Equal("0-99", again.Headers.GetValues("Range").Single());

        using var skip = new ByteArrayContent(new byte[100]);
        skip.Headers.TryAddWithoutValidation("Content-Range", "200-299");
        using var skipped = await Client.PatchAsync(location, skip);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, skipped.StatusCode);

        using var status = await Client.GetAsync(location);
        Assert.Equal("0-99", status.Headers.GetValues("Range").Single());
    }

    [Fact]
    public async Task Upload_AfterServerRestart_ResumesAndCompletes()
    {
        byte[] content = RandomNumberGenerator.GetBytes(64_000);
        var digest = Digest.Compute(content);
        using var post = await Client.PostAsync("/v2/lab/restart/blobs/uploads/", null);
        string location = post.Headers.Location!.OriginalString;
        using (var half = new ByteArrayContent(content, 0, 32_000))
        using (var patch = await Client.PatchAsync(location, half))
        {
            Assert.Equal(HttpStatusCode.Accepted, patch.StatusCode);
        }

        await _server.RestartAsync();

        using var status = await Client.GetAsync(location);
        Assert.Equal(HttpStatusCode.NoContent, status.StatusCode);
        Assert.Equal("0-31999", status.Headers.GetValues("Range").Single());
        using var rest = new ByteArrayContent(content, 32_000, 32_000);
        rest.Headers.TryAddWithoutValidation("Content-Range", "32000-63999");
        using var put = await Client.PutAsync(location + "?digest=" + digest, rest);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(content, await Client.GetByteArrayAsync($"/v2/lab/restart/blobs/{digest}"));
    }

    [Fact]
    public async Task Put_WrongDigest_Returns400AndEndsTheSession()
    {
        using var post = await Client.PostAsync("/v2/lab/bad/blobs/uploads/", null);
        var location = post.Headers.Location!;
        var wrong = Digest.Compute(new byte[] { 9 });
        using var put = await Client.PutAsync(RegistryServer.AppendQuery(location, "digest=" + wrong), new ByteArrayContent(new byte[] { 1, 2, 3 }));
        await ErrorAssert.HasErrorAsync(put, HttpStatusCode.BadRequest, "DIGEST_INVALID");

        using var status = await Client.GetAsync(location);
        await ErrorAssert.HasErrorAsync(status, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        using var head = await Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/lab/bad/blobs/{wrong}"));
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
    }

    [Fact]
    public async Task Put_WithoutDigest_Returns400DigestInvalid()
    {
        using var post = await Client.PostAsync("/v2/lab/bad/blobs/uploads/", null);
        using var put = await Client.PutAsync(post.Headers.Location, new ByteArrayContent(new byte[] { 1 }));
        await ErrorAssert.HasErrorAsync(put, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Theory]
    [InlineData("/v2/lab/x/blobs/uploads/0123456789abcdef0123456789abcdef")]
    [InlineData("/v2/lab/x/blobs/uploads/..%2F..%2Fetc")]
    [InlineData("/v2/lab/x/blobs/uploads/not-an-id")]
    public async Task Upload_UnknownId_Returns404BlobUploadUnknown(string path)
    {
        using var get = await Client.GetAsync(path);
        await ErrorAssert.HasErrorAsync(get, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        using var patch = await Client.PatchAsync(path, new ByteArrayContent(new byte[] { 1 }));
        await ErrorAssert.HasErrorAsync(patch, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task Upload_IdOfAnotherRepository_IsUnknown()
    {
        using var post = await Client.PostAsync("/v2/lab/a/blobs/uploads/", null);
        string id = post.Headers.GetValues("Docker-Upload-UUID").Single();
        using var get = await Client.GetAsync($"/v2/lab/b/blobs/uploads/{id}");
        await ErrorAssert.HasErrorAsync(get, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task Delete_Upload_CancelsIt()
    {
        using var post = await Client.PostAsync("/v2/lab/a/blobs/uploads/", null);
        using var del = await Client.DeleteAsync(post.Headers.Location);
        Assert.Equal(HttpStatusCode.NoContent, del.StatusCode);
        using var again = await Client.DeleteAsync(post.Headers.Location);
        await ErrorAssert.HasErrorAsync(again, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        Assert.Empty(Directory.GetFiles(Path.Combine(_server.DataDirectory, "uploads")));
    }

    [Fact]
    public async Task Get_Range_Returns206AndTheBytes()
    {
        byte[] content = RandomNumberGenerator.GetBytes(1000);
        var digest = await _server.PushBlobAsync("lab/range", content);
        var req = new HttpRequestMessage(HttpMethod.Get, $"/v2/lab/range/blobs/{digest}");
        req.Headers.Range = new RangeHeaderValue(100, 199);
        using var resp = await Client.SendAsync(req);
        Assert.Equal(HttpStatusCode.PartialContent, resp.StatusCode);
        Assert.Equal(content[100..200], await resp.Content.ReadAsByteArrayAsync());
        Assert.Equal("bytes 100-199/1000", resp.Content.Headers.ContentRange!.ToString());

        var open = new HttpRequestMessage(HttpMethod.Get, $"/v2/lab/range/blobs/{digest}");
        open.Headers.Range = new RangeHeaderValue(900, null);
        using var tail = await Client.SendAsync(open);
        Assert.Equal(content[900..], await tail.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_UnsatisfiableRange_Returns416()
    {
        var digest = await _server.PushBlobAsync("lab/range", new byte[10]);
        var req = new HttpRequestMessage(HttpMethod.Get, $"/v2/lab/range/blobs/{digest}");
        req.Headers.Range = new RangeHeaderValue(50, 60);
        using var resp = await Client.SendAsync(req);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, resp.StatusCode);
        Assert.Equal("bytes */10", resp.Content.Headers.ContentRange!.ToString());
    }

    [Fact]
    public async Task Get_BlobOfAnotherRepository_Returns404BlobUnknown()
    {
        var digest = await _server.PushBlobAsync("lab/a", new byte[] { 1, 2, 3 });
        using var resp = await Client.GetAsync($"/v2/other/b/blobs/{digest}");
        await ErrorAssert.HasErrorAsync(resp, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    [Theory]
    [InlineData("sha256:abc")]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")]
    public async Task Get_BadDigest_Returns400DigestInvalid(string digest)
    {
        using var resp = await Client.GetAsync($"/v2/lab/a/blobs/{digest}");
        await ErrorAssert.HasErrorAsync(resp, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Fact]
    public async Task Mount_FromRepositoryWithBlob_Returns201AndLinks()
    {
        var digest = await _server.PushBlobAsync("lab/source", new byte[] { 7, 7, 7 });
        using var post = await Client.PostAsync($"/v2/other/target/blobs/uploads/?mount={digest}&from=lab/source", null);
        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        Assert.Equal($"/v2/other/target/blobs/{digest}", post.Headers.Location!.OriginalString);
        using var head = await Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/other/target/blobs/{digest}"));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
    }

    [Fact]
    public async Task Mount_FromRepositoryWithoutBlob_FallsBackTo202Session()
    {
        var digest = Digest.Compute(new byte[] { 1 });
        using var post = await Client.PostAsync($"/v2/lab/target/blobs/uploads/?mount={digest}&from=lab/none", null);
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        Assert.Contains("/blobs/uploads/", post.Headers.Location!.OriginalString, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mount_WithoutFrom_MountsOnlyWithinTheProject()
    {
        var digest = await _server.PushBlobAsync("lab/source", new byte[] { 4, 5, 6 });
        using var same = await Client.PostAsync($"/v2/lab/target/blobs/uploads/?mount={digest}", null);
        Assert.Equal(HttpStatusCode.Created, same.StatusCode);
        using var other = await Client.PostAsync($"/v2/elsewhere/target/blobs/uploads/?mount={digest}", null);
        Assert.Equal(HttpStatusCode.Accepted, other.StatusCode);
    }

    [Fact]
    public async Task Delete_Blob_UnlinksIt()
    {
        var digest = await _server.PushBlobAsync("lab/del", new byte[] { 1, 1 });
        using var del = await Client.DeleteAsync($"/v2/lab/del/blobs/{digest}");
        Assert.Equal(HttpStatusCode.Accepted, del.StatusCode);
        using var get = await Client.GetAsync($"/v2/lab/del/blobs/{digest}");
        await ErrorAssert.HasErrorAsync(get, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
        using var again = await Client.DeleteAsync($"/v2/lab/del/blobs/{digest}");
        await ErrorAssert.HasErrorAsync(again, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    [Fact]
    public async Task Push_SameBlobConcurrently_BothSucceedAndOneFileIsStored()
    {
        byte[] content = RandomNumberGenerator.GetBytes(2_000_000);
        var pushes = Enumerable.Range(0, 4).Select(i => _server.PushBlobAsync($"lab/race{i % 2}", content)).ToArray();
        var digests = await Task.WhenAll(pushes);
        Assert.All(digests, d => Assert.Equal(digests[0], d));
        var files = Directory.GetFiles(Path.Combine(_server.DataDirectory, "blobs"), digests[0].Encoded, SearchOption.AllDirectories);
        Assert.Single(files);
        Assert.Empty(Directory.GetFiles(Path.Combine(_server.DataDirectory, "uploads")));
    }

    [Theory]
    [InlineData("/v2/UPPER/case/blobs/uploads/")]
    [InlineData("/v2/lab/-bad/blobs/uploads/")]
    [InlineData("/v2/lab//double/blobs/uploads/")]
    public async Task Post_InvalidName_Returns400NameInvalid(string path)
    {
        using var resp = await Client.PostAsync(path, null);
        await ErrorAssert.HasErrorAsync(resp, HttpStatusCode.BadRequest, "NAME_INVALID");
    }

    [Fact]
    public async Task UnsupportedMethod_Returns405Unsupported()
    {
        using var resp = await Client.PostAsync("/v2/lab/a/tags/list", null);
        await ErrorAssert.HasErrorAsync(resp, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
    }
}
