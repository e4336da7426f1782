using System.Net;
using System.Text.Json;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Auth;

public sealed class TokenServiceTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
        await _server.CreateProjectAsync("library", isPublic: true);
        await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Token_DeveloperAsksForEverything_GetsPullAndPushOnly()
    {
        string token = await _server.TokenAsync("dev", "Passw0rdX", "repository:lab/app:pull,push,delete");

        Assert.Equal(["pull", "push"], WharfServer.AccessOf(token)["repository:lab/app"]);
    }

    [Fact]
    public async Task Token_Response_HasTheDockerFields()
    {
        using var response = await _server.RequestTokenAsync("dev", "Passw0rdX", "repository:lab/app:pull");
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        var root = body.RootElement;
        Assert.Equal(root.GetProperty("token").GetString(), root.GetProperty("access_token").GetString());
        Assert.Equal(1800, root.GetProperty("expires_in").GetInt32());
        Assert.True(DateTimeOffset.TryParse(root.GetProperty("issued_at").GetString(), System.Globalization.CultureInfo.InvariantCulture, out _));
        string[] parts = root.GetProperty("token").GetString()!.Split('.');
        using var header = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(parts[0]));
        Assert.Equal("ES256", header.RootElement.GetProperty("alg").GetString());
        Assert.False(string.IsNullOrEmpty(header.RootElement.GetProperty("kid").GetString()));
    }

    [Fact]
    public async Task Token_SeveralScopeParameters_EachIsGrantedItsIntersection()
    {
        string token = await _server.TokenAsync("dev", "Passw0rdX", "repository:lab/app:pull,push", "repository:library/alpine:pull,push", "registry:catalog:*");
        var access = WharfServer.AccessOf(token);

        Assert.Equal(["pull", "push"], access["repository:lab/app"]);
        Assert.Equal(["pull"], access["repository:library/alpine"]);
        Assert.Equal(["*"], access["registry:catalog"]);
    }

    [Fact]
    public async Task Token_Anonymous_GetsOnlyPublicPulls()
    {
        string token = await _server.TokenAsync(null, null, "repository:library/alpine:pull,push", "repository:lab/app:pull");
        var access = WharfServer.AccessOf(token);

        Assert.Equal(["pull"], access["repository:library/alpine"]);
        Assert.False(access.ContainsKey("repository:lab/app"));
    }

    [Fact]
    public async Task Token_Outsider_GetsNothingInAPrivateProject()
    {
        await _server.CreateUserAsync("stranger");

        string token = await _server.TokenAsync("stranger", "Passw0rdX", "repository:lab/app:pull");

        Assert.Empty(WharfServer.AccessOf(token));
    }

    [Fact]
    public async Task Token_WrongPassword_Is401()
    {
        using var response = await _server.RequestTokenAsync("dev", "wrong", "repository:lab/app:pull");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Token_DisabledUser_Is401()
    {
        long id = await _server.CreateUserAsync("leaver");
        using var admin = _server.Admin();
        using var disable = await admin.PutAsync($"api/v2.0/users/{id}/disabled", Json(new { disabled = true }));
        Assert.Equal(HttpStatusCode.OK, disable.StatusCode);

        using var response = await _server.RequestTokenAsync("leaver", "Passw0rdX", "repository:lab/app:pull");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Token_Robot_GetsItsPermissionsInItsProjectOnly()
    {
        await _server.CreateProjectAsync("other");
        var (_, name, secret) = await _server.CreateRobotAsync("lab", "ci", 30, "pull", "push");

        Assert.Equal("robot$lab+ci", name);
        string token = await _server.TokenAsync(name, secret, "repository:lab/app:pull,push,delete", "repository:other/app:pull");
        var access = WharfServer.AccessOf(token);
        Assert.Equal(["pull", "push"], access["repository:lab/app"]);
        Assert.False(access.ContainsKey("repository:other/app"));
    }

    [Fact]
    public async Task Token_ExpiredRobot_Is401()
    {
        var (_, name, secret) = await _server.CreateRobotAsync("lab", "short", 1, "pull");
        Assert.Equal(HttpStatusCode.OK, (await _server.RequestTokenAsync(name, secret, "repository:lab/app:pull")).StatusCode);

        _server.Clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromSeconds(1));

        using var response = await _server.RequestTokenAsync(name, secret, "repository:lab/app:pull");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Token_RobotWrongSecret_Is401()
    {
        var (_, name, _) = await _server.CreateRobotAsync("lab", "bot", -1, "pull");

        using var response = await _server.RequestTokenAsync(name, "Not-The-Secret1", "repository:lab/app:pull");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Token_PushIntoMissingProject_GrantsNothing()
    {
        string token = await _server.TokenAsync("admin", WharfServer.AdminPassword, "repository:nosuch/app:pull,push");

        Assert.Empty(WharfServer.AccessOf(token));
    }

    [Fact]
    public async Task Token_MalformedScopes_AreIgnored()
    {
        string token = await _server.TokenAsync("dev", "Passw0rdX", "repository:LAB/App:pull", "nonsense", "repository:lab/app:", "repository:lab/app:pull");

        var access = WharfServer.AccessOf(token);
        Assert.Single(access);
        Assert.Equal(["pull"], access["repository:lab/app"]);
    }

    [Fact]
    public async Task PostToken_PasswordGrantThenRefreshGrant_IssueTokens()
    {
        using var client = _server.Client();
        using var first = await client.PostAsync("service/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = "dev", ["password"] = "Passw0rdX", ["service"] = "wharf-registry",
            ["scope"] = "repository:lab/app:pull", ["client_id"] = "containers/image", ["access_type"] = "offline",
        }));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        using var firstBody = JsonDocument.Parse(await first.Content.ReadAsStringAsync());
        string refresh = firstBody.RootElement.GetProperty("refresh_token").GetString()!;

        using var second = await client.PostAsync("service/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = refresh, ["service"] = "wharf-registry", ["scope"] = "repository:lab/app:pull,push",
        }));
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        using var secondBody = JsonDocument.Parse(await second.Content.ReadAsStringAsync());
        Assert.Equal(["pull", "push"], WharfServer.AccessOf(secondBody.RootElement.GetProperty("access_token").GetString()!)["repository:lab/app"]);

        // A refresh token is not an access token.
        using var bearer = _server.Bearer(refresh);
        Assert.Equal(HttpStatusCode.Unauthorized, (await bearer.GetAsync("v2/")).StatusCode);
    }

    [Fact]
    public async Task GetToken_OfflineToken_ReturnsARefreshTokenOnlyToAuthenticatedCallers()
    {
        using var dev = _server.Client("dev", "Passw0rdX");
        using var anonymous = _server.Client();

        using var withAccount = JsonDocument.Parse(await dev.GetStringAsync("service/token?service=wharf-registry&offline_token=true&client_id=docker"));
        using var withoutAccount = JsonDocument.Parse(await anonymous.GetStringAsync("service/token?service=wharf-registry&offline_token=true&client_id=docker"));

        Assert.False(string.IsNullOrEmpty(withAccount.RootElement.GetProperty("refresh_token").GetString()));
        Assert.False(withoutAccount.RootElement.TryGetProperty("refresh_token", out _));
    }

    [Fact]
    public async Task PostToken_BadGrant_IsRefused()
    {
        using var client = _server.Client();
        using var wrongPassword = await client.PostAsync("service/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = "dev", ["password"] = "nope",
        }));
        using var unknownGrant = await client.PostAsync("service/token", new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }));
        using var badRefresh = await client.PostAsync("service/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = "a.b.c",
        }));

        Assert.Equal(HttpStatusCode.Unauthorized, wrongPassword.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, unknownGrant.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, badRefresh.StatusCode);
    }

    private static StringContent Json(object value) => new(JsonSerializer.Serialize(value), System.Text.Encoding.UTF8, "application/json");
}
