using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Ldap;

/// <summary>Directory groups give project roles: by the naming rule (cn in lower case = project) and by mapping a group DN to a project.</summary>
public sealed class LdapGroupTests : IAsyncLifetime
{
    private Slapd _slapd = null!;
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _slapd = Slapd.Start();
        _server = await WharfServer.StartAsync(_slapd.Settings(groupProjectRole: 2, refreshSeconds: 0));
        await _server.CreateProjectAsync("lab");
        await _server.CreateProjectAsync("infra");
        await _server.CreateProjectAsync("tools");
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _slapd.Dispose();
    }

    [Fact]
    public async Task Token_GroupNamedLikeTheProject_GivesItsMembersTheConfiguredRole()
    {
        string alice = await _server.TokenAsync("alice", "AlicePass1", "repository:lab/app:pull,push", "repository:infra/app:pull");
        string carol = await _server.TokenAsync("carol", "CarolPass1", "repository:lab/app:pull,push");

        var access = WharfServer.AccessOf(alice);
        Assert.Equal(["pull", "push"], access["repository:lab/app"].Order(StringComparer.Ordinal));
        Assert.False(access.ContainsKey("repository:infra/app"));
        Assert.Empty(WharfServer.AccessOf(carol));
    }

    [Fact]
    public async Task Token_NestedGroup_CountsThroughAMemberSearch()
    {
        // bob is in Ops, which is a member of Infra; this slapd has no memberOf overlay.
        string token = await _server.TokenAsync("bob", "BobPass12", "repository:infra/app:pull,push");

        Assert.Equal(["pull", "push"], WharfServer.AccessOf(token)["repository:infra/app"].Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Token_RemovedFromTheGroup_LosesAccessAtTheNextToken()
    {
        Assert.NotEmpty(WharfServer.AccessOf(await _server.TokenAsync("alice", "AlicePass1", "repository:lab/app:pull")));

        _slapd.Modify("""
            dn: cn=Lab,ou=groups,dc=wharf,dc=test
            changetype: modify
            delete: member
            member: uid=alice,ou=people,dc=wharf,dc=test

            """);

        Assert.Empty(WharfServer.AccessOf(await _server.TokenAsync("alice", "AlicePass1", "repository:lab/app:pull")));
    }

    [Fact]
    public async Task Token_AddedToTheGroup_GainsAccessWithoutAnAdmin()
    {
        Assert.Empty(WharfServer.AccessOf(await _server.TokenAsync("dave", "DavePass12", "repository:lab/app:pull")));

        _slapd.Modify("""
            dn: cn=Lab,ou=groups,dc=wharf,dc=test
            changetype: modify
            add: member
            member: uid=dave,ou=people,dc=wharf,dc=test

            """);

        Assert.NotEmpty(WharfServer.AccessOf(await _server.TokenAsync("dave", "DavePass12", "repository:lab/app:pull")));
    }

    [Fact]
    public async Task MemberGroup_ByDn_GivesTheRoleAndIsListedAsEntityTypeG()
    {
        using var admin = _server.Admin();
        using (var add = await admin.PostAsJsonAsync(new Uri("api/v2.0/projects/tools/members", UriKind.Relative), new
        {
            role_id = 4,
            member_group = new { group_name = "ops", ldap_group_dn = "cn=Ops,ou=groups,dc=wharf,dc=test", group_type = 1 },
        }))
        {
            Assert.Equal(HttpStatusCode.Created, add.StatusCode);
        }

        admin.DefaultRequestHeaders.Add("X-Is-Resource-Name", "true");
        using var list = JsonDocument.Parse(await admin.GetStringAsync(new Uri("api/v2.0/projects/tools/members", UriKind.Relative)));
        var group = list.RootElement.EnumerateArray().Single(m => m.GetProperty("entity_type").GetString() == "g");
        Assert.Equal("ops", group.GetProperty("entity_name").GetString());
        Assert.Equal(4, group.GetProperty("role_id").GetInt32());

        string bob = await _server.TokenAsync("bob", "BobPass12", "repository:tools/app:pull,push,delete");
        Assert.Equal(["delete", "pull", "push"], WharfServer.AccessOf(bob)["repository:tools/app"].Order(StringComparer.Ordinal));
        Assert.Empty(WharfServer.AccessOf(await _server.TokenAsync("alice", "AlicePass1", "repository:tools/app:pull")));

        // Removing the group member removes the access.
        long mid = group.GetProperty("id").GetInt64();
        using (var remove = await admin.DeleteAsync(new Uri($"api/v2.0/projects/tools/members/{mid}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, remove.StatusCode);
        }

        Assert.Empty(WharfServer.AccessOf(await _server.TokenAsync("bob", "BobPass12", "repository:tools/app:pull")));
    }

    [Fact]
    public async Task UserGroups_Crud_AndAGroupMemberById()
    {
        using var admin = _server.Admin();
        using (var create = await admin.PostAsJsonAsync(new Uri("api/v2.0/usergroups", UriKind.Relative), new { group_name = "lab-team", group_type = 1, ldap_group_dn = "cn=Lab,ou=groups,dc=wharf,dc=test" }))
        {
            Assert.Equal(HttpStatusCode.Created, create.StatusCode);
        }

        using (var duplicate = await admin.PostAsJsonAsync(new Uri("api/v2.0/usergroups", UriKind.Relative), new { group_type = 1, ldap_group_dn = "CN=Lab, ou=groups,dc=wharf,dc=test" }))
        {
            Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        }

        using (var http = await admin.PostAsJsonAsync(new Uri("api/v2.0/usergroups", UriKind.Relative), new { group_name = "x", group_type = 2 }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, http.StatusCode);
        }

        using var list = JsonDocument.Parse(await admin.GetStringAsync(new Uri("api/v2.0/usergroups", UriKind.Relative)));
        var group = Assert.Single(list.RootElement.EnumerateArray());
        long id = group.GetProperty("id").GetInt64();
        Assert.Equal("lab-team", group.GetProperty("group_name").GetString());

        using (var rename = await admin.PutAsJsonAsync(new Uri($"api/v2.0/usergroups/{id}", UriKind.Relative), new { group_name = "lab people" }))
        {
            Assert.Equal(HttpStatusCode.OK, rename.StatusCode);
        }

        using (var add = await admin.PostAsJsonAsync(new Uri("api/v2.0/projects/tools/members", UriKind.Relative), new { role_id = 3, member_group = new { id } }))
        {
            Assert.Equal(HttpStatusCode.Created, add.StatusCode);
        }

        Assert.Equal(["pull"], WharfServer.AccessOf(await _server.TokenAsync("alice", "AlicePass1", "repository:tools/app:pull,push"))["repository:tools/app"]);

        using (var delete = await admin.DeleteAsync(new Uri($"api/v2.0/usergroups/{id}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, delete.StatusCode);
        }

        Assert.Empty(WharfServer.AccessOf(await _server.TokenAsync("alice", "AlicePass1", "repository:tools/app:pull")));
        using var missing = await admin.GetAsync(new Uri($"api/v2.0/usergroups/{id}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task DirectoryStopped_CachedGroupsKeepServingForTheWindowThenNot()
    {
        using var client = _server.Client();
        using var login = await client.PostAsync(new Uri("service/token", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = "alice", ["password"] = "AlicePass1", ["access_type"] = "offline",
            ["service"] = "wharf-registry", ["client_id"] = "test", ["scope"] = "repository:lab/app:pull",
        }));
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        string refresh = JsonDocument.Parse(await login.Content.ReadAsStringAsync()).RootElement.GetProperty("refresh_token").GetString()!;

        _slapd.Stop();
        _server.Clock.Advance(TimeSpan.FromMinutes(50));
        Assert.NotEmpty(WharfServer.AccessOf(await RefreshAsync(client, refresh)));

        _server.Clock.Advance(TimeSpan.FromMinutes(11));
        Assert.Empty(WharfServer.AccessOf(await RefreshAsync(client, refresh)));
    }

    private static async Task<string> RefreshAsync(HttpClient client, string refresh)
    {
        using var response = await client.PostAsync(new Uri("service/token", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = refresh, ["service"] = "wharf-registry", ["client_id"] = "test", ["scope"] = "repository:lab/app:pull",
        }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("access_token").GetString()!;
    }
}
