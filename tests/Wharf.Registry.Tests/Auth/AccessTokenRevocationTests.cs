using System.Net;
using System.Net.Http.Json;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Auth;

/// <summary>Access tokens issued before an account's tokens are revoked stop working at once, not only at their expiry.</summary>
public sealed class AccessTokenRevocationTests : IAsyncLifetime
{
    private const string Pull = "repository:lab/app:pull";
    private WharfServer _server = null!;
    private long _devId;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
        await _server.SeedImageAsync("lab/app");
        _devId = await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);
        await _server.CreateUserAsync("ops");
        await _server.AddMemberAsync("lab", "ops", ProjectRole.Guest);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task PasswordChange_EndsEarlierAccessTokens_OfThatAccountOnly()
    {
        string devToken = await _server.TokenAsync("dev", WharfEndpoint.UserPassword, Pull);
        string opsToken = await _server.TokenAsync("ops", WharfEndpoint.UserPassword, Pull);
        Assert.Equal(HttpStatusCode.OK, await PullAsync(devToken));

        using (var self = _server.Client("dev", WharfEndpoint.UserPassword))
        {
            using var change = await self.PutAsJsonAsync($"api/v2.0/users/{_devId}/password", new { old_password = WharfEndpoint.UserPassword, new_password = "N3wPassword" });
            Assert.Equal(HttpStatusCode.OK, change.StatusCode);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await PullAsync(devToken));
        Assert.Equal(HttpStatusCode.OK, await PullAsync(opsToken));
        Assert.Equal(HttpStatusCode.OK, await PullAsync(await _server.TokenAsync("dev", "N3wPassword", Pull)));
    }

    [Theory]
    [InlineData("revoke")]
    [InlineData("disable")]
    [InlineData("delete")]
    public async Task AdminAction_EndsEarlierAccessTokens(string action)
    {
        string token = await _server.TokenAsync("dev", WharfEndpoint.UserPassword, Pull);
        using var admin = _server.Admin();
        using var response = action switch
        {
            "revoke" => await admin.DeleteAsync($"api/v2.0/users/{_devId}/tokens"),
            "disable" => await admin.PutAsJsonAsync($"api/v2.0/users/{_devId}/disabled", new { disabled = true }),
            _ => await admin.DeleteAsync($"api/v2.0/users/{_devId}"),
        };
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        Assert.Equal(HttpStatusCode.Unauthorized, await PullAsync(token));
    }

    [Fact]
    public async Task DeletedUser_NewUserOfTheSameName_GetsWorkingTokensAndTheOldOnesStayDead()
    {
        string old = await _server.TokenAsync("dev", WharfEndpoint.UserPassword, Pull);
        using (var admin = _server.Admin())
        {
            (await admin.DeleteAsync($"api/v2.0/users/{_devId}")).EnsureSuccessStatusCode();
        }

        await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);

        Assert.Equal(HttpStatusCode.OK, await PullAsync(await _server.TokenAsync("dev", WharfEndpoint.UserPassword, Pull)));
        Assert.Equal(HttpStatusCode.Unauthorized, await PullAsync(old));
    }

    [Fact]
    public async Task RobotSecretRefresh_EndsTheRobotsEarlierAccessTokens()
    {
        var (id, name, secret) = await _server.CreateRobotAsync("lab", "ci", 30, "pull");
        string token = await _server.TokenAsync(name, secret, Pull);
        Assert.Equal(HttpStatusCode.OK, await PullAsync(token));

        using var admin = _server.Admin();
        using var rotate = await admin.PatchAsync($"api/v2.0/robots/{id}", JsonContent.Create(new { }));
        Assert.Equal(HttpStatusCode.OK, rotate.StatusCode);

        Assert.Equal(HttpStatusCode.Unauthorized, await PullAsync(token));
    }

    [Fact]
    public async Task ProfileChange_LeavesAccessTokensAlone()
    {
        string token = await _server.TokenAsync("dev", WharfEndpoint.UserPassword, Pull);
        using var admin = _server.Admin();
        (await admin.PutAsJsonAsync($"api/v2.0/users/{_devId}", new { email = "new@example.org" })).EnsureSuccessStatusCode();
        (await admin.PutAsJsonAsync($"api/v2.0/users/{_devId}/disabled", new { disabled = false })).EnsureSuccessStatusCode();

        Assert.Equal(HttpStatusCode.OK, await PullAsync(token));
    }

    private async Task<HttpStatusCode> PullAsync(string token)
    {
        using var client = _server.Bearer(token);
        using var response = await client.GetAsync("v2/lab/app/manifests/latest");
        return response.StatusCode;
    }
}
