using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Ldap;

/// <summary>
/// The seed's login step against wharfd in ldap_auth mode: real podman and skopeo log in with directory
/// passwords; a member of the project's group pushes with nobody adding them, a non-member is refused,
/// and leaving the group ends the access at the next token.
/// </summary>
public sealed class LdapInteropTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private Slapd _slapd = null!;
    private WharfServer _server = null!;
    private Podman _podman = null!;
    private string _host = "";

    public async Task InitializeAsync()
    {
        Assert.True(Podman.IsInstalled, "podman is not installed (test.sh installs it when run as root)");
        Assert.True(Skopeo.IsInstalled, "skopeo is not installed (test.sh installs it when run as root)");
        _slapd = Slapd.Start();
        _server = await WharfServer.StartAsync(_slapd.Settings(groupProjectRole: 2, refreshSeconds: 0));
        _host = _server.BaseAddress.Authority;
        await _server.CreateProjectAsync("lab");
        _podman = new Podman();
        await _podman.ImportTinyImageAsync("localhost/tiny:1", "hello from the directory\n");
    }

    public async Task DisposeAsync()
    {
        _podman?.Dispose();
        await _server.DisposeAsync();
        _slapd.Dispose();
    }

    [Fact]
    public async Task Podman_GroupMemberPushesWithDirectoryPassword_NonMemberIsRefused_LeavingTheGroupEndsIt()
    {
        string image = $"{_host}/lab/tiny:1";
        await Ok("login", "--tls-verify=false", "-u", "alice", "-p", "AlicePass1", _host);
        await Ok("tag", "localhost/tiny:1", image);
        await Ok("push", "--tls-verify=false", image);

        await Ok("logout", _host);
        await Ok("login", "--tls-verify=false", "-u", "carol", "-p", "CarolPass1", _host);
        var carolPush = await _podman.RunAsync("push", "--tls-verify=false", image, $"{_host}/lab/tiny:carol");
        output.WriteLine("non-member push: " + carolPush);
        Assert.NotEqual(0, carolPush.ExitCode);

        _slapd.Modify("""
            dn: cn=Lab,ou=groups,dc=wharf,dc=test
            changetype: modify
            delete: member
            member: uid=alice,ou=people,dc=wharf,dc=test

            """);
        await Ok("logout", _host);
        await Ok("login", "--tls-verify=false", "-u", "alice", "-p", "AlicePass1", _host);
        var afterLeaving = await _podman.RunAsync("push", "--tls-verify=false", image, $"{_host}/lab/tiny:2");
        output.WriteLine("push after leaving the group: " + afterLeaving);
        Assert.NotEqual(0, afterLeaving.ExitCode);
    }

    [Fact]
    public async Task Podman_WrongDirectoryPassword_IsRefused()
    {
        var result = await _podman.RunAsync("login", "--tls-verify=false", "-u", "alice", "-p", "NotHers123", _host);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("invalid username/password", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Skopeo_DirectoryLogin_CopiesIntoTheGroupsProject()
    {
        using var skopeo = new Skopeo();
        await _server.SeedImageAsync("lab/base");
        string authFile = await skopeo.LoginAsync(_host, "erin", "ErinPass12");

        var copy = await skopeo.RunAsync(authFile, "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
            $"docker://{_host}/lab/base:latest", $"docker://{_host}/lab/copy:latest");

        Assert.True(copy.ExitCode == 0, copy.ToString());
    }

    private async Task Ok(params string[] args)
    {
        var result = await _podman.RunAsync(args);
        Assert.True(result.ExitCode == 0, $"podman {string.Join(' ', args)}: {result}");
    }
}
