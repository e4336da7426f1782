using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Ldap;

/// <summary>ldap_auth: passwords checked by binding to a real OpenLDAP, accounts made from the entry, the local admin as break-glass.</summary>
public sealed class LdapLoginTests : IAsyncLifetime
{
    private Slapd _slapd = null!;
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _slapd = Slapd.Start();
        _server = await WharfServer.StartAsync(_slapd.Settings());
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _slapd.Dispose();
    }

    [Fact]
    public async Task Token_DirectoryPassword_CreatesTheAccountFromTheEntry()
    {
        using (var response = await _server.RequestTokenAsync("alice", "AlicePass1"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using var client = _server.Client("alice", "AlicePass1");
        using var me = JsonDocument.Parse(await client.GetStringAsync(new Uri("api/v2.0/users/current", UriKind.Relative)));
        Assert.Equal("alice", me.RootElement.GetProperty("username").GetString());
        Assert.Equal("alice@wharf.test", me.RootElement.GetProperty("email").GetString());
        Assert.Equal("Alice Example", me.RootElement.GetProperty("realname").GetString());
    }

    [Fact]
    public async Task Token_WrongDirectoryPassword_Is401AndNoAccountIsMade()
    {
        using var response = await _server.RequestTokenAsync("alice", "NotHerPassword1");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);

        using var admin = _server.Admin();
        string users = await admin.GetStringAsync(new Uri("api/v2.0/users?username=alice", UriKind.Relative));
        Assert.Equal("[]", users);
    }

    [Fact]
    public async Task Token_EmptyPassword_IsRefusedEvenThoughLdapAllowsUnauthenticatedBinds()
    {
        using var response = await _server.RequestTokenAsync("alice", "");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData("al*")]
    [InlineData("*")]
    [InlineData("alice)(uid=*")]
    public async Task Token_FilterCharactersInTheUsername_AreEscapedNotMatched(string username)
    {
        using var response = await _server.RequestTokenAsync(username, "AlicePass1");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Token_FilterExcludesTheEntry_IsRefused()
    {
        // cn=reader is a person but not an inetOrgPerson, and not under ou=people: the filter and base keep it out.
        using var response = await _server.RequestTokenAsync("reader", Slapd.ReaderPassword);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Token_WrongDirectoryPasswords_AreThrottledLikeLocalOnes()
    {
        for (int i = 0; i < 10; i++)
        {
            using var wrong = await _server.RequestTokenAsync("bob", "Wrong" + i);
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using var locked = await _server.RequestTokenAsync("bob", "BobPass12");
        Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
    }

    [Fact]
    public async Task LocalAdmin_KeepsWorkingAsBreakGlass_WhileLocalUsersDoNot()
    {
        using (var admin = await _server.RequestTokenAsync("admin", WharfServer.AdminPassword))
        {
            Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
        }

        // An account made locally before the switch has no directory entry: its local password no longer counts.
        await _server.CreateUserAsync("localonly");
        using var local = await _server.RequestTokenAsync("localonly", WharfEndpoint.UserPassword);
        Assert.Equal(HttpStatusCode.Unauthorized, local.StatusCode);
    }

    [Fact]
    public async Task ApiBasic_DirectoryPassword_Works()
    {
        using var client = _server.Client("carol", "CarolPass1");
        using var response = await client.GetAsync(new Uri("api/v2.0/users/current", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Token_DirectoryStopped_FailsClosedWith503SayingSo()
    {
        _slapd.Stop();

        using var response = await _server.RequestTokenAsync("alice", "AlicePass1");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        string body = await response.Content.ReadAsStringAsync();
        Assert.Contains("directory unavailable", body, StringComparison.Ordinal);

        // The break-glass account does not need the directory.
        using var admin = await _server.RequestTokenAsync("admin", WharfServer.AdminPassword);
        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
    }

    [Fact]
    public async Task Robot_WorksWithTheDirectoryStopped()
    {
        await _server.CreateProjectAsync("lab");
        var robot = await _server.CreateRobotAsync("lab", "ci", -1, "pull", "push");
        _slapd.Stop();

        string token = await _server.TokenAsync(robot.Name, robot.Secret, "repository:lab/app:pull,push");

        Assert.Equal(["pull", "push"], WharfServer.AccessOf(token)["repository:lab/app"].Order(StringComparer.Ordinal));
    }
}
