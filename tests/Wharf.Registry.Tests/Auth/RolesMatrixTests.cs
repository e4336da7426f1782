using System.Net;
using Wharf.Oci;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Auth;

/// <summary>Each Harbor role against pull, push and delete, through the token flow and through Basic on /v2.</summary>
public sealed class RolesMatrixTests : IAsyncLifetime
{
    private WharfServer _server = null!;
    private PushedImage _image = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
        _image = await _server.SeedImageAsync("lab/app");
        foreach (var role in Enum.GetValues<ProjectRole>())
        {
            string name = role.Name().ToLowerInvariant();
            await _server.CreateUserAsync(name);
            await _server.AddMemberAsync("lab", name, role);
        }

        await _server.CreateUserAsync("outsider");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    // Allowed is the real routes' success: 200 for a manifest GET, 201 for a manifest PUT, 202 for a delete.
    public static TheoryData<string, string, HttpStatusCode> Matrix() => new()
    {
        { "projectadmin", "pull", HttpStatusCode.OK },
        { "projectadmin", "push", HttpStatusCode.Created },
        { "projectadmin", "delete", HttpStatusCode.Accepted },
        { "maintainer", "pull", HttpStatusCode.OK },
        { "maintainer", "push", HttpStatusCode.Created },
        { "maintainer", "delete", HttpStatusCode.Accepted },
        { "developer", "pull", HttpStatusCode.OK },
        { "developer", "push", HttpStatusCode.Created },
        { "developer", "delete", HttpStatusCode.Forbidden },
        { "guest", "pull", HttpStatusCode.OK },
        { "guest", "push", HttpStatusCode.Forbidden },
        { "guest", "delete", HttpStatusCode.Forbidden },
        { "limitedguest", "pull", HttpStatusCode.OK },
        { "limitedguest", "push", HttpStatusCode.Forbidden },
        { "limitedguest", "delete", HttpStatusCode.Forbidden },
        // A private project is answered to an outsider as a missing one: 401 insufficient_scope.
        { "outsider", "pull", HttpStatusCode.Unauthorized },
        { "outsider", "push", HttpStatusCode.Unauthorized },
        { "outsider", "delete", HttpStatusCode.Unauthorized },
        { "admin", "pull", HttpStatusCode.OK },
        { "admin", "push", HttpStatusCode.Created },
        { "admin", "delete", HttpStatusCode.Accepted },
    };

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task TokenFlow_RoleAndAction_GetsHarborsAnswer(string user, string action, HttpStatusCode expected)
    {
        string password = user == "admin" ? WharfServer.AdminPassword : "Passw0rdX";
        string token = await _server.TokenAsync(user, password, $"repository:lab/app:{ActionsFor(action)}");
        using var client = _server.Bearer(token);

        using var response = await SendAsync(client, action);

        Assert.Equal(expected, response.StatusCode);
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task BasicOnV2_RoleAndAction_GetsHarborsAnswer(string user, string action, HttpStatusCode expected)
    {
        using var client = _server.Client(user, user == "admin" ? WharfServer.AdminPassword : "Passw0rdX");

        using var response = await SendAsync(client, action);

        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task Robot_PullOnly_CannotPushOrDelete()
    {
        var (_, name, secret) = await _server.CreateRobotAsync("lab", "reader", -1, "pull");
        using var client = _server.Bearer(await _server.TokenAsync(name, secret, "repository:lab/app:pull,push,delete"));

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(client, "pull")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(client, "push")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(client, "delete")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(client, "pull")).StatusCode); // the refused delete changed nothing
    }

    [Fact]
    public async Task Anonymous_PublicProject_PullsButMustLogInToPush()
    {
        await _server.CreateProjectAsync("open", isPublic: true);
        await _server.SeedImageAsync("open/tool");
        using var client = _server.Bearer(await _server.TokenAsync(null, null, "repository:open/tool:pull,push"));

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v2/open/tool/manifests/latest")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PutAsync("v2/open/tool/manifests/latest", new StringContent("{}"))).StatusCode);
    }

    private static string ActionsFor(string action) => action switch
    {
        "push" => "pull,push",
        _ => action,
    };

    private Task<HttpResponseMessage> SendAsync(HttpClient client, string action) => action switch
    {
        "pull" => client.GetAsync("v2/lab/app/manifests/latest"),
        "push" => RegistryPush.PutManifestAsync(client, "lab/app", "latest", _image.Body, MediaTypes.OciManifest),
        _ => client.DeleteAsync($"v2/lab/app/manifests/{_image.Digest}"),
    };
}
