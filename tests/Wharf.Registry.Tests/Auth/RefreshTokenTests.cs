using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Auth;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Auth;

/// <summary>
/// Refresh tokens (docker/podman login's identity token) are bound to the account's id and die with a
/// password change, a robot secret refresh, disabling, deletion or an admin's revocation.
/// </summary>
public sealed class RefreshTokenTests : IAsyncLifetime
{
    private const string NewPassword = "N3wPassword";
    private WharfServer _server = null!;
    private long _devId;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
        await _server.SeedImageAsync("lab/app");
        _devId = await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task RefreshToken_FromPostAndFromDockerLoginsGet_PullsUntilThePasswordChanges()
    {
        string posted = await RefreshTokenAsync("dev", WharfEndpoint.UserPassword);
        string saved = await DockerLoginAsync("dev", WharfEndpoint.UserPassword);
        foreach (string refresh in new[] { posted, saved })
        {
            using var token = await RefreshAsync(refresh);
            Assert.Equal(HttpStatusCode.OK, token.StatusCode);
            using var pull = _server.Bearer(await AccessTokenAsync(token));
            Assert.Equal(HttpStatusCode.OK, (await pull.GetAsync("v2/lab/app/manifests/latest")).StatusCode);
        }

        using (var self = _server.Client("dev", WharfEndpoint.UserPassword))
        {
            using var change = await self.PutAsJsonAsync($"api/v2.0/users/{_devId}/password", new { old_password = WharfEndpoint.UserPassword, new_password = NewPassword });
            Assert.Equal(HttpStatusCode.OK, change.StatusCode);
        }

        foreach (string refresh in new[] { posted, saved })
        {
            using var refused = await RefreshAsync(refresh);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        // A new login gets a token that works again.
        using var fresh = await RefreshAsync(await RefreshTokenAsync("dev", NewPassword));
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
    }

    [Fact]
    public async Task AdminResetOfThePassword_KillsRefreshTokens()
    {
        string refresh = await RefreshTokenAsync("dev", WharfEndpoint.UserPassword);
        using (var admin = _server.Admin())
        {
            using var reset = await admin.PutAsJsonAsync($"api/v2.0/users/{_devId}/password", new { new_password = NewPassword });
            Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        }

        using var refused = await RefreshAsync(refresh);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task RevokeTokensEndpoint_KillsEveryRefreshTokenOfTheAccountOnly()
    {
        string first = await RefreshTokenAsync("dev", WharfEndpoint.UserPassword);
        string second = await DockerLoginAsync("dev", WharfEndpoint.UserPassword);
        string admins = await RefreshTokenAsync("admin", WharfServer.AdminPassword);
        using (var admin = _server.Admin())
        {
            using var revoke = await admin.DeleteAsync($"api/v2.0/users/{_devId}/tokens");
            Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await RefreshAsync(first)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await RefreshAsync(second)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await RefreshAsync(admins)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await RefreshAsync(await RefreshTokenAsync("dev", WharfEndpoint.UserPassword))).StatusCode);
    }

    [Fact]
    public async Task RevokeTokensEndpoint_SelfMayOthersMayNot()
    {
        long otherId = await _server.CreateUserAsync("other");
        using var dev = _server.Client("dev", WharfEndpoint.UserPassword);

        using var others = await dev.DeleteAsync($"api/v2.0/users/{otherId}/tokens");
        Assert.Equal(HttpStatusCode.Forbidden, others.StatusCode);
        using var anonymous = await _server.Client().DeleteAsync($"api/v2.0/users/{_devId}/tokens");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        using var missing = await _server.Admin().DeleteAsync("api/v2.0/users/999999/tokens");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        string refresh = await RefreshTokenAsync("dev", WharfEndpoint.UserPassword);
        using var own = await dev.DeleteAsync($"api/v2.0/users/{_devId}/tokens");
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await RefreshAsync(refresh)).StatusCode);
    }

    [Fact]
    public async Task DisabledAccount_RefreshTokenStaysDeadAfterItIsEnabledAgain()
    {
        string refresh = await RefreshTokenAsync("dev", WharfEndpoint.UserPassword);
        using var admin = _server.Admin();

        (await admin.PutAsJsonAsync($"api/v2.0/users/{_devId}/disabled", new { disabled = true })).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.Unauthorized, (await RefreshAsync(refresh)).StatusCode);
        (await admin.PutAsJsonAsync($"api/v2.0/users/{_devId}/disabled", new { disabled = false })).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.Unauthorized, (await RefreshAsync(refresh)).StatusCode);
    }

    [Fact]
    public async Task DeletedUser_RefreshTokenNeverWorksForANewUserOfTheSameName()
    {
        string refresh = await RefreshTokenAsync("dev", WharfEndpoint.UserPassword);
        using (var admin = _server.Admin())
        {
            (await admin.DeleteAsync($"api/v2.0/users/{_devId}")).EnsureSuccessStatusCode();
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await RefreshAsync(refresh)).StatusCode);
        long newId = await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);

        Assert.NotEqual(_devId, newId);
        Assert.Equal(HttpStatusCode.Unauthorized, (await RefreshAsync(refresh)).StatusCode);
    }

    [Fact]
    public async Task RobotRefreshToken_DiesWhenTheSecretIsRefreshedOrTheRobotDisabled()
    {
        var (id, name, secret) = await _server.CreateRobotAsync("lab", "ci", 30, "pull");
        string refresh = await RefreshTokenAsync(name, secret);
        Assert.Equal(HttpStatusCode.OK, (await RefreshAsync(refresh)).StatusCode);

        using var admin = _server.Admin();
        using var rotate = await admin.PatchAsync($"api/v2.0/robots/{id}", JsonContent.Create(new { }));
        Assert.Equal(HttpStatusCode.OK, rotate.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await RefreshAsync(refresh)).StatusCode);

        string newSecret = JsonDocument.Parse(await rotate.Content.ReadAsStringAsync()).RootElement.GetProperty("secret").GetString()!;
        string second = await RefreshTokenAsync(name, newSecret);
        Assert.Equal(HttpStatusCode.OK, (await RefreshAsync(second)).StatusCode);
        using var disable = await admin.PutAsJsonAsync($"api/v2.0/robots/{id}", new { disable = true });
        Assert.Equal(HttpStatusCode.OK, disable.StatusCode);
        using var enable = await admin.PutAsJsonAsync($"api/v2.0/robots/{id}", new { disable = false });
        Assert.Equal(HttpStatusCode.OK, enable.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await RefreshAsync(second)).StatusCode);
    }

    [Fact]
    public async Task RefreshTokenNamingTheAccountByName_IsRefused()
    {
        // The shape earlier versions issued: bound to the name, so it could not be revoked.
        var tokens = _server.Services.GetRequiredService<RegistryTokens>();
        string legacy = tokens.Issue("dev", [new GrantedAccess("refresh", "dev", ["refresh"])], TimeSpan.FromDays(30)).Token;

        Assert.Equal(HttpStatusCode.Unauthorized, (await RefreshAsync(legacy)).StatusCode);
    }

    [Fact]
    public async Task RefreshToken_IsNotAnAccessToken()
    {
        string refresh = await RefreshTokenAsync("dev", WharfEndpoint.UserPassword);
        using var client = _server.Bearer(refresh);

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("v2/lab/app/manifests/latest")).StatusCode);
    }

    private async Task<string> RefreshTokenAsync(string username, string password)
    {
        using var client = _server.Client();
        using var response = await client.PostAsync("service/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password",
            ["username"] = username,
            ["password"] = password,
            ["access_type"] = "offline",
            ["service"] = "wharf-registry",
            ["client_id"] = "test",
        }));
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.OK);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("refresh_token").GetString()!;
    }

    /// <summary>What docker login does: GET with Basic and offline_token=true, keeping the refresh token.</summary>
    private async Task<string> DockerLoginAsync(string username, string password)
    {
        using var client = _server.Client(username, password);
        using var response = await client.GetAsync("service/token?service=wharf-registry&offline_token=true&client_id=docker");
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.OK);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("refresh_token").GetString()!;
    }

    private async Task<HttpResponseMessage> RefreshAsync(string refreshToken)
    {
        using var client = _server.Client();
        return await client.PostAsync("service/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token",
            ["refresh_token"] = refreshToken,
            ["scope"] = "repository:lab/app:pull",
            ["service"] = "wharf-registry",
            ["client_id"] = "test",
        }));
    }

    private static async Task<string> AccessTokenAsync(HttpResponseMessage response)
    {
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("access_token").GetString()!;
    }
}
