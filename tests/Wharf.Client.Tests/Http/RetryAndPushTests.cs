using System.Net;
using System.Text;
using Wharf.Content;
using Wharf.Oci;

namespace Wharf.Client.Tests.Http;

public class RetryAndPushTests
{
    private const string Base = "https://reg.test";

    private static RegistryClient Client(ScriptedHandler handler, int? chunk = null) =>
        new("reg.test", new RegistryClientOptions { Transport = handler, RetryDelay = _ => TimeSpan.Zero, ChunkSize = chunk });

    private static (Descriptor Descriptor, byte[] Bytes) Blob(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        return (new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Compute(bytes), Size = bytes.Length }, bytes);
    }

    [Fact]
    public async Task Exists_ServerErrorThenDroppedConnection_RetriesUntilAnswer()
    {
        var (d, _) = Blob("abc");
        var handler = new ScriptedHandler()
            .Expect(HttpMethod.Get, Base + "/v2/", HttpStatusCode.OK)
            .Expect(HttpMethod.Head, $"{Base}/v2/lab/app/blobs/{d.Digest}", HttpStatusCode.ServiceUnavailable)
            .ExpectThrow(HttpMethod.Head, $"{Base}/v2/lab/app/blobs/{d.Digest}")
            .Expect(HttpMethod.Head, $"{Base}/v2/lab/app/blobs/{d.Digest}", HttpStatusCode.NotFound);
        using var client = Client(handler);

        Assert.False(await client.Repository("lab/app").ExistsAsync(d, CancellationToken.None));
        Assert.Equal(0, handler.Remaining);
    }

    [Fact]
    public async Task Exists_ServerKeepsFailing_GivesUpAfterRetries()
    {
        var (d, _) = Blob("abc");
        var handler = new ScriptedHandler().Expect(HttpMethod.Get, Base + "/v2/", HttpStatusCode.OK);
        for (int i = 0; i < 4; i++)
        {
            handler.Expect(HttpMethod.Head, $"{Base}/v2/lab/app/blobs/{d.Digest}", HttpStatusCode.InternalServerError);
        }

        using var client = Client(handler);

        var e = await Assert.ThrowsAsync<RegistryException>(() => client.Repository("lab/app").ExistsAsync(d, CancellationToken.None));
        Assert.Equal(HttpStatusCode.InternalServerError, e.Status);
        Assert.Equal(5, handler.Requests.Count);
    }

    [Fact]
    public async Task Push_Monolithic_PostThenPutToLocationWithDigest()
    {
        var (d, bytes) = Blob("layer-bytes");
        var handler = new ScriptedHandler()
            .Expect(HttpMethod.Get, Base + "/v2/", HttpStatusCode.OK)
            .Expect(HttpMethod.Post, Base + "/v2/lab/app/blobs/uploads/", HttpStatusCode.Accepted, r => r.Headers.Location = new Uri("/v2/lab/app/blobs/uploads/u1?_state=s", UriKind.Relative))
            .Expect(HttpMethod.Put, $"{Base}/v2/lab/app/blobs/uploads/u1?_state=s&digest={Uri.EscapeDataString(d.Digest.ToString())}", HttpStatusCode.Created);
        using var client = Client(handler);

        await client.Repository("lab/app").PushAsync(d, new MemoryStream(bytes), CancellationToken.None);

        Assert.Equal(bytes, handler.Requests[2].Body);
        Assert.Equal(0, handler.Remaining);
    }

    [Fact]
    public async Task Push_Chunked_PatchesFollowEachLocationThenEmptyPut()
    {
        var (d, bytes) = Blob("0123456789");
        var handler = new ScriptedHandler()
            .Expect(HttpMethod.Get, Base + "/v2/", HttpStatusCode.OK)
            .Expect(HttpMethod.Post, Base + "/v2/lab/app/blobs/uploads/", HttpStatusCode.Accepted, r => r.Headers.Location = new Uri(Base + "/up/a"))
            .Expect(HttpMethod.Patch, Base + "/up/a", HttpStatusCode.Accepted, r => r.Headers.Location = new Uri(Base + "/up/b"))
            .Expect(HttpMethod.Patch, Base + "/up/b", HttpStatusCode.Accepted, r => r.Headers.Location = new Uri(Base + "/up/c"))
            .Expect(HttpMethod.Put, $"{Base}/up/c?digest={Uri.EscapeDataString(d.Digest.ToString())}", HttpStatusCode.Created);
        using var client = Client(handler, chunk: 6);

        await client.Repository("lab/app").PushAsync(d, new VerifyingStream(new MemoryStream(bytes), d), CancellationToken.None);

        Assert.Equal("012345"u8.ToArray(), handler.Requests[2].Body);
        Assert.Equal("0-5", handler.Requests[2].ContentRange);
        Assert.Equal("6789"u8.ToArray(), handler.Requests[3].Body);
        Assert.Equal("6-9", handler.Requests[3].ContentRange);
        Assert.Empty(handler.Requests[4].Body);
    }

    [Fact]
    public async Task Mount_RegistryLinksBlob_ReturnsTrueWithoutUpload()
    {
        var (d, _) = Blob("shared");
        var handler = new ScriptedHandler()
            .Expect(HttpMethod.Get, Base + "/v2/", HttpStatusCode.OK)
            .Expect(HttpMethod.Post, $"{Base}/v2/lab/new/blobs/uploads/?mount={Uri.EscapeDataString(d.Digest.ToString())}&from=lab%2Fold", HttpStatusCode.Created);
        using var client = Client(handler);

        Assert.True(await client.Repository("lab/new").MountAsync(d, "lab/old", CancellationToken.None));
    }

    [Fact]
    public async Task Fetch_ContentDoesNotMatchDigest_Throws()
    {
        var (d, _) = Blob("expected");
        var handler = new ScriptedHandler()
            .Expect(HttpMethod.Get, Base + "/v2/", HttpStatusCode.OK)
            .Expect(HttpMethod.Get, $"{Base}/v2/lab/app/blobs/{d.Digest}", HttpStatusCode.OK, body: "tampered"u8.ToArray());
        using var client = Client(handler);

        using var stream = await client.Repository("lab/app").FetchAsync(d, CancellationToken.None);
        await Assert.ThrowsAsync<ContentException>(() => stream.CopyToAsync(Stream.Null));
    }

    [Fact]
    public async Task Resolve_ManifestUnknown_ErrorReadsAsPodman()
    {
        var handler = new ScriptedHandler()
            .Expect(HttpMethod.Get, Base + "/v2/", HttpStatusCode.OK)
            .Expect(HttpMethod.Get, Base + "/v2/lab/app/manifests/9", _ => ScriptedHandler.Json(HttpStatusCode.NotFound,
                "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\",\"detail\":{\"Tag\":\"9\"}}]}"));
        using var client = Client(handler);

        var e = await Assert.ThrowsAsync<RegistryException>(() => client.Repository("lab/app").ResolveAsync("9", CancellationToken.None));
        Assert.Equal("reading manifest 9 in reg.test/lab/app: manifest unknown: manifest unknown", e.Message);
    }
}
