using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Management;

public sealed class MembersApiTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
        await _server.CreateUserAsync("lead");
        await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("lab", "lead", ProjectRole.ProjectAdmin);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task AddMember_ByProjectAdmin_ListsWithHarborsRoleNames()
    {
        using var lead = _server.Client("lead", "Passw0rdX");

        using var created = await lead.PostAsJsonAsync("api/v2.0/projects/lab/members", new { role_id = 2, member_user = new { username = "dev" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var list = JsonDocument.Parse(await lead.GetStringAsync("api/v2.0/projects/lab/members?entityname=dev"));

        var member = Assert.Single(list.RootElement.EnumerateArray());
        Assert.Equal("dev", member.GetProperty("entity_name").GetString());
        Assert.Equal("developer", member.GetProperty("role_name").GetString());
        Assert.Equal(2, member.GetProperty("role_id").GetInt32());
        Assert.Equal("u", member.GetProperty("entity_type").GetString());
        Assert.EndsWith($"/members/{member.GetProperty("id").GetInt64()}", created.Headers.Location!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpdateMember_RoleChange_ChangesWhatTheTokenGrants()
    {
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Guest);
        using var lead = _server.Client("lead", "Passw0rdX");
        long id = await MemberIdAsync(lead, "dev");
        Assert.Equal(["pull"], WharfServer.AccessOf(await _server.TokenAsync("dev", "Passw0rdX", "repository:lab/app:pull,push,delete"))["repository:lab/app"]);

        Assert.Equal(HttpStatusCode.OK, (await lead.PutAsJsonAsync($"api/v2.0/projects/lab/members/{id}", new { role_id = 4 })).StatusCode);

        Assert.Equal(["pull", "push", "delete"], WharfServer.AccessOf(await _server.TokenAsync("dev", "Passw0rdX", "repository:lab/app:pull,push,delete"))["repository:lab/app"]);
    }

    [Fact]
    public async Task RemoveMember_ThenToken_GrantsNothing()
    {
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);
        using var lead = _server.Client("lead", "Passw0rdX");
        long id = await MemberIdAsync(lead, "dev");

        Assert.Equal(HttpStatusCode.OK, (await lead.DeleteAsync($"api/v2.0/projects/lab/members/{id}")).StatusCode);

        Assert.Empty(WharfServer.AccessOf(await _server.TokenAsync("dev", "Passw0rdX", "repository:lab/app:pull")));
        Assert.Equal(HttpStatusCode.NotFound, (await lead.DeleteAsync($"api/v2.0/projects/lab/members/{id}")).StatusCode);
    }

    [Fact]
    public async Task AddMember_ByDeveloper_IsForbidden()
    {
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);
        await _server.CreateUserAsync("newcomer");
        using var dev = _server.Client("dev", "Passw0rdX");

        using var response = await dev.PostAsJsonAsync("api/v2.0/projects/lab/members", new { role_id = 1, member_user = new { username = "newcomer" } });

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Theory]
    [InlineData("{\"role_id\":9,\"member_user\":{\"username\":\"dev\"}}", HttpStatusCode.BadRequest)]
    [InlineData("{\"role_id\":0,\"member_user\":{\"username\":\"dev\"}}", HttpStatusCode.BadRequest)]
    [InlineData("{\"member_user\":{\"username\":\"dev\"}}", HttpStatusCode.BadRequest)]
    [InlineData("{\"role_id\":2}", HttpStatusCode.BadRequest)]
    [InlineData("{\"role_id\":2,\"member_user\":{\"username\":\"ghost\"}}", HttpStatusCode.NotFound)]
    [InlineData("{\"role_id\":2,\"member_user\":{\"username\":\"lead\"}}", HttpStatusCode.Conflict)]
    public async Task AddMember_BadInput_IsRefused(string body, HttpStatusCode expected)
    {
        using var admin = _server.Admin();

        using var response = await admin.PostAsync("api/v2.0/projects/lab/members", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task ListMembers_Outsider_SeesNoSuchProject()
    {
        await _server.CreateUserAsync("stranger");
        using var stranger = _server.Client("stranger", "Passw0rdX");

        Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetAsync("api/v2.0/projects/lab/members")).StatusCode);
    }

    private static async Task<long> MemberIdAsync(HttpClient client, string username)
    {
        using var list = JsonDocument.Parse(await client.GetStringAsync($"api/v2.0/projects/lab/members?entityname={username}"));
        return list.RootElement.EnumerateArray().Single(m => m.GetProperty("entity_name").GetString() == username).GetProperty("id").GetInt64();
    }
}
