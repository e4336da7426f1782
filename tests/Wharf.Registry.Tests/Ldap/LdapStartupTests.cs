using System.Net;
using System.Text.Json;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Ldap;

/// <summary>Settings checked at start; the group admin DN; an outage is no failed guess.</summary>
public sealed class LdapStartupTests : IDisposable
{
    private readonly Slapd _slapd = Slapd.Start();

    public void Dispose() => _slapd.Dispose();

    [Fact]
    public async Task Start_SettingsThatMakeNoSense_StopTheStartWithTheReason()
    {
        var settings = _slapd.Settings();
        settings["Registry:Configurations:ldap_allow_insecure"] = "false";

        var e = await Assert.ThrowsAnyAsync<Exception>(() => WharfServer.StartAsync(settings));

        Assert.Contains("ldap_allow_insecure", e.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_UnknownKey_StopsTheStartNamingIt()
    {
        var settings = _slapd.Settings();
        settings["Registry:Configurations:ldap_uid_attribute"] = "uid";

        var e = await Assert.ThrowsAnyAsync<Exception>(() => WharfServer.StartAsync(settings));

        Assert.Contains("ldap_uid_attribute", e.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_MemberOfTheAdminGroup_BecomesSystemAdmin()
    {
        var settings = _slapd.Settings();
        settings["Registry:Configurations:ldap_group_admin_dn"] = "cn=Admins,ou=groups,dc=wharf,dc=test";
        await using var server = await WharfServer.StartAsync(settings);

        Assert.False(await IsSysAdminAsync(server, "alice", "AlicePass1"));
        Assert.True(await IsSysAdminAsync(server, "erin", "ErinPass12"));
    }

    [Fact]
    public async Task Outage_RefusedLogins_DoNotCountAsWrongPasswords()
    {
        await using var server = await WharfServer.StartAsync(_slapd.Settings());
        _slapd.Stop();

        for (int i = 0; i < 12; i++)
        {
            using var response = await server.RequestTokenAsync("alice", "AlicePass1");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        }
    }

    // Through the directory's admin group: Harbor's admin_role_in_auth, never the stored sysadmin_flag (LdapAdminGroupTests).
    private static async Task<bool> IsSysAdminAsync(WharfServer server, string username, string password)
    {
        using var client = server.Client(username, password);
        using var me = JsonDocument.Parse(await client.GetStringAsync(new Uri("api/v2.0/users/current", UriKind.Relative)));
        Assert.False(me.RootElement.GetProperty("sysadmin_flag").GetBoolean());
        return me.RootElement.GetProperty("admin_role_in_auth").GetBoolean();
    }
}
