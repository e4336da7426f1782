using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Identity;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Management;

public sealed class RobotsApiTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
        await _server.SeedImageAsync("lab/app");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task CreateRobot_SecretIsShownOnceAndStoredHashed()
    {
        var (id, name, secret) = await _server.CreateRobotAsync("lab", "ci", 30, "pull", "push");
        using var admin = _server.Admin();

        string json = await admin.GetStringAsync($"api/v2.0/robots/{id}");
        using var robot = JsonDocument.Parse(json);
        var robots = _server.Services.GetRequiredService<IRobotStore>();
        string? stored = await robots.GetSecretHashAsync(id, CancellationToken.None);

        Assert.Equal("robot$lab+ci", name);
        Assert.DoesNotContain(secret, json, StringComparison.Ordinal);
        Assert.False(robot.RootElement.TryGetProperty("secret", out _));
        Assert.Equal("project", robot.RootElement.GetProperty("level").GetString());
        Assert.Equal(30, robot.RootElement.GetProperty("duration").GetInt64());
        var access = robot.RootElement.GetProperty("permissions")[0].GetProperty("access").EnumerateArray().Select(a => a.GetProperty("action").GetString());
        Assert.Equal(["pull", "push"], access);
        Assert.NotEqual(secret, stored);
        Assert.StartsWith("$2", stored, StringComparison.Ordinal); // bcrypt, salted like a password
        Assert.True(PasswordHasher.Verify(secret, stored));
    }

    [Fact]
    public async Task CreateRobot_ExpiresAtFollowsDuration()
    {
        using var admin = _server.Admin();
        var (id, _, _) = await _server.CreateRobotAsync("lab", "week", 7, "pull");
        var (neverId, _, _) = await _server.CreateRobotAsync("lab", "forever", -1, "pull");

        using var week = JsonDocument.Parse(await admin.GetStringAsync($"api/v2.0/robots/{id}"));
        using var never = JsonDocument.Parse(await admin.GetStringAsync($"api/v2.0/robots/{neverId}"));

        long expected = _server.Clock.GetUtcNow().AddDays(7).ToUnixTimeSeconds();
        Assert.InRange(week.RootElement.GetProperty("expires_at").GetInt64(), expected - 5, expected + 5);
        Assert.Equal(-1, never.RootElement.GetProperty("expires_at").GetInt64());
    }

    [Fact]
    public async Task DisableRobot_ThenItsCredentialsFail()
    {
        var (id, name, secret) = await _server.CreateRobotAsync("lab", "ci", -1, "pull");
        Assert.Equal(HttpStatusCode.OK, (await _server.RequestTokenAsync(name, secret, "repository:lab/app:pull")).StatusCode);
        using var admin = _server.Admin();

        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"api/v2.0/robots/{id}", new { disable = true })).StatusCode);

        Assert.Equal(HttpStatusCode.Unauthorized, (await _server.RequestTokenAsync(name, secret, "repository:lab/app:pull")).StatusCode);
        using var basic = _server.Client(name, secret);
        Assert.Equal(HttpStatusCode.Unauthorized, (await basic.GetAsync("v2/lab/app/manifests/latest")).StatusCode);
    }

    [Fact]
    public async Task RefreshSecret_OldSecretStopsWorkingNewOneWorks()
    {
        var (id, name, secret) = await _server.CreateRobotAsync("lab", "ci", -1, "pull");
        using var admin = _server.Admin();
        Assert.Equal(HttpStatusCode.OK, (await _server.RequestTokenAsync(name, secret, "repository:lab/app:pull")).StatusCode);

        using var refreshed = await admin.PatchAsync($"api/v2.0/robots/{id}", JsonContent.Create(new { }));
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        using var body = JsonDocument.Parse(await refreshed.Content.ReadAsStringAsync());
        string fresh = body.RootElement.GetProperty("secret").GetString()!;

        Assert.NotEqual(secret, fresh);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _server.RequestTokenAsync(name, secret, "repository:lab/app:pull")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _server.RequestTokenAsync(name, fresh, "repository:lab/app:pull")).StatusCode);
    }

    [Fact]
    public async Task UpdateRobot_Permissions_ChangeItsGrants()
    {
        var (id, name, secret) = await _server.CreateRobotAsync("lab", "ci", -1, "pull");
        using var admin = _server.Admin();

        using var response = await admin.PutAsJsonAsync($"api/v2.0/robots/{id}", new
        {
            permissions = new[] { new { kind = "project", @namespace = "lab", access = new[] { new { resource = "repository", action = "pull" }, new { resource = "repository", action = "delete" } } } },
        });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["pull", "delete"], WharfServer.AccessOf(await _server.TokenAsync(name, secret, "repository:lab/app:pull,push,delete"))["repository:lab/app"]);
    }

    [Fact]
    public async Task DeleteRobot_ThenItIsGone()
    {
        var (id, name, secret) = await _server.CreateRobotAsync("lab", "ci", -1, "pull");
        using var admin = _server.Admin();

        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync($"api/v2.0/robots/{id}")).StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"api/v2.0/robots/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _server.RequestTokenAsync(name, secret, "repository:lab/app:pull")).StatusCode);
    }

    [Fact]
    public async Task ProjectRobots_ProjectAdminManagesDeveloperMayNot()
    {
        await _server.CreateUserAsync("lead");
        await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("lab", "lead", ProjectRole.ProjectAdmin);
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);
        using var lead = _server.Client("lead", "Passw0rdX");
        using var dev = _server.Client("dev", "Passw0rdX");
        var request = new { name = "deploy", duration = -1, permissions = new[] { new { access = new[] { new { resource = "repository", action = "pull" } } } } };

        using var created = await lead.PostAsJsonAsync("api/v2.0/projects/lab/robots", request);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var list = JsonDocument.Parse(await lead.GetStringAsync("api/v2.0/projects/lab/robots"));

        Assert.Equal("robot$lab+deploy", Assert.Single(list.RootElement.EnumerateArray()).GetProperty("name").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, (await dev.PostAsJsonAsync("api/v2.0/projects/lab/robots", new { name = "mine", permissions = request.permissions })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await dev.GetAsync("api/v2.0/projects/lab/robots")).StatusCode);
    }

    [Theory]
    [InlineData("{\"name\":\"x\",\"level\":\"system\",\"permissions\":[{\"kind\":\"project\",\"namespace\":\"lab\",\"access\":[{\"resource\":\"repository\",\"action\":\"pull\"}]}]}", HttpStatusCode.BadRequest)]
    [InlineData("{\"name\":\"x\",\"permissions\":[]}", HttpStatusCode.BadRequest)]
    [InlineData("{\"name\":\"x\",\"permissions\":[{\"kind\":\"project\",\"namespace\":\"lab\",\"access\":[{\"resource\":\"repository\",\"action\":\"fly\"}]}]}", HttpStatusCode.BadRequest)]
    [InlineData("{\"name\":\"x\",\"permissions\":[{\"kind\":\"project\",\"namespace\":\"lab\",\"access\":[]}]}", HttpStatusCode.BadRequest)]
    [InlineData("{\"name\":\"Bad Name\",\"permissions\":[{\"kind\":\"project\",\"namespace\":\"lab\",\"access\":[{\"resource\":\"repository\",\"action\":\"pull\"}]}]}", HttpStatusCode.BadRequest)]
    [InlineData("{\"name\":\"x\",\"duration\":-5,\"permissions\":[{\"kind\":\"project\",\"namespace\":\"lab\",\"access\":[{\"resource\":\"repository\",\"action\":\"pull\"}]}]}", HttpStatusCode.BadRequest)]
    [InlineData("{\"name\":\"x\",\"permissions\":[{\"kind\":\"project\",\"namespace\":\"nosuch\",\"access\":[{\"resource\":\"repository\",\"action\":\"pull\"}]}]}", HttpStatusCode.NotFound)]
    public async Task CreateRobot_BadInput_IsRefused(string body, HttpStatusCode expected)
    {
        using var admin = _server.Admin();

        using var response = await admin.PostAsync("api/v2.0/robots", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(expected, response.StatusCode);
        using var list = JsonDocument.Parse(await admin.GetStringAsync("api/v2.0/robots"));
        Assert.Empty(list.RootElement.EnumerateArray());
    }

    [Fact]
    public async Task CreateRobot_DuplicateName_Is409()
    {
        await _server.CreateRobotAsync("lab", "ci", -1, "pull");
        using var admin = _server.Admin();

        using var response = await admin.PostAsJsonAsync("api/v2.0/robots", new
        {
            name = "ci",
            permissions = new[] { new { kind = "project", @namespace = "lab", access = new[] { new { resource = "repository", action = "pull" } } } },
        });

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
    }
}
