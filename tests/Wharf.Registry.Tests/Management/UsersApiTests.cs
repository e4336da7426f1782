using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Management;

public sealed class UsersApiTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync() => _server = await WharfServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task CreateUser_ThenGet_ReturnsHarborsShapeWithoutThePassword()
    {
        long id = await _server.CreateUserAsync("alice");
        using var admin = _server.Admin();

        string json = await admin.GetStringAsync($"api/v2.0/users/{id}");
        using var body = JsonDocument.Parse(json);

        Assert.Equal(id, body.RootElement.GetProperty("user_id").GetInt64());
        Assert.Equal("alice", body.RootElement.GetProperty("username").GetString());
        Assert.Equal("alice@example.org", body.RootElement.GetProperty("email").GetString());
        Assert.False(body.RootElement.GetProperty("sysadmin_flag").GetBoolean());
        Assert.True(body.RootElement.TryGetProperty("creation_time", out _));
        Assert.DoesNotContain("Passw0rdX", json, StringComparison.Ordinal);
        Assert.DoesNotContain("password", json, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateUser_DuplicateName_Is409()
    {
        await _server.CreateUserAsync("alice");
        using var admin = _server.Admin();

        using var response = await admin.PostAsJsonAsync("api/v2.0/users", new { username = "alice", password = "Passw0rdX" });

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("\"code\":\"CONFLICT\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"username\":\"bob\",\"password\":\"weak\"}")]
    [InlineData("{\"username\":\"\",\"password\":\"Passw0rdX\"}")]
    [InlineData("{\"username\":\"a:b\",\"password\":\"Passw0rdX\"}")]
    [InlineData("{\"username\":\"robot$x\",\"password\":\"Passw0rdX\"}")]
    [InlineData("{\"username\":\"bob\"}")]
    [InlineData("not json")]
    [InlineData("")]
    public async Task CreateUser_BadInput_Is400AndCreatesNothing(string body)
    {
        using var admin = _server.Admin();

        using var response = await admin.PostAsync("api/v2.0/users", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("1", (await admin.GetAsync("api/v2.0/users")).Headers.GetValues("X-Total-Count").Single());
    }

    [Fact]
    public async Task CreateUser_HugeBody_Is413()
    {
        using var admin = _server.Admin();
        string body = "{\"username\":\"bob\",\"comment\":\"" + new string('x', 2 * 1024 * 1024) + "\",\"password\":\"Passw0rdX\"}";

        using var response = await admin.PostAsync("api/v2.0/users", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task CreateUser_ByNonAdminOrAnonymous_IsRefused()
    {
        await _server.CreateUserAsync("alice");
        using var alice = _server.Client("alice", "Passw0rdX");
        using var anonymous = _server.Client();
        var request = new { username = "mallory", password = "Passw0rdX" };

        Assert.Equal(HttpStatusCode.Forbidden, (await alice.PostAsJsonAsync("api/v2.0/users", request)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("api/v2.0/users", request)).StatusCode);
    }

    [Fact]
    public async Task ListUsers_FilterAndPaging_FollowHarbor()
    {
        await _server.CreateUserAsync("alice");
        await _server.CreateUserAsync("alina");
        await _server.CreateUserAsync("bob");
        using var admin = _server.Admin();

        using var filtered = await admin.GetAsync("api/v2.0/users?q=username%3D~ali&page=1&page_size=1");
        using var body = JsonDocument.Parse(await filtered.Content.ReadAsStringAsync());

        Assert.Equal("2", filtered.Headers.GetValues("X-Total-Count").Single());
        Assert.Contains("rel=\"next\"", filtered.Headers.GetValues("Link").Single(), StringComparison.Ordinal);
        Assert.Equal("alice", Assert.Single(body.RootElement.EnumerateArray()).GetProperty("username").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.GetAsync("api/v2.0/users?page_size=1000")).StatusCode);
    }

    [Fact]
    public async Task ChangePassword_OwnWithOldPassword_NewOneWorksOldOneNot()
    {
        long id = await _server.CreateUserAsync("alice");
        using var alice = _server.Client("alice", "Passw0rdX");

        using var wrongOld = await alice.PutAsJsonAsync($"api/v2.0/users/{id}/password", new { old_password = "nope", new_password = "NewPassw0rd" });
        using var weak = await alice.PutAsJsonAsync($"api/v2.0/users/{id}/password", new { old_password = "Passw0rdX", new_password = "weak" });
        using var same = await alice.PutAsJsonAsync($"api/v2.0/users/{id}/password", new { old_password = "Passw0rdX", new_password = "Passw0rdX" });
        using var ok = await alice.PutAsJsonAsync($"api/v2.0/users/{id}/password", new { old_password = "Passw0rdX", new_password = "NewPassw0rd" });

        Assert.Equal(HttpStatusCode.Forbidden, wrongOld.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, weak.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, same.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await alice.GetAsync("api/v2.0/users/current")).StatusCode);
        using var renewed = _server.Client("alice", "NewPassw0rd");
        Assert.Equal(HttpStatusCode.OK, (await renewed.GetAsync("api/v2.0/users/current")).StatusCode);
    }

    [Fact]
    public async Task ChangePassword_SomeoneElses_OnlyAnAdminMayWithoutTheOldOne()
    {
        long alice = await _server.CreateUserAsync("alice");
        await _server.CreateUserAsync("bob");
        using var bob = _server.Client("bob", "Passw0rdX");
        using var admin = _server.Admin();

        Assert.Equal(HttpStatusCode.Forbidden, (await bob.PutAsJsonAsync($"api/v2.0/users/{alice}/password", new { old_password = "Passw0rdX", new_password = "Hijack3d!" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"api/v2.0/users/{alice}/password", new { new_password = "Reset12345" })).StatusCode);
        using var reset = _server.Client("alice", "Reset12345");
        Assert.Equal(HttpStatusCode.OK, (await reset.GetAsync("api/v2.0/users/current")).StatusCode);
    }

    [Fact]
    public async Task DisableUser_ThenEnable_LoginFollows()
    {
        long id = await _server.CreateUserAsync("alice");
        using var alice = _server.Client("alice", "Passw0rdX");
        Assert.Equal(HttpStatusCode.OK, (await alice.GetAsync("api/v2.0/users/current")).StatusCode);
        using var admin = _server.Admin();

        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"api/v2.0/users/{id}/disabled", new { disabled = true })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await alice.GetAsync("api/v2.0/users/current")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"api/v2.0/users/{id}/disabled", new { disabled = false })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await alice.GetAsync("api/v2.0/users/current")).StatusCode);
    }

    [Fact]
    public async Task DeleteUser_ThenGet_Is404AndLoginFails()
    {
        long id = await _server.CreateUserAsync("alice");
        using var alice = _server.Client("alice", "Passw0rdX");
        Assert.Equal(HttpStatusCode.OK, (await alice.GetAsync("api/v2.0/users/current")).StatusCode);
        using var admin = _server.Admin();

        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync($"api/v2.0/users/{id}")).StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"api/v2.0/users/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await alice.GetAsync("api/v2.0/users/current")).StatusCode);
    }

    [Fact]
    public async Task DeleteUser_Self_IsRefused()
    {
        using var admin = _server.Admin();
        using var current = JsonDocument.Parse(await admin.GetStringAsync("api/v2.0/users/current"));
        long self = current.RootElement.GetProperty("user_id").GetInt64();

        Assert.Equal(HttpStatusCode.Forbidden, (await admin.DeleteAsync($"api/v2.0/users/{self}")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.DeleteAsync("api/v2.0/users/abc")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync("api/v2.0/users/999")).StatusCode);
    }

    [Fact]
    public async Task SetSysAdmin_PromotedUser_CanCreateUsers()
    {
        long id = await _server.CreateUserAsync("alice");
        using var admin = _server.Admin();
        using var alice = _server.Client("alice", "Passw0rdX");

        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"api/v2.0/users/{id}/sysadmin", new { sysadmin_flag = true })).StatusCode);

        Assert.Equal(HttpStatusCode.Created, (await alice.PostAsJsonAsync("api/v2.0/users", new { username = "carol", password = "Passw0rdX" })).StatusCode);
    }

    [Fact]
    public async Task GetUser_AnotherUsersRecord_IsForbiddenForNonAdmins()
    {
        long alice = await _server.CreateUserAsync("alice");
        await _server.CreateUserAsync("bob");
        using var bob = _server.Client("bob", "Passw0rdX");

        Assert.Equal(HttpStatusCode.Forbidden, (await bob.GetAsync($"api/v2.0/users/{alice}")).StatusCode);
    }

    [Fact]
    public async Task SystemInfoAndHealth_Anonymous_Answer()
    {
        using var client = _server.Client();

        using var info = JsonDocument.Parse(await client.GetStringAsync("api/v2.0/systeminfo"));
        using var health = JsonDocument.Parse(await client.GetStringAsync("api/v2.0/health"));

        Assert.Equal("db_auth", info.RootElement.GetProperty("auth_mode").GetString());
        Assert.Equal("adminonly", info.RootElement.GetProperty("project_creation_restriction").GetString());
        Assert.Equal("healthy", health.RootElement.GetProperty("status").GetString());
    }
}
