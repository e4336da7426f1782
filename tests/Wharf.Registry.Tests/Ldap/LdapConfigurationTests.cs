using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Ldap;

/// <summary>Harbor's /configurations, /ldap/ping and the directory searches; LDAPS with a test CA; the directory's health.</summary>
public sealed class LdapConfigurationTests : IAsyncLifetime
{
    private Slapd _slapd = null!;
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _slapd = Slapd.Start();
        _server = await WharfServer.StartAsync(); // db_auth: switched over the API by the tests
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _slapd.Dispose();
    }

    private Dictionary<string, object?> LdapsBody(string? caFile) => new Dictionary<string, object?>
    {
        ["auth_mode"] = "ldap_auth",
        ["ldap_url"] = _slapd.LdapsUrl,
        ["ldap_ca_file"] = caFile ?? "",
        ["ldap_search_dn"] = Slapd.ReaderDn,
        ["ldap_search_password"] = Slapd.ReaderPassword,
        ["ldap_base_dn"] = "ou=people," + Slapd.BaseDn,
        ["ldap_filter"] = "(objectClass=inetOrgPerson)",
        ["ldap_uid"] = "uid",
        ["ldap_scope"] = 2,
        ["ldap_group_base_dn"] = "ou=groups," + Slapd.BaseDn,
    };

    [Fact]
    public async Task PutConfigurations_Ldaps_LoginWorksAndGetMasksThePassword()
    {
        using var admin = _server.Admin();
        using (var put = await admin.PutAsJsonAsync(new Uri("api/v2.0/configurations", UriKind.Relative), LdapsBody(_slapd.CaFile)))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var config = JsonDocument.Parse(await admin.GetStringAsync(new Uri("api/v2.0/configurations", UriKind.Relative)));
        Assert.Equal("ldap_auth", config.RootElement.GetProperty("auth_mode").GetProperty("value").GetString());
        Assert.True(config.RootElement.GetProperty("auth_mode").GetProperty("editable").GetBoolean());
        Assert.Equal(2, config.RootElement.GetProperty("ldap_scope").GetProperty("value").GetInt32());
        Assert.Equal("********", config.RootElement.GetProperty("ldap_search_password").GetProperty("value").GetString());
        Assert.DoesNotContain(Slapd.ReaderPassword, config.RootElement.GetRawText(), StringComparison.Ordinal);

        // Sending the masked settings back (as a settings form does) keeps the stored password.
        var masked = config.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetProperty("value"));
        using (var putBack = await admin.PutAsJsonAsync(new Uri("api/v2.0/configurations", UriKind.Relative), masked))
        {
            Assert.Equal(HttpStatusCode.OK, putBack.StatusCode);
        }

        using var token = await _server.RequestTokenAsync("alice", "AlicePass1");
        Assert.Equal(HttpStatusCode.OK, token.StatusCode);

        using var info = JsonDocument.Parse(await admin.GetStringAsync(new Uri("api/v2.0/systeminfo", UriKind.Relative)));
        Assert.Equal("ldap_auth", info.RootElement.GetProperty("auth_mode").GetString());
    }

    [Fact]
    public async Task PutConfigurations_VerifyCertFalseOverTls_Is400SayingWhyAndWhatToDo_AndChangesNothing()
    {
        // The library on Linux can skip the certificate check only for the whole process, so the setting is
        // refused where it would matter (LDAPS, StartTLS) instead of being taken and then failing every login.
        var body = LdapsBody(null);
        body["ldap_verify_cert"] = false;
        using var admin = _server.Admin();
        using (var put = await admin.PutAsJsonAsync(new Uri("api/v2.0/configurations", UriKind.Relative), body))
        {
            Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
            string message = await put.Content.ReadAsStringAsync();
            Assert.Contains("ldap_verify_cert=false cannot be honoured", message, StringComparison.Ordinal);
            Assert.Contains("for one connection", message, StringComparison.Ordinal);
            Assert.Contains("ldap_ca_file", message, StringComparison.Ordinal);
        }

        using var config = JsonDocument.Parse(await admin.GetStringAsync(new Uri("api/v2.0/configurations", UriKind.Relative)));
        Assert.Equal("db_auth", config.RootElement.GetProperty("auth_mode").GetProperty("value").GetString());

        // "Test the directory settings" with the same keys says the same.
        using (var ping = await admin.PostAsJsonAsync(new Uri("api/v2.0/ldap/ping", UriKind.Relative), body))
        {
            Assert.Equal(HttpStatusCode.BadRequest, ping.StatusCode);
            Assert.Contains("ldap_ca_file", await ping.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Over plain LDAP (allowed explicitly) there is no certificate: false changes nothing and is taken, as Harbor does.
        body["ldap_url"] = _slapd.Url;
        body["ldap_allow_insecure"] = true;
        using (var plain = await admin.PutAsJsonAsync(new Uri("api/v2.0/configurations", UriKind.Relative), body))
        {
            Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        }

        using var token = await _server.RequestTokenAsync("alice", "AlicePass1");
        Assert.Equal(HttpStatusCode.OK, token.StatusCode);
    }

    [Fact]
    public async Task Settings_PersistAcrossARestart()
    {
        using (var admin = _server.Admin())
        using (var put = await admin.PutAsJsonAsync(new Uri("api/v2.0/configurations", UriKind.Relative), LdapsBody(_slapd.CaFile)))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        await _server.RestartAsync();

        using var token = await _server.RequestTokenAsync("alice", "AlicePass1");
        Assert.Equal(HttpStatusCode.OK, token.StatusCode);
    }

    [Fact]
    public async Task Ldaps_WithoutTheTestCa_FailsClosedAsUntrusted()
    {
        using var admin = _server.Admin();
        using (var put = await admin.PutAsJsonAsync(new Uri("api/v2.0/configurations", UriKind.Relative), LdapsBody(null)))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var token = await _server.RequestTokenAsync("alice", "AlicePass1");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, token.StatusCode);
    }

    [Fact]
    public async Task PutConfigurations_PlainLdapWithoutAllowInsecure_Is400AndChangesNothing()
    {
        using var admin = _server.Admin();
        using var put = await admin.PutAsJsonAsync(new Uri("api/v2.0/configurations", UriKind.Relative), new Dictionary<string, object>
        {
            ["auth_mode"] = "ldap_auth", ["ldap_url"] = _slapd.Url, ["ldap_base_dn"] = Slapd.BaseDn,
        });

        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
        Assert.Contains("ldap_allow_insecure", await put.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var config = JsonDocument.Parse(await admin.GetStringAsync(new Uri("api/v2.0/configurations", UriKind.Relative)));
        Assert.Equal("db_auth", config.RootElement.GetProperty("auth_mode").GetProperty("value").GetString());
        Assert.Equal("", config.RootElement.GetProperty("ldap_url").GetProperty("value").GetString());
    }

    [Theory]
    [InlineData("""{"auth_mode":"oidc_auth"}""", "auth_mode")]
    [InlineData("""{"ldap_scope":"2"}""", "ldap_scope")]
    [InlineData("""{"ldap_scope":7}""", "ldap_scope")]
    [InlineData("""{"no_such_key":"x"}""", "no_such_key")]
    [InlineData("""{"ldap_group_project_role":9}""", "ldap_group_project_role")]
    public async Task PutConfigurations_BadValue_Is400NamingTheKey(string body, string key)
    {
        using var admin = _server.Admin();
        using var put = await admin.PutAsync(new Uri("api/v2.0/configurations", UriKind.Relative), new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
        Assert.Contains(key, await put.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Configurations_NonAdmin_IsForbidden()
    {
        await _server.CreateUserAsync("dev");
        using var dev = _server.Client("dev", WharfEndpoint.UserPassword);
        using var get = await dev.GetAsync(new Uri("api/v2.0/configurations", UriKind.Relative));
        using var put = await dev.PutAsJsonAsync(new Uri("api/v2.0/configurations", UriKind.Relative), new { auth_mode = "ldap_auth" });

        Assert.Equal(HttpStatusCode.Forbidden, get.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, put.StatusCode);
    }

    [Fact]
    public async Task LdapPing_GoodSettingsInTheBody_Succeeds()
    {
        using var admin = _server.Admin();
        using var ping = await admin.PostAsJsonAsync(new Uri("api/v2.0/ldap/ping", UriKind.Relative), LdapsBody(_slapd.CaFile));
        Assert.Equal(HttpStatusCode.OK, ping.StatusCode);
    }

    [Theory]
    [InlineData("ldap_search_password", "WrongPass1", "service account")]
    [InlineData("ldap_filter", "(objectClass=posixAccount)", "no user")]
    [InlineData("ldap_url", "ldaps://127.0.0.1:1", "cannot be reached")]
    public async Task LdapPing_BadSetting_SaysWhatIsWrong(string key, string value, string expected)
    {
        var body = (Dictionary<string, object?>)LdapsBody(_slapd.CaFile);
        body[key] = value;
        using var admin = _server.Admin();
        using var ping = await admin.PostAsJsonAsync(new Uri("api/v2.0/ldap/ping", UriKind.Relative), body);

        Assert.Equal(HttpStatusCode.BadRequest, ping.StatusCode);
        Assert.Contains(expected, await ping.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task LdapSearch_UsersAndGroups_AnswerFromTheDirectory()
    {
        using var admin = _server.Admin();
        using (var put = await admin.PutAsJsonAsync(new Uri("api/v2.0/configurations", UriKind.Relative), LdapsBody(_slapd.CaFile)))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var users = JsonDocument.Parse(await admin.GetStringAsync(new Uri("api/v2.0/ldap/users/search?username=ali", UriKind.Relative)));
        var alice = Assert.Single(users.RootElement.EnumerateArray());
        Assert.Equal("alice", alice.GetProperty("username").GetString());
        Assert.Equal("uid=alice,ou=people,dc=wharf,dc=test", alice.GetProperty("ldap_dn").GetString());

        using var groups = JsonDocument.Parse(await admin.GetStringAsync(new Uri("api/v2.0/ldap/groups/search?groupname=inf", UriKind.Relative)));
        var infra = Assert.Single(groups.RootElement.EnumerateArray());
        Assert.Equal("Infra", infra.GetProperty("group_name").GetString());
        Assert.Equal(1, infra.GetProperty("group_type").GetInt32());
    }

    [Fact]
    public async Task Health_ReportsTheDirectory_WithoutMakingTheRegistryUnhealthy()
    {
        using var admin = _server.Admin();
        using (var put = await admin.PutAsJsonAsync(new Uri("api/v2.0/configurations", UriKind.Relative), LdapsBody(_slapd.CaFile)))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        Assert.Equal("healthy", await DirectoryStatusAsync());
        Assert.Equal("ok\ndirectory: healthy\n", await HealthzAsync());
        _slapd.Stop();
        Assert.Equal("unhealthy", await DirectoryStatusAsync());
        string healthz = await HealthzAsync();
        Assert.StartsWith("ok\ndirectory: unhealthy: ", healthz, StringComparison.Ordinal);

        async Task<string> HealthzAsync()
        {
            using var client = _server.Client();
            using var response = await client.GetAsync(new Uri("healthz", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await response.Content.ReadAsStringAsync();
        }

        async Task<string?> DirectoryStatusAsync()
        {
            using var client = _server.Client();
            using var response = await client.GetAsync(new Uri("api/v2.0/health", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var health = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal("healthy", health.RootElement.GetProperty("status").GetString());
            return health.RootElement.GetProperty("components").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "ldap").GetProperty("status").GetString();
        }
    }
}
