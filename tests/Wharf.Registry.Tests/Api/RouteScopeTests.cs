using System.Net;
using Wharf.Oci;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Api;

/// <summary>
/// The scope each real /v2 route demands, through wharfd's own dispatcher and token authorizer:
/// a route that asked for the wrong repository, or for pull where it writes, fails here.
/// </summary>
public sealed class RouteScopeTests : IAsyncLifetime
{
    private const string Password = WharfEndpoint.UserPassword;

    private WharfServer _server = null!;
    private PushedImage _a = null!;
    private PushedImage _b = null!;
    private PushedImage _plans = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
        await _server.CreateProjectAsync("secret");
        await _server.CreateUserAsync("dev");
        await _server.CreateUserAsync("visitor");
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);
        await _server.AddMemberAsync("lab", "visitor", ProjectRole.Guest);
        _a = await _server.SeedImageAsync("lab/a");
        _b = await _server.SeedImageAsync("lab/b");
        _plans = await _server.SeedImageAsync("secret/plans");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("manifests/latest")]
    [InlineData("tags/list")]
    public async Task Get_PullTokenForRepositoryA_CannotReadRepositoryB(string route)
    {
        using var client = _server.Bearer(await _server.TokenAsync("dev", Password, "repository:lab/a:pull"));

        using var own = await client.GetAsync($"v2/lab/a/{route}");
        using var other = await client.GetAsync($"v2/lab/b/{route}");

        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, other.StatusCode);
        Assert.Contains("scope=\"repository:lab/b:pull\"", other.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Contains("error=\"insufficient_scope\"", other.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetBlob_PullTokenForRepositoryA_CannotReadABlobOfRepositoryB()
    {
        using var client = _server.Bearer(await _server.TokenAsync("dev", Password, "repository:lab/a:pull"));
        var layerOfB = LayerOf(_b);

        using var viaA = await client.GetAsync($"v2/lab/a/blobs/{LayerOf(_a)}");
        using var viaB = await client.GetAsync($"v2/lab/b/blobs/{layerOfB}");

        Assert.Equal(HttpStatusCode.OK, viaA.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, viaB.StatusCode);
        Assert.NotEqual(RegistryPush.Layer("lab/b:latest", 64), await viaB.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task ManifestPut_GuestOfTheProject_IsDeniedAndStoresNothing()
    {
        using var client = _server.Bearer(await _server.TokenAsync("visitor", Password, "repository:lab/a:pull,push"));

        using var put = await RegistryPush.PutManifestAsync(client, "lab/a", "guest-tag", _a.Body, MediaTypes.OciManifest);
        using var upload = await client.PostAsync("v2/lab/a/blobs/uploads/", null);

        Assert.Equal(HttpStatusCode.Forbidden, put.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, upload.StatusCode);
        using var admin = _server.Admin();
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("v2/lab/a/manifests/guest-tag")).StatusCode);
    }

    [Fact]
    public async Task ManifestPut_BasicCredentialsOfAGuest_IsDenied()
    {
        using var client = _server.Client("visitor", Password);

        using var put = await RegistryPush.PutManifestAsync(client, "lab/a", "guest-tag", _a.Body, MediaTypes.OciManifest);

        Assert.Equal(HttpStatusCode.Forbidden, put.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v2/lab/a/manifests/latest")).StatusCode);
    }

    [Fact]
    public async Task Mount_FromAProjectWithoutPull_StartsAnUploadInsteadOfMounting()
    {
        // dev may push to lab/a but cannot see secret/plans: knowing a digest must not copy it over.
        var layer = LayerOf(_plans);
        using var client = _server.Bearer(await _server.TokenAsync("dev", Password, "repository:lab/a:pull,push", "repository:secret/plans:pull"));

        using var mount = await client.PostAsync($"v2/lab/a/blobs/uploads/?mount={layer}&from=secret/plans", null);

        Assert.Equal(HttpStatusCode.Accepted, mount.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"v2/lab/a/blobs/{layer}")).StatusCode);
    }

    [Fact]
    public async Task Delete_PushTokenOfADeveloper_IsDeniedAndTheManifestStays()
    {
        using var client = _server.Bearer(await _server.TokenAsync("dev", Password, "repository:lab/a:pull,push,delete"));

        using var delete = await client.DeleteAsync($"v2/lab/a/manifests/{_a.Digest}");

        Assert.Equal(HttpStatusCode.Forbidden, delete.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"v2/lab/a/manifests/{_a.Digest}")).StatusCode);
    }

    private static Digest LayerOf(PushedImage image)
    {
        using var manifest = System.Text.Json.JsonDocument.Parse(image.Body);
        return Digest.Parse(manifest.RootElement.GetProperty("layers")[0].GetProperty("digest").GetString()!);
    }
}
