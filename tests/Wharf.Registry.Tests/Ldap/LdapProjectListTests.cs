using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Registry.Identity;
using Wharf.Registry.Identity.Ldap;
using Wharf.Registry.Tests.Portal;
using Wharf.Testing;
using Wharf.Registry.Data;

namespace Wharf.Registry.Tests.Ldap;

/// <summary>
/// A private project reached only through a directory group is listed like a direct member's: in
/// GET /api/v2.0/projects (with its total and filters), the portal's project list and /v2/_catalog;
/// leaving the group takes it out again at the next token.
/// </summary>
public sealed class LdapProjectListTests : IAsyncLifetime
{
    private const string LabDn = "cn=Lab,ou=groups,dc=wharf,dc=test";

    private Slapd _slapd = null!;
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _slapd = Slapd.Start();
        _server = await WharfServer.StartAsync(_slapd.Settings(groupProjectRole: 2, refreshSeconds: 0));
        await _server.CreateProjectAsync("lab");
        await _server.CreateProjectAsync("tools");
        await _server.CreateProjectAsync("hidden");
        await _server.SeedImageAsync("lab/app");
        await _server.SeedImageAsync("tools/cli");
        await _server.SeedImageAsync("hidden/secret");
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _slapd.Dispose();
    }

    private async Task<(string[] Names, string? Total)> ProjectsAsync(string username, string password, string query = "")
    {
        using var client = _server.Client(username, password);
        using var response = await client.GetAsync(new Uri("api/v2.0/projects" + query, UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        string? total = response.Headers.TryGetValues("X-Total-Count", out var values) ? values.Single() : null;
        return ([.. body.RootElement.EnumerateArray().Select(p => p.GetProperty("name").GetString()!)], total);
    }

    private async Task<string> CatalogAsync(string username, string password)
    {
        using var client = _server.Bearer(await _server.TokenAsync(username, password, "registry:catalog:*"));
        return await client.GetStringAsync(new Uri("v2/_catalog", UriKind.Relative));
    }

    [Fact]
    public async Task ProjectList_GroupNamedLikeTheProject_ListsItInTheApiPortalAndCatalog()
    {
        // alice is in Lab (naming rule: project "lab"), carol in no group.
        _ = await _server.TokenAsync("alice", "AlicePass1", "repository:lab/app:pull");

        var (names, total) = await ProjectsAsync("alice", "AlicePass1");
        Assert.Equal(["lab"], names);
        Assert.Equal("1", total);
        Assert.Equal(["lab"], (await ProjectsAsync("alice", "AlicePass1", "?name=la")).Names);
        Assert.Equal(["lab"], (await ProjectsAsync("alice", "AlicePass1", "?owner=admin")).Names);
        Assert.Empty((await ProjectsAsync("alice", "AlicePass1", "?owner=alice")).Names);
        Assert.Empty((await ProjectsAsync("alice", "AlicePass1", "?name=tools")).Names);
        Assert.Empty((await ProjectsAsync("carol", "CarolPass1")).Names);

        using var browser = new PortalClient(_server.BaseAddress);
        using (var signIn = await browser.SignInAsync("alice", "AlicePass1"))
        {
            Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        }

        var (_, html) = await browser.GetAsync("/");
        Assert.Contains("/portal/projects/lab\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("/portal/projects/hidden\"", html, StringComparison.Ordinal);

        Assert.Equal("{\"repositories\":[\"lab/app\"]}", await CatalogAsync("alice", "AlicePass1"));
        Assert.Equal("{\"repositories\":[]}", await CatalogAsync("carol", "CarolPass1"));
    }

    [Fact]
    public async Task Search_ProjectReachedOnlyThroughAGroup_IsFoundByItsMembersOnly()
    {
        _ = await _server.TokenAsync("alice", "AlicePass1", "repository:lab/app:pull");
        _ = await _server.TokenAsync("carol", "CarolPass1");

        async Task<(string[] Projects, string[] Repositories)> SearchAsync(string username, string password, string q)
        {
            using var client = _server.Client(username, password);
            using var body = JsonDocument.Parse(await client.GetStringAsync(new Uri("api/v2.0/search?q=" + q, UriKind.Relative)));
            return ([.. body.RootElement.GetProperty("project").EnumerateArray().Select(p => p.GetProperty("name").GetString()!)],
                [.. body.RootElement.GetProperty("repository").EnumerateArray().Select(r => r.GetProperty("repository_name").GetString()!)]);
        }

        var alice = await SearchAsync("alice", "AlicePass1", "a");
        Assert.Equal(["lab"], alice.Projects);
        Assert.Equal(["lab/app"], alice.Repositories);
        Assert.Empty((await SearchAsync("alice", "AlicePass1", "secret")).Repositories);

        var carol = await SearchAsync("carol", "CarolPass1", "a");
        Assert.Empty(carol.Projects);
        Assert.Empty(carol.Repositories);
    }

    [Fact]
    public async Task ProjectList_GroupMappedByDn_ListsTheProject()
    {
        using (var admin = _server.Admin())
        using (var add = await admin.PostAsJsonAsync(new Uri("api/v2.0/projects/tools/members", UriKind.Relative), new
        {
            role_id = 3,
            member_group = new { group_name = "ops", ldap_group_dn = "cn=Ops,ou=groups,dc=wharf,dc=test", group_type = 1 },
        }))
        {
            Assert.Equal(HttpStatusCode.Created, add.StatusCode);
        }

        // bob is in Ops (and through it in Infra, which names no project here).
        _ = await _server.TokenAsync("bob", "BobPass12", "repository:tools/cli:pull");

        Assert.Equal(["tools"], (await ProjectsAsync("bob", "BobPass12")).Names);
        Assert.Equal("{\"repositories\":[\"tools/cli\"]}", await CatalogAsync("bob", "BobPass12"));
    }

    [Fact]
    public async Task ProjectList_RemovedFromTheGroup_IsGoneAfterTheNextToken()
    {
        _ = await _server.TokenAsync("alice", "AlicePass1", "repository:lab/app:pull");
        Assert.Equal(["lab"], (await ProjectsAsync("alice", "AlicePass1")).Names);

        _slapd.Modify($"""
            dn: {LabDn}
            changetype: modify
            delete: member
            member: uid=alice,ou=people,dc=wharf,dc=test

            """);
        _ = await _server.TokenAsync("alice", "AlicePass1", "repository:lab/app:pull");

        var (names, total) = await ProjectsAsync("alice", "AlicePass1");
        Assert.Empty(names);
        Assert.Equal("0", total);
        Assert.Equal("{\"repositories\":[]}", await CatalogAsync("alice", "AlicePass1"));
    }

    [Fact]
    public async Task ProjectList_CachedGroupsPastTheOutageWindow_NoLongerCount()
    {
        _ = await _server.TokenAsync("alice", "AlicePass1", "repository:lab/app:pull");
        using var browser = new PortalClient(_server.BaseAddress);
        using (var signIn = await browser.SignInAsync("alice", "AlicePass1"))
        {
            Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        }

        _slapd.Stop();
        _server.Clock.Advance(TimeSpan.FromMinutes(50));
        Assert.Contains("/portal/projects/lab\"", (await browser.GetAsync("/")).Html, StringComparison.Ordinal);

        _server.Clock.Advance(TimeSpan.FromMinutes(11));
        Assert.DoesNotContain("/portal/projects/lab\"", (await browser.GetAsync("/")).Html, StringComparison.Ordinal);
    }
}
