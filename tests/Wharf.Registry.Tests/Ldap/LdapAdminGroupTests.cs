using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Registry.Data;
using Wharf.Registry.Tests.Portal;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Ldap;

/// <summary>
/// ldap_group_admin_dn: its members are system admins while the directory says so (Harbor's "admin role in
/// auth"), re-evaluated whenever their groups are read again; the local sysadmin flag and the break-glass
/// <c>admin</c> are not touched by it.
/// </summary>
public sealed class LdapAdminGroupTests : IAsyncLifetime
{
    private const string AdminsDn = "cn=Admins,ou=groups,dc=wharf,dc=test";

    private Slapd _slapd = null!;
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _slapd = Slapd.Start();
        var settings = _slapd.Settings(groupProjectRole: 0, refreshSeconds: 60);
        settings["Registry:Configurations:ldap_group_admin_dn"] = AdminsDn;
        _server = await WharfServer.StartAsync(settings);
        await _server.CreateProjectAsync("tools");
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _slapd.Dispose();
    }

    [Fact]
    public async Task AdminGroupMember_IsAdminWhileInTheGroup_AndLosesItAtTheNextReadAfterLeaving()
    {
        // erin is in Admins and in no group that reaches "tools": only the admin role lets her push there.
        Assert.Contains("push", WharfServer.AccessOf(await _server.TokenAsync("erin", "ErinPass12", "repository:tools/app:push"))["repository:tools/app"]);
        string refresh = await RefreshTokenAsync("erin", "ErinPass12");
        using (var erin = _server.Client("erin", "ErinPass12"))
        {
            using var me = JsonDocument.Parse(await erin.GetStringAsync(new Uri("api/v2.0/users/current", UriKind.Relative)));
            Assert.True(me.RootElement.GetProperty("admin_role_in_auth").GetBoolean());
            Assert.False(me.RootElement.GetProperty("sysadmin_flag").GetBoolean()); // never written into the local flag
            using var users = await erin.GetAsync(new Uri("api/v2.0/users", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, users.StatusCode);
        }

        LeaveAdmins("erin");

        // Within ldap_group_refresh_seconds the groups read at login still count, as for project groups.
        Assert.NotEmpty(WharfServer.AccessOf(await RefreshAsync(refresh, "repository:tools/app:push")));

        // A token request after the refresh interval reads her groups again: no admin role any more.
        _server.Clock.Advance(TimeSpan.FromSeconds(61));
        Assert.Empty(WharfServer.AccessOf(await RefreshAsync(refresh, "repository:tools/app:push")));
        Assert.Empty(WharfServer.AccessOf(await _server.TokenAsync("erin", "ErinPass12", "repository:tools/app:push")));
        using (var erin = _server.Client("erin", "ErinPass12"))
        {
            using var users = await erin.GetAsync(new Uri("api/v2.0/users", UriKind.Relative));
            Assert.Equal(HttpStatusCode.Forbidden, users.StatusCode);
            using var me = JsonDocument.Parse(await erin.GetStringAsync(new Uri("api/v2.0/users/current", UriKind.Relative)));
            Assert.False(me.RootElement.GetProperty("admin_role_in_auth").GetBoolean());
        }
    }

    [Fact]
    public async Task Portal_AdminGroupMember_OpensAdminPagesWhileInTheGroup_AndNotAfterLeaving()
    {
        using var erin = new PortalClient(_server.BaseAddress);
        using (var signIn = await erin.SignInAsync("erin", "ErinPass12"))
        {
            Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await erin.GetAsync("/portal/admin/directory")).Status);
        Assert.Contains("through the directory", (await erin.GetAsync("/portal/account")).Html, StringComparison.Ordinal);

        LeaveAdmins("erin");
        _server.Clock.Advance(TimeSpan.FromSeconds(61));

        // The same session: the groups are read again when the page is asked for.
        Assert.Equal(HttpStatusCode.Forbidden, (await erin.GetAsync("/portal/admin/directory")).Status);
    }

    [Fact]
    public async Task AdminGroupMember_JoiningTheGroup_IsAdminAtTheNextTokenWithoutAnAdmin()
    {
        string refresh = await RefreshTokenAsync("carol", "CarolPass1");
        Assert.Empty(WharfServer.AccessOf(await RefreshAsync(refresh, "repository:tools/app:push")));

        _slapd.Modify($"""
            dn: {AdminsDn}
            changetype: modify
            add: member
            member: uid=carol,ou=people,dc=wharf,dc=test

            """);
        _server.Clock.Advance(TimeSpan.FromSeconds(61));

        Assert.NotEmpty(WharfServer.AccessOf(await RefreshAsync(refresh, "repository:tools/app:push")));
    }

    [Fact]
    public async Task LocalSysAdminFlag_OfADirectoryAccount_StaysWithoutTheAdminGroup_AndTheBreakGlassAdminStaysAdmin()
    {
        // alice is in no admin group; an admin makes her a system admin by hand.
        Assert.Empty(WharfServer.AccessOf(await _server.TokenAsync("alice", "AlicePass1", "repository:tools/app:push")));
        using var admin = _server.Admin();
        using var found = JsonDocument.Parse(await admin.GetStringAsync(new Uri("api/v2.0/users?username=alice", UriKind.Relative)));
        long id = found.RootElement[0].GetProperty("user_id").GetInt64();
        using (var grant = await admin.PutAsJsonAsync(new Uri($"api/v2.0/users/{id}/sysadmin", UriKind.Relative), new { sysadmin_flag = true }))
        {
            Assert.Equal(HttpStatusCode.OK, grant.StatusCode);
        }

        _server.Clock.Advance(TimeSpan.FromSeconds(61));
        Assert.NotEmpty(WharfServer.AccessOf(await _server.TokenAsync("alice", "AlicePass1", "repository:tools/app:push")));

        // The directory going away takes no admin role from the local admin.
        _slapd.Stop();
        _server.Clock.Advance(TimeSpan.FromHours(2));
        Assert.NotEmpty(WharfServer.AccessOf(await _server.TokenAsync("admin", WharfServer.AdminPassword, "repository:tools/app:push")));
    }

    [Fact]
    public async Task AdminGroupMember_DirectoryDown_KeepsTheRoleForTheCacheWindowThenNot()
    {
        string refresh = await RefreshTokenAsync("erin", "ErinPass12");
        _slapd.Stop();

        _server.Clock.Advance(TimeSpan.FromMinutes(50));
        Assert.NotEmpty(WharfServer.AccessOf(await RefreshAsync(refresh, "repository:tools/app:push")));

        _server.Clock.Advance(TimeSpan.FromMinutes(11));
        Assert.Empty(WharfServer.AccessOf(await RefreshAsync(refresh, "repository:tools/app:push")));
    }

    [Fact]
    public async Task Migration12_MovesEarlierAdminGroupGrantsOffTheLocalFlag_AndKeepsOtherAdmins()
    {
        // A database as the previous version left it: bob was made admin through the admin group (stored
        // as users.sysadmin), dave is a directory account an admin promoted by hand, root a local admin.
        using var directory = new TempDirectory();
        string? url = WharfServer.OnPostgreSql ? await WharfServer.PostgreSqlDatabaseAsync(directory.Path) : null;
        using (var before = RegistryDatabase.Create(url, directory.Path, [.. Migrations.All.Where(m => m.Version <= 11)]))
        {
            await using var c = await before.OpenAsync(CancellationToken.None);
            foreach (string sql in new[]
            {
                "INSERT INTO users (id, username, sysadmin, creation_time, update_time) VALUES (21, 'bob', 1, 0, 0), (22, 'dave', 1, 0, 0), (23, 'root', 1, 0, 0);",
                "INSERT INTO directory_users (user_id, dn, groups, groups_read_at) VALUES (21, 'uid=bob,ou=people,dc=wharf,dc=test', '', 0), (22, 'uid=dave,ou=people,dc=wharf,dc=test', '', 0);",
                "INSERT INTO directory_user_groups (user_id, group_dn, group_name) VALUES (21, 'cn=admins,ou=groups,dc=wharf,dc=test', 'Admins'), (22, 'cn=Lab,ou=groups,dc=wharf,dc=test', 'Lab');",
                "INSERT INTO configurations (key, value) VALUES ('ldap_group_admin_dn', 'CN=Admins, ou=groups, dc=wharf, dc=test');",
            })
            {
                await c.ExecuteAsync(sql, CancellationToken.None);
            }
        }

        using var after = RegistryDatabase.Create(url, directory.Path);
        await using var upgraded = await after.OpenAsync(CancellationToken.None);
        var flags = await upgraded.QueryAsync(
            "SELECT u.username, u.sysadmin, COALESCE(d.group_admin, -1) FROM users u LEFT JOIN directory_users d ON d.user_id = u.id WHERE u.id IN (21, 22, 23) ORDER BY u.id;",
            r => (r.GetString(0), r.GetInt64(1), r.GetInt64(2)), CancellationToken.None);
        Assert.Equal([("bob", 0L, 1L), ("dave", 1L, 0L), ("root", 1L, -1L)], flags);
    }

    // groupOfNames needs a member: the service account stands in while the last person leaves.
    private void LeaveAdmins(string uid) => _slapd.Modify($"""
        dn: {AdminsDn}
        changetype: modify
        add: member
        member: {Slapd.ReaderDn}
        -
        delete: member
        member: uid={uid},ou=people,dc=wharf,dc=test

        """);

    private async Task<string> RefreshTokenAsync(string username, string password)
    {
        using var client = _server.Client();
        using var login = await client.PostAsync(new Uri("service/token", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = username, ["password"] = password, ["access_type"] = "offline",
            ["service"] = "wharf-registry", ["client_id"] = "test",
        }));
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        return JsonDocument.Parse(await login.Content.ReadAsStringAsync()).RootElement.GetProperty("refresh_token").GetString()!;
    }

    private async Task<string> RefreshAsync(string refresh, string scope)
    {
        using var client = _server.Client();
        using var response = await client.PostAsync(new Uri("service/token", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = refresh, ["service"] = "wharf-registry", ["client_id"] = "test", ["scope"] = scope,
        }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("access_token").GetString()!;
    }
}
