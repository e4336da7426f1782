using System.Net;
using System.Text;
using Wharf.Client.Config;
using Wharf.Oci;

namespace Wharf.Client.Tests.Http;

public class AuthHandlerTests
{
    private const string Host = "reg.test:5000";
    private const string Base = "https://reg.test:5000";

    private static readonly byte[] Manifest = Encoding.UTF8.GetBytes(
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},\"layers\":[]}");

    private static void ManifestResponse(HttpResponseMessage r)
    {
        r.Content = new ByteArrayContent(Manifest);
        r.Content.Headers.ContentType = new(MediaTypes.OciManifest);
    }

    private static RegistryClient Client(ScriptedHandler handler, RegistryCredential? credential, bool tlsVerify = true) =>
        new(Host, new RegistryClientOptions { Transport = handler, Credential = credential, TlsVerify = tlsVerify, RetryDelay = _ => TimeSpan.Zero });

    [Fact]
    public async Task Resolve_BasicChallenge_AnswersWithCredentialsAndKeepsSendingThem()
    {
        var handler = new ScriptedHandler()
            .Expect(HttpMethod.Get, Base + "/v2/", HttpStatusCode.Unauthorized, r => r.Headers.WwwAuthenticate.ParseAdd("Basic realm=\"r\""))
            .Expect(HttpMethod.Get, Base + "/v2/lab/app/manifests/1", HttpStatusCode.OK, ManifestResponse)
            .Expect(HttpMethod.Get, Base + "/v2/lab/app/manifests/2", HttpStatusCode.OK, ManifestResponse);
        using var client = Client(handler, new RegistryCredential("alice", "s3cret"));
        var repo = client.Repository("lab/app");

        await repo.ResolveAsync("1", CancellationToken.None);
        await repo.ResolveAsync("2", CancellationToken.None);

        Assert.Null(handler.Requests[0].Authorization);
        Assert.Equal("Basic YWxpY2U6czNjcmV0", handler.Requests[1].Authorization);
        Assert.Equal("Basic YWxpY2U6czNjcmV0", handler.Requests[2].Authorization);
        Assert.Equal(0, handler.Remaining);
    }

    [Fact]
    public async Task Resolve_BearerChallenge_FetchesTokenOncePerScopeAndCachesIt()
    {
        var handler = new ScriptedHandler()
            .Expect(HttpMethod.Get, Base + "/v2/", HttpStatusCode.Unauthorized,
                r => r.Headers.WwwAuthenticate.ParseAdd("Bearer realm=\"https://reg.test:5000/service/token\",service=\"harbor-registry\""))
            .Expect(HttpMethod.Get, Base + "/service/token?account=alice&scope=repository%3Alab%2Fapp%3Apull&service=harbor-registry",
                _ => ScriptedHandler.Json(HttpStatusCode.OK, "{\"token\":\"T1\",\"expires_in\":300}"))
            .Expect(HttpMethod.Get, Base + "/v2/lab/app/manifests/1", HttpStatusCode.OK, ManifestResponse)
            .Expect(HttpMethod.Get, Base + "/v2/lab/app/manifests/2", HttpStatusCode.OK, ManifestResponse)
            .Expect(HttpMethod.Get, Base + "/service/token?account=alice&scope=repository%3Alab%2Fother%3Apull&service=harbor-registry",
                _ => ScriptedHandler.Json(HttpStatusCode.OK, "{\"access_token\":\"T2\"}"))
            .Expect(HttpMethod.Get, Base + "/v2/lab/other/manifests/1", HttpStatusCode.OK, ManifestResponse);
        using var client = Client(handler, new RegistryCredential("alice", "s3cret"));

        await client.Repository("lab/app").ResolveAsync("1", CancellationToken.None);
        await client.Repository("lab/app").ResolveAsync("2", CancellationToken.None);
        await client.Repository("lab/other").ResolveAsync("1", CancellationToken.None);

        Assert.Equal("Basic YWxpY2U6czNjcmV0", handler.Requests[1].Authorization);
        Assert.Equal("Bearer T1", handler.Requests[2].Authorization);
        Assert.Equal("Bearer T1", handler.Requests[3].Authorization);
        Assert.Equal("Bearer T2", handler.Requests[5].Authorization);
        Assert.Equal(0, handler.Remaining);
    }

    [Fact]
    public async Task Fetch_LocationOnAnotherOrigin_NoCredentialsSent()
    {
        var blob = "hello"u8.ToArray();
        var digest = Digest.Compute(blob).ToString();
        var handler = new ScriptedHandler()
            .Expect(HttpMethod.Get, Base + "/v2/", HttpStatusCode.Unauthorized, r => r.Headers.WwwAuthenticate.ParseAdd("Basic realm=\"r\""))
            .Expect(HttpMethod.Post, Base + "/v2/lab/app/blobs/uploads/", HttpStatusCode.Accepted,
                r => r.Headers.Location = new Uri("https://storage.elsewhere/upload/1?state=x"))
            .Expect(HttpMethod.Put, "https://storage.elsewhere/upload/1?state=x&digest=" + Uri.EscapeDataString(digest), HttpStatusCode.Created);
        using var client = Client(handler, new RegistryCredential("alice", "s3cret"));

        await client.Repository("lab/app").PushAsync(new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Parse(digest), Size = blob.Length },
            new MemoryStream(blob), CancellationToken.None);

        Assert.Equal("Basic YWxpY2U6czNjcmV0", handler.Requests[1].Authorization);
        Assert.Null(handler.Requests[2].Authorization);
        Assert.Equal(blob, handler.Requests[2].Body);
    }

    [Fact]
    public async Task CheckLogin_WrongPassword_ReturnsFalse()
    {
        var handler = new ScriptedHandler()
            .Expect(HttpMethod.Get, Base + "/v2/", HttpStatusCode.Unauthorized, r => r.Headers.WwwAuthenticate.ParseAdd("Basic realm=\"r\""))
            .Expect(HttpMethod.Get, Base + "/v2/", HttpStatusCode.Unauthorized, r => r.Headers.WwwAuthenticate.ParseAdd("Basic realm=\"r\""));
        using var client = Client(handler, new RegistryCredential("alice", "wrong"));

        Assert.False(await client.CheckLoginAsync(CancellationToken.None));
        Assert.Null(handler.Requests[0].Authorization);
        Assert.Equal("Basic YWxpY2U6d3Jvbmc=", handler.Requests[1].Authorization);
        Assert.Equal(0, handler.Remaining);
    }

    [Fact]
    public async Task Ping_TlsVerifyOn_NeverFallsBackToHttp()
    {
        var handler = new ScriptedHandler().ExpectThrow(HttpMethod.Get, Base + "/v2/");
        using var client = Client(handler, null);

        var e = await Assert.ThrowsAsync<RegistryException>(() => client.PingAsync(CancellationToken.None));

        Assert.StartsWith("pinging container registry reg.test:5000: Get \"https://reg.test:5000/v2/\"", e.Message, StringComparison.Ordinal);
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Ping_TlsVerifyOff_FallsBackToHttp()
    {
        var handler = new ScriptedHandler()
            .ExpectThrow(HttpMethod.Get, Base + "/v2/")
            .Expect(HttpMethod.Get, "http://reg.test:5000/v2/", HttpStatusCode.OK);
        using var client = Client(handler, null, tlsVerify: false);

        await client.PingAsync(CancellationToken.None);

        Assert.Equal(new Uri("http://reg.test:5000"), client.BaseUri);
    }
}

public class IdentityTokenTests
{
    [Fact]
    public async Task Resolve_IdentityToken_RefreshTokenGrantPostedToRealm()
    {
        string? form = null;
        var handler = new ScriptedHandler()
            .Expect(HttpMethod.Get, "https://reg.test/v2/", HttpStatusCode.Unauthorized,
                r => r.Headers.WwwAuthenticate.ParseAdd("Bearer realm=\"https://auth.test/token\",service=\"reg\""))
            .Expect(HttpMethod.Post, "https://auth.test/token", r =>
            {
                form = r.Content!.ReadAsStringAsync().GetAwaiter().GetResult();
                return ScriptedHandler.Json(HttpStatusCode.OK, "{\"access_token\":\"AT\",\"expires_in\":60}");
            })
            .Expect(HttpMethod.Get, "https://reg.test/v2/lab/app/tags/list", _ => ScriptedHandler.Json(HttpStatusCode.OK, "{\"name\":\"lab/app\",\"tags\":[\"1\",\"2\"]}"));
        using var client = new RegistryClient("reg.test", new RegistryClientOptions
        {
            Transport = handler,
            Credential = new RegistryCredential(string.Empty, string.Empty, "REFRESH"),
        });

        var tags = await client.Repository("lab/app").ListTagsAsync(CancellationToken.None);

        Assert.Equal(["1", "2"], tags);
        Assert.Equal("grant_type=refresh_token&refresh_token=REFRESH&client_id=containers%2Fimage&service=reg&scope=repository%3Alab%2Fapp%3Apull", form);
        Assert.Null(handler.Requests[1].Authorization);
        Assert.Equal("Bearer AT", handler.Requests[2].Authorization);
    }

    [Fact]
    public async Task Resolve_TokenServiceRefusesCredentials_InvalidUsernamePassword()
    {
        var handler = new ScriptedHandler()
            .Expect(HttpMethod.Get, "https://reg.test/v2/", HttpStatusCode.Unauthorized,
                r => r.Headers.WwwAuthenticate.ParseAdd("Bearer realm=\"https://reg.test/service/token\",service=\"harbor-registry\""))
            .Expect(HttpMethod.Get, "https://reg.test/service/token?account=alice&scope=repository%3Alab%2Fapp%3Apull&service=harbor-registry", HttpStatusCode.Unauthorized);
        using var client = new RegistryClient("reg.test", new RegistryClientOptions { Transport = handler, Credential = new RegistryCredential("alice", "bad") });

        var e = await Assert.ThrowsAsync<RegistryException>(() => client.Repository("lab/app").ResolveAsync("1", CancellationToken.None));

        Assert.Contains("invalid username/password", e.Message, StringComparison.Ordinal);
    }
}
