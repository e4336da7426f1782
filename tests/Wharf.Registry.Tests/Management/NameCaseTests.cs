using System.Net;
using System.Net.Http.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Identity;
using Wharf.Registry.Projects;
using Wharf.Testing;
using Wharf.Registry.Data;

namespace Wharf.Registry.Tests.Management;

/// <summary>User, project and robot names are unique without regard to case, as in Harbor; older databases with such duplicates keep working.</summary>
public sealed class NameCaseTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("Admin")]
    [InlineData("ADMIN")]
    [InlineData("aDmIn")]
    public async Task CreateUser_CaseVariantOfAnExistingName_Is409(string username)
    {
        using var admin = _server.Admin();

        using var response = await admin.PostAsJsonAsync("api/v2.0/users", new { username, password = "Passw0rdX" });

        await ErrorAssert.HasErrorAsync(response, HttpStatusCode.Conflict, "CONFLICT");
        Assert.Single(await admin.GetFromJsonAsync<object[]>("api/v2.0/users?username=dmin") ?? []);
    }

    [Fact]
    public async Task CreateUser_CaseVariantOfAnotherUser_Is409()
    {
        await _server.CreateUserAsync("Alice");
        using var admin = _server.Admin();

        using var response = await admin.PostAsJsonAsync("api/v2.0/users", new { username = "alice", password = "Passw0rdX" });

        await ErrorAssert.HasErrorAsync(response, HttpStatusCode.Conflict, "CONFLICT");
    }

    [Theory]
    [InlineData("ROBOT$lab+ci")]
    [InlineData("Robot$x")]
    public async Task CreateUser_RobotPrefixInAnyCase_Is400(string username)
    {
        using var admin = _server.Admin();

        using var response = await admin.PostAsJsonAsync("api/v2.0/users", new { username, password = "Passw0rdX" });

        await ErrorAssert.HasErrorAsync(response, HttpStatusCode.BadRequest, "BAD_REQUEST");
    }

    [Fact]
    public async Task CreateProject_CaseVariant_IsRefusedAndCreatesNothing()
    {
        using var admin = _server.Admin();

        using var response = await admin.PostAsJsonAsync("api/v2.0/projects", new { project_name = "LAB" });

        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.Conflict, $"{(int)response.StatusCode}");
        Assert.Single(await admin.GetFromJsonAsync<object[]>("api/v2.0/projects?name=lab") ?? []);
    }

    [Fact]
    [Trait("Database", "sqlite-only")] // the duplicates only an earlier SQLite-era wharfd could write
    public async Task OlderDatabaseWithCaseDuplicates_KeepsThemWorking_AndRefusesNewOnes()
    {
        await _server.CreateUserAsync("dev");
        var robot = await _server.CreateRobotAsync("lab", "ci", 30, "pull");
        string hash = _server.Services.GetRequiredService<PasswordHasher>().Hash("Other1Pass");
        string path = _server.Services.GetRequiredService<RegistryDatabase>().FilePath;
        await _server.StopKeepingDataAsync();

        // What an earlier version could hold: names that differ only in case, no case-blind indexes.
        await using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = """
                DROP INDEX IF EXISTS users_username_nocase;
                DROP INDEX IF EXISTS projects_name_nocase;
                DROP INDEX IF EXISTS robots_name_nocase;
                INSERT INTO users (username, password_hash, creation_time, update_time) VALUES ('Dev', $h, 0, 0);
                INSERT INTO projects (name, creation_time, update_time) VALUES ('Lab2', 0, 0);
                INSERT INTO projects (name, creation_time, update_time) VALUES ('LAB', 0, 0);
                INSERT INTO robots (name, project_id, secret_hash, access, duration_days, expires_at, creation_time, update_time)
                    SELECT 'robot$lab+CI2', id, 'x', 1, -1, -1, 0, 0 FROM projects WHERE name = 'lab';
                """;
            command.Parameters.AddWithValue("$h", hash);
            await command.ExecuteNonQueryAsync();
        }

        await _server.RestartAsync();

        Assert.Equal(HttpStatusCode.OK, (await _server.RequestTokenAsync("dev", WharfEndpoint.UserPassword)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _server.RequestTokenAsync("Dev", "Other1Pass")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _server.RequestTokenAsync(robot.Name, robot.Secret)).StatusCode);

        using var admin = _server.Admin();
        using (var user = await admin.PostAsJsonAsync("api/v2.0/users", new { username = "DEV", password = "Passw0rdX" }))
        {
            await ErrorAssert.HasErrorAsync(user, HttpStatusCode.Conflict, "CONFLICT");
        }

        using (var project = await admin.PostAsJsonAsync("api/v2.0/projects", new { project_name = "lab2" }))
        {
            await ErrorAssert.HasErrorAsync(project, HttpStatusCode.Conflict, "CONFLICT");
        }

        using (var bot = await admin.PostAsJsonAsync("api/v2.0/robots", new
        {
            name = "ci2",
            duration = 30,
            level = "project",
            permissions = new[] { new { kind = "project", @namespace = "lab", access = new[] { new { resource = "repository", action = "pull" } } } },
        }))
        {
            await ErrorAssert.HasErrorAsync(bot, HttpStatusCode.Conflict, "CONFLICT");
        }

        // A name unlike any other still works.
        await _server.CreateUserAsync("fresh");
    }

    [Fact]
    public async Task CreateRobot_CaseVariantOfAnExistingRobot_Is409()
    {
        await _server.CreateRobotAsync("lab", "ci", 30, "pull");
        var robots = _server.Services.GetRequiredService<IRobotStore>();
        var project = await _server.Services.GetRequiredService<IProjectStore>().FindByNameAsync("lab", CancellationToken.None);

        // The API only makes lower-case robot names; the store refuses a case variant itself.
        var duplicate = await robots.CreateAsync("ROBOT$lab+CI", project!.Id, null, RepositoryActions.Pull, false, 30, -1, "x", CancellationToken.None);

        Assert.Null(duplicate);
    }
}
