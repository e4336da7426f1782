namespace Wharf.Cli.Tests.Images;

/// <summary>
/// The seed's login step with wharf against wharfd (the real process) in ldap_auth mode, over a private slapd
/// (<see cref="Slapd"/>): the directory password logs in and writes podman's auth.json, a member of the project's
/// group pushes and pulls with nobody adding them, a wrong password gets podman's words and exit code, and
/// logout removes the login.
/// </summary>
[Collection("registry")]
public sealed class DirectoryLoginTests(RegistryFixture registry) : IAsyncLifetime
{
    private Slapd? _slapd;
    private WharfdProcess? _wharfd;

    private WharfdProcess Wharfd => _wharfd ?? throw new InvalidOperationException("wharfd did not start");

    public async Task InitializeAsync()
    {
        _slapd = Slapd.Start();

        // Registry:Configurations:… as environment variables, the way a deployment would hand them over.
        var environment = _slapd.Settings(groupProjectRole: 2)
            .ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value ?? "");
        _wharfd = await WharfdProcess.StartAsync(new WharfdOptions { Environment = environment });
        await _wharfd.CreateProjectAsync("lab"); // private; the directory's group Lab (alice, erin) makes its members developers
    }

    public async Task DisposeAsync()
    {
        if (_wharfd is not null)
        {
            await _wharfd.DisposeAsync();
        }

        _slapd?.Dispose();
    }

    [Fact]
    public void Login_DirectoryPassword_AuthJsonAsPodmans_GroupMemberPushesAndPulls_LogoutEndsIt()
    {
        using var wharf = new WharfRunner();
        string host = Wharfd.Host;
        Assert.Equal(0, wharf.Run("pull", "-q", "--tls-verify=false", $"{registry.Open}/lab/fixture:1").ExitCode);

        var login = wharf.Run("login", "--tls-verify=false", "-u", "alice", "-p", "AlicePass1", host);
        Assert.Equal(0, login.ExitCode);
        Assert.Equal("Login Succeeded!\n", login.Stdout);
        string podmanAuth = Path.Combine(wharf.Dir, "podman-auth.json");
        RegistryFixture.PodmanAt(Path.Combine(wharf.Dir, "podman"), "login", "--tls-verify=false", "--authfile", podmanAuth, "-u", "alice", "-p", "AlicePass1", host);
        Assert.Equal(File.ReadAllBytes(podmanAuth), File.ReadAllBytes(wharf.AuthJson));
        Assert.Equal("alice\n", wharf.Run("login", "--get-login", host).Stdout);

        var push = wharf.Run("push", "--tls-verify=false", "fixture:1", $"{host}/lab/app:1");
        Assert.True(push.ExitCode == 0, push.Stderr);
        Assert.Equal(0, wharf.Run("rmi", "-a").ExitCode);
        var pull = wharf.Run("pull", "-q", "--tls-verify=false", $"{host}/lab/app:1");
        Assert.True(pull.ExitCode == 0, pull.Stderr);
        Assert.Equal(registry.ImageId + "\n", pull.Stdout);

        var logout = wharf.Run("logout", host);
        Assert.Equal($"Removed login credentials for {host}\n", logout.Stdout);
        Assert.Equal($"Removed login credentials for {host}\n", RegistryFixture.PodmanAt(Path.Combine(wharf.Dir, "podman"), "logout", "--authfile", podmanAuth, host));
        Assert.Equal(File.ReadAllBytes(podmanAuth), File.ReadAllBytes(wharf.AuthJson));

        // Logged out, the private project is out of reach again.
        Assert.Equal(0, wharf.Run("rmi", "-a").ExitCode);
        Assert.Equal(125, wharf.Run("pull", "-q", "--tls-verify=false", $"{host}/lab/app:1").ExitCode);
    }

    [Fact]
    public void Login_NonMember_LogsInButCannotPushToTheGroupsProject()
    {
        using var wharf = new WharfRunner();
        string host = Wharfd.Host;
        Assert.Equal(0, wharf.Run("pull", "-q", "--tls-verify=false", $"{registry.Open}/lab/fixture:1").ExitCode);

        Assert.Equal("Login Succeeded!\n", wharf.Run("login", "--tls-verify=false", "-u", "carol", "-p", "CarolPass1", host).Stdout);
        var push = wharf.Run("push", "--tls-verify=false", "fixture:1", $"{host}/lab/app:carol");

        Assert.Equal(125, push.ExitCode);
    }

    [Fact]
    public void Login_WrongDirectoryPassword_PodmansErrorAndExitCode_NothingStored()
    {
        using var wharf = new WharfRunner();
        string host = Wharfd.Host;
        string podmanAuth = Path.Combine(wharf.Dir, "podman-auth.json");
        string podmanStore = Path.Combine(wharf.Dir, "podman");

        var ours = wharf.Run("login", "--tls-verify=false", "-u", "alice", "-p", "NotHers123", host);
        var podmans = Tools.Run("podman", "--root", Path.Combine(podmanStore, "storage"), "--runroot", Path.Combine(podmanStore, "run"), "--tmpdir", Path.Combine(podmanStore, "tmp"),
            "--storage-driver", "vfs", "login", "--tls-verify=false", "--authfile", podmanAuth, "-u", "alice", "-p", "NotHers123", host);

        Assert.Equal(125, podmans.ExitCode);
        Assert.Equal($"Error: logging into \"{host}\": invalid username/password\n", podmans.Stderr);
        Assert.Equal(podmans.ExitCode, ours.ExitCode);
        Assert.Equal(podmans.Stderr, ours.Stderr);
        Assert.Equal("", ours.Stdout);
        Assert.False(File.Exists(wharf.AuthJson));
    }
}
