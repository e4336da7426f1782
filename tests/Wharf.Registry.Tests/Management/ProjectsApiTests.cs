using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Management;

public sealed class ProjectsApiTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync() => _server = await WharfServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task CreateProject_ThenGetByNameAndId_ShowsMetadataPublic()
    {
        long id = await _server.CreateProjectAsync("lab", isPublic: true);
        using var admin = _server.Admin();

        using var byId = JsonDocument.Parse(await admin.GetStringAsync($"api/v2.0/projects/{id}"));
        using var byName = JsonDocument.Parse(await admin.GetStringAsync("api/v2.0/projects/lab"));

        Assert.Equal("lab", byId.RootElement.GetProperty("name").GetString());
        Assert.Equal(id, byName.RootElement.GetProperty("project_id").GetInt64());
        Assert.Equal("true", byName.RootElement.GetProperty("metadata").GetProperty("public").GetString());
        Assert.Equal("admin", byName.RootElement.GetProperty("owner_name").GetString());
        Assert.Equal(1, byName.RootElement.GetProperty("current_user_role_id").GetInt32());
    }

    [Fact]
    public async Task CreateProject_ResourceNameInLocation_LocationNamesTheProject()
    {
        using var admin = _server.Admin();
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/v2.0/projects") { Content = JsonContent.Create(new { project_name = "lab" }) };
        request.Headers.Add("X-Resource-Name-In-Location", "true");

        using var response = await admin.SendAsync(request);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("/api/v2.0/projects/lab", response.Headers.Location!.ToString());
    }

    [Fact]
    public async Task GetProject_NumericKeyWithIsResourceName_IsTakenAsAName()
    {
        long id = await _server.CreateProjectAsync("lab");
        using var admin = _server.Admin();
        using var byName = new HttpRequestMessage(HttpMethod.Get, $"api/v2.0/projects/{id}");
        byName.Headers.Add("X-Is-Resource-Name", "true");

        Assert.Equal(HttpStatusCode.NotFound, (await admin.SendAsync(byName)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"api/v2.0/projects/{id}")).StatusCode);
    }

    [Theory]
    [InlineData("{\"project_name\":\"Lab\"}")]
    [InlineData("{\"project_name\":\"a/b\"}")]
    [InlineData("{\"project_name\":\"-lab\"}")]
    [InlineData("{\"project_name\":\"123\"}")]
    [InlineData("{\"project_name\":\"\"}")]
    [InlineData("{\"project_name\":\"lab\",\"metadata\":{\"public\":\"yes\"}}")]
    [InlineData("{\"project_name\":\"lab\",\"storage_limit\":0}")]
    [InlineData("[]")]
    public async Task CreateProject_BadInput_Is400(string body)
    {
        using var admin = _server.Admin();

        using var response = await admin.PostAsync("api/v2.0/projects", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("0", (await admin.GetAsync("api/v2.0/projects")).Headers.GetValues("X-Total-Count").Single());
    }

    [Fact]
    public async Task CreateProject_Duplicate_Is409()
    {
        await _server.CreateProjectAsync("lab");
        using var admin = _server.Admin();

        Assert.Equal(HttpStatusCode.Conflict, (await admin.PostAsJsonAsync("api/v2.0/projects", new { project_name = "lab" })).StatusCode);
    }

    [Fact]
    public async Task CreateProject_ByUser_OnlyWhenConfigAllows()
    {
        await _server.CreateUserAsync("alice");
        using var alice = _server.Client("alice", "Passw0rdX");
        Assert.Equal(HttpStatusCode.Forbidden, (await alice.PostAsJsonAsync("api/v2.0/projects", new { project_name = "mine" })).StatusCode);

        await using var open = await WharfServer.StartAsync(new Dictionary<string, string?> { ["Registry:AllowUserProjectCreation"] = "true" });
        await open.CreateUserAsync("alice");
        using var aliceOnOpen = open.Client("alice", "Passw0rdX");
        Assert.Equal(HttpStatusCode.Created, (await aliceOnOpen.PostAsJsonAsync("api/v2.0/projects", new { project_name = "mine" })).StatusCode);

        // The creator becomes the project's admin, and so may push to it.
        string token = await open.TokenAsync("alice", "Passw0rdX", "repository:mine/app:pull,push,delete");
        Assert.Equal(["pull", "push", "delete"], WharfServer.AccessOf(token)["repository:mine/app"]);
    }

    [Fact]
    public async Task ListProjects_EachCallerSeesPublicAndOwnProjects()
    {
        await _server.CreateProjectAsync("lab");
        await _server.CreateProjectAsync("library", isPublic: true);
        await _server.CreateProjectAsync("secret");
        await _server.CreateUserAsync("alice");
        await _server.AddMemberAsync("lab", "alice", ProjectRole.Guest);
        using var alice = _server.Client("alice", "Passw0rdX");
        using var anonymous = _server.Client();
        using var admin = _server.Admin();

        Assert.Equal(["lab", "library"], await NamesAsync(alice, "api/v2.0/projects"));
        Assert.Equal(["library"], await NamesAsync(anonymous, "api/v2.0/projects"));
        Assert.Equal(["lab", "library", "secret"], await NamesAsync(admin, "api/v2.0/projects"));
        Assert.Equal(["library"], await NamesAsync(admin, "api/v2.0/projects?name=libr"));
        Assert.Equal(["library"], await NamesAsync(admin, "api/v2.0/projects?public=true"));
    }

    [Fact]
    public async Task HeadProjects_ByName_SaysWhetherItExists()
    {
        await _server.CreateProjectAsync("lab");
        using var admin = _server.Admin();

        Assert.Equal(HttpStatusCode.OK, (await admin.SendAsync(new HttpRequestMessage(HttpMethod.Head, "api/v2.0/projects?project_name=lab"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.SendAsync(new HttpRequestMessage(HttpMethod.Head, "api/v2.0/projects?project_name=nosuch"))).StatusCode);
    }

    [Fact]
    public async Task GetProject_PrivateForOutsider_Is404LikeMissing()
    {
        await _server.CreateProjectAsync("secret");
        await _server.CreateUserAsync("alice");
        using var alice = _server.Client("alice", "Passw0rdX");

        Assert.Equal(HttpStatusCode.NotFound, (await alice.GetAsync("api/v2.0/projects/secret")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await alice.GetAsync("api/v2.0/projects/nosuch")).StatusCode);
    }

    [Fact]
    public async Task UpdateProject_MakePublic_AnonymousMayThenPull()
    {
        await _server.CreateProjectAsync("lab");
        using var admin = _server.Admin();
        Assert.Empty(WharfServer.AccessOf(await _server.TokenAsync(null, null, "repository:lab/app:pull")));

        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync("api/v2.0/projects/lab", new { metadata = new { @public = "true" } })).StatusCode);

        Assert.Equal(["pull"], WharfServer.AccessOf(await _server.TokenAsync(null, null, "repository:lab/app:pull"))["repository:lab/app"]);
    }

    [Fact]
    public async Task UpdateProject_ByDeveloper_IsForbidden()
    {
        await _server.CreateProjectAsync("lab");
        await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);
        using var dev = _server.Client("dev", "Passw0rdX");

        Assert.Equal(HttpStatusCode.Forbidden, (await dev.PutAsJsonAsync("api/v2.0/projects/lab", new { metadata = new { @public = "true" } })).StatusCode);
    }

    [Fact]
    public async Task DeleteProject_WithRepositories_IsRefusedUnlessForced()
    {
        await _server.CreateProjectAsync("lab");
        await _server.SeedImageAsync("lab/app");
        using var admin = _server.Admin();

        using var refused = await admin.DeleteAsync("api/v2.0/projects/lab");
        Assert.Equal(HttpStatusCode.PreconditionFailed, refused.StatusCode);
        Assert.Contains("still contains repositories", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("api/v2.0/projects/lab")).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync("api/v2.0/projects/lab?force=true")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("api/v2.0/projects/lab")).StatusCode);
    }

    [Fact]
    public async Task DeleteProject_Empty_RemovesItsMembersAndRobots()
    {
        await _server.CreateProjectAsync("lab");
        await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);
        var (_, robot, secret) = await _server.CreateRobotAsync("lab", "ci", -1, "pull");
        using var admin = _server.Admin();

        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync("api/v2.0/projects/lab")).StatusCode);

        // Re-creating the name starts clean: the old developer and robot have no access.
        await _server.CreateProjectAsync("lab");
        Assert.Empty(WharfServer.AccessOf(await _server.TokenAsync("dev", "Passw0rdX", "repository:lab/app:pull")));
        Assert.Equal(HttpStatusCode.Unauthorized, (await _server.RequestTokenAsync(robot, secret, "repository:lab/app:pull")).StatusCode);
    }

    [Fact]
    public async Task ProjectSummary_CountsRepositoriesMembersAndQuota()
    {
        await _server.CreateProjectAsync("lab");
        await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);
        long a = (await _server.SeedImageAsync("lab/a", layerSize: 100)).Size;
        long b = (await _server.SeedImageAsync("lab/b", layerSize: 50)).Size;
        using var admin = _server.Admin();

        using var summary = JsonDocument.Parse(await admin.GetStringAsync("api/v2.0/projects/lab/summary"));

        Assert.Equal(2, summary.RootElement.GetProperty("repo_count").GetInt64());
        Assert.Equal(1, summary.RootElement.GetProperty("project_admin_count").GetInt32());
        Assert.Equal(1, summary.RootElement.GetProperty("developer_count").GetInt32());
        Assert.Equal(-1, summary.RootElement.GetProperty("quota").GetProperty("hard").GetProperty("storage").GetInt64());
        // Both images share the config blob: the project counts it once.
        Assert.Equal(a + b - RegistryPush.Config.Length, summary.RootElement.GetProperty("quota").GetProperty("used").GetProperty("storage").GetInt64());
    }

    [Fact]
    public async Task SearchUsers_AnyUser_FindsNamesOnly()
    {
        await _server.CreateUserAsync("alice");
        await _server.CreateUserAsync("bob");
        using var bob = _server.Client("bob", "Passw0rdX");

        string json = await bob.GetStringAsync("api/v2.0/users/search?username=ali");
        using var body = JsonDocument.Parse(json);

        Assert.Equal("alice", Assert.Single(body.RootElement.EnumerateArray()).GetProperty("username").GetString());
        Assert.DoesNotContain("email", json, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _server.Client().GetAsync("api/v2.0/users/search?username=ali")).StatusCode);
    }

    private static async Task<string[]> NamesAsync(HttpClient client, string url)
    {
        using var body = JsonDocument.Parse(await client.GetStringAsync(url));
        return [.. body.RootElement.EnumerateArray().Select(p => p.GetProperty("name").GetString()!)];
    }
}
