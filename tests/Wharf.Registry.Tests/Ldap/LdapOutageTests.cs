using System.Net;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Ldap;

/// <summary>
/// Pulls through a directory outage: while slapd is down, a password the directory accepted within
/// ldap_group_cache_seconds (3 s here, on the server's clock) still logs in, with the cached group memberships;
/// a password never verified, another one, or one older than the window gets the 503 that says the directory
/// is down. The short-term credential memory (Registry:CredentialCacheLifetime) is 1 s here and the clock is
/// moved past it before each check, so every check below reaches the directory, or the outage path.
/// </summary>
public sealed class LdapOutageTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan PastCredentialCache = TimeSpan.FromSeconds(1.5);

    private Slapd _slapd = null!;
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _slapd = Slapd.Start();
        var settings = _slapd.Settings(groupProjectRole: 2, refreshSeconds: 0);
        settings["Registry:Configurations:ldap_group_cache_seconds"] = "3";
        settings["Registry:CredentialCacheLifetime"] = "00:00:01";
        settings["Registry:LoginFailuresPerAccount"] = "3";
        _server = await WharfServer.StartAsync(settings);
        await _server.CreateProjectAsync("lab");
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _slapd.Dispose();
    }

    [Fact]
    public async Task Token_DirectoryStopped_VerifiedPasswordKeepsTheCachedGroupsForTheWindowThenNot()
    {
        Assert.Equal(["pull", "push"], Access(await _server.TokenAsync("alice", "AlicePass1", "repository:lab/app:pull,push")));
        _slapd.Stop();
        _server.Clock.Advance(PastCredentialCache);

        Assert.Equal(["pull", "push"], Access(await _server.TokenAsync("alice", "AlicePass1", "repository:lab/app:pull,push")));
        await ExpectDirectoryDownAsync("alice", "NotHers123");
        await ExpectDirectoryDownAsync("carol", "CarolPass1"); // never logged in

        _server.Clock.Advance(TimeSpan.FromSeconds(2)); // 3.5 s since the directory last said yes
        await ExpectDirectoryDownAsync("alice", "AlicePass1");

        // Robots and the break-glass admin never needed the directory.
        using var admin = await _server.RequestTokenAsync("admin", WharfServer.AdminPassword);
        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
    }

    [Fact]
    public async Task Token_DirectoryStopped_OtherPasswordsForARememberedNameCountAsGuesses()
    {
        await _server.TokenAsync("alice", "AlicePass1", "repository:lab/app:pull");
        _slapd.Stop();
        _server.Clock.Advance(PastCredentialCache);

        // Refused as an outage, yet counted: with the limit (3) reached, even the right password waits.
        for (int i = 0; i < 3; i++)
        {
            await ExpectDirectoryDownAsync("alice", $"Guess{i}xyz");
        }

        using var locked = await _server.RequestTokenAsync("alice", "AlicePass1", "repository:lab/app:pull");
        Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);

        // A name nobody verified gets no such count: there is nothing to guess against.
        for (int i = 0; i < 4; i++)
        {
            await ExpectDirectoryDownAsync("bob", $"Guess{i}xyz");
        }
    }

    [Fact]
    public async Task Token_DirectoryBack_NormalChecksResume_PasswordChangedThereFails()
    {
        await _server.TokenAsync("alice", "AlicePass1", "repository:lab/app:pull");
        _slapd.Stop();
        _server.Clock.Advance(PastCredentialCache);
        Assert.Equal(["pull"], Access(await _server.TokenAsync("alice", "AlicePass1", "repository:lab/app:pull")));

        _slapd.Restart();
        _slapd.SetPassword("alice", "AliceNew12");
        _server.Clock.Advance(PastCredentialCache);
        using (var old = await _server.RequestTokenAsync("alice", "AlicePass1", "repository:lab/app:pull"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, old.StatusCode);
        }

        Assert.Equal(["pull"], Access(await _server.TokenAsync("alice", "AliceNew12", "repository:lab/app:pull")));

        // Down again: the new password is the one remembered, the old one is not.
        _slapd.Stop();
        _server.Clock.Advance(PastCredentialCache);
        await ExpectDirectoryDownAsync("alice", "AlicePass1");
        Assert.Equal(["pull"], Access(await _server.TokenAsync("alice", "AliceNew12", "repository:lab/app:pull")));
    }

    [Fact]
    public async Task Token_ServiceAccountRefused_IsNoOutage_RememberedPasswordsDoNotStandIn()
    {
        await _server.TokenAsync("alice", "AlicePass1", "repository:lab/app:pull");

        // The directory answers, but refuses wharf's service account: a settings problem, not an outage.
        _slapd.SetPassword("reader", "Rotated123", parent: Slapd.BaseDn);
        _server.Clock.Advance(PastCredentialCache);

        using var response = await _server.RequestTokenAsync("alice", "AlicePass1", "repository:lab/app:pull");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("service account", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Podman_PullsAPrivateGroupProjectThroughAnOutageWithItsStoredLogin()
    {
        Assert.True(Podman.IsInstalled, "podman is not installed (test.sh installs it when run as root)");
        using var podman = new Podman();
        string host = _server.BaseAddress.Authority;
        string image = $"{host}/lab/tiny:1";
        await podman.ImportTinyImageAsync("localhost/tiny:1", "pulled through an outage\n");
        await Ok(podman, "login", "--tls-verify=false", "-u", "alice", "-p", "AlicePass1", host);
        await Ok(podman, "tag", "localhost/tiny:1", image);
        await Ok(podman, "push", "--tls-verify=false", image);
        await Ok(podman, "rmi", image, "localhost/tiny:1");

        _slapd.Stop();
        _server.Clock.Advance(PastCredentialCache);

        // podman prints only the status of a refused token request (the body's words are checked above):
        // 503, not podman's "invalid username/password" of a 401.
        const string Refused = "Requesting bearer token: invalid status code from registry 503 (Service Unavailable)";

        // podman sends the stored username and password with each token request.
        await Ok(podman, "pull", "--tls-verify=false", image);
        await Ok(podman, "rmi", image);

        var wrong = await podman.RunAsync("login", "--tls-verify=false", "-u", "alice", "-p", "NotHers123", host);
        output.WriteLine("wrong password: " + wrong);
        Assert.NotEqual(0, wrong.ExitCode);
        Assert.Contains(Refused, wrong.Stderr, StringComparison.Ordinal);

        var stranger = await podman.RunAsync("pull", "--tls-verify=false", "--creds", "carol:CarolPass1", image);
        output.WriteLine("never logged in: " + stranger);
        Assert.NotEqual(0, stranger.ExitCode);
        Assert.Contains(Refused, stranger.Stderr, StringComparison.Ordinal);

        _server.Clock.Advance(TimeSpan.FromSeconds(2)); // past the 3 s window
        var late = await podman.RunAsync("pull", "--tls-verify=false", image);
        output.WriteLine("after the window: " + late);
        Assert.NotEqual(0, late.ExitCode);
        Assert.Contains(Refused, late.Stderr, StringComparison.Ordinal);
    }

    private async Task ExpectDirectoryDownAsync(string username, string password)
    {
        using var response = await _server.RequestTokenAsync(username, password, "repository:lab/app:pull");
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{username}: {(int)response.StatusCode} {body}");
        Assert.Contains("directory unavailable, password logins are refused until it answers", body, StringComparison.Ordinal);
    }

    private static string[] Access(string token) =>
        WharfServer.AccessOf(token).TryGetValue("repository:lab/app", out var actions) ? [.. actions.Order(StringComparer.Ordinal)] : [];

    private static async Task Ok(Podman podman, params string[] args)
    {
        var result = await podman.RunAsync(args);
        Assert.True(result.ExitCode == 0, $"podman {string.Join(' ', args)}: {result}");
    }
}
