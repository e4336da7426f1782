namespace Wharf.Cli.Tests.Images;

[Collection("registry")]
public class LoginTests(RegistryFixture registry)
{
    [Fact]
    public void Login_BasicAuthRegistry_AuthJsonByteIdenticalToPodmans()
    {
        using var wharf = new WharfRunner();
        string podmanAuth = Path.Combine(wharf.Dir, "podman-auth.json");

        var result = wharf.Run("login", "--tls-verify=false", "-u", "alice", "-p", "s3cret", registry.Auth);
        registry.Podman("login", "--tls-verify=false", "--authfile", podmanAuth, "-u", "alice", "-p", "s3cret", registry.Auth);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("Login Succeeded!\n", result.Stdout);
        Assert.Equal(File.ReadAllBytes(podmanAuth), File.ReadAllBytes(wharf.AuthJson));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(wharf.AuthJson));
        Assert.Equal("alice\n", wharf.Run("login", "--get-login", registry.Auth).Stdout);
    }

    [Fact]
    public void Login_WrongPassword_PodmansErrorAndNothingStored()
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run("login", "--tls-verify=false", "-u", "alice", "-p", "wrong", registry.Auth);

        Assert.Equal(125, result.ExitCode);
        Assert.Equal($"Error: logging into \"{registry.Auth}\": invalid username/password\n", result.Stderr);
        Assert.False(File.Exists(wharf.AuthJson));
    }

    [Fact]
    public void Login_PasswordStdin_ThenPushAndPullWithStoredCredentials()
    {
        using var wharf = new WharfRunner();
        Assert.Equal(0, wharf.RunWithInput("s3cret\n", "login", "--tls-verify=false", "-u", "alice", "--password-stdin", registry.Auth).ExitCode);
        wharf.Run("pull", "-q", "--tls-verify=false", $"{registry.Open}/lab/fixture:1");

        var push = wharf.Run("push", "--tls-verify=false", $"{registry.Open}/lab/fixture:1", $"{registry.Auth}/lab/private:1");
        Assert.Equal(0, push.ExitCode);
        Assert.Equal(0, wharf.Run("rmi", "-a").ExitCode);
        var pull = wharf.Run("pull", "-q", "--tls-verify=false", $"{registry.Auth}/lab/private:1");

        Assert.Equal(0, pull.ExitCode);
        Assert.Equal(registry.ImageId + "\n", pull.Stdout);
    }

    [Fact]
    public void Login_NoFlags_PromptsForUsernameAndPassword()
    {
        using var wharf = new WharfRunner();

        var result = wharf.RunWithInput("alice\ns3cret\n", "login", "--tls-verify=false", registry.Auth);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("Username: Password: Login Succeeded!\n", result.Stdout);
        Assert.Equal("alice\n", wharf.Run("login", "--get-login", registry.Auth).Stdout);
    }

    [Fact]
    public void Login_GetLoginNotLoggedIn_PodmansError()
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run("login", "--get-login", registry.Auth);

        Assert.Equal(125, result.ExitCode);
        Assert.Equal($"Error: not logged into {registry.Auth}\n", result.Stderr);
    }

    [Fact]
    public void PushPull_CredsFlag_NoAuthFileNeeded()
    {
        using var wharf = new WharfRunner();
        wharf.Run("pull", "-q", "--tls-verify=false", $"{registry.Open}/lab/fixture:1");

        var push = wharf.Run("push", "--tls-verify=false", "--creds", "alice:s3cret", "fixture:1", $"{registry.Auth}/lab/creds:1");
        var pull = wharf.Run("pull", "-q", "--tls-verify=false", "--creds", "alice:s3cret", $"{registry.Auth}/lab/creds:1");

        Assert.Equal(0, push.ExitCode);
        Assert.Equal(registry.ImageId + "\n", pull.Stdout);
        Assert.False(File.Exists(wharf.AuthJson));
    }

    [Fact]
    public void Pull_PlainHttpRegistryWithTlsVerify_PodmansHttpsError()
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run("pull", $"{registry.Open}/lab/fixture:1");

        Assert.Equal(125, result.ExitCode);
        Assert.Equal(
            $"Error: initializing source docker://{registry.Open}/lab/fixture:1: pinging container registry {registry.Open}: Get \"https://{registry.Open}/v2/\": http: server gave HTTP response to HTTPS client",
            result.ErrLines[^1]);
    }

    [Fact]
    public void Pull_AuthRegistryWithoutLogin_Fails125()
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run("pull", "--tls-verify=false", $"{registry.Auth}/lab/private:1");

        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith("Error: initializing source docker://", result.ErrLines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void Logout_LoggedInThenAgain_PodmansMessages()
    {
        using var wharf = new WharfRunner();
        wharf.Run("login", "--tls-verify=false", "-u", "alice", "-p", "s3cret", registry.Auth);

        Assert.Equal($"Removed login credentials for {registry.Auth}\n", wharf.Run("logout", registry.Auth).Stdout);
        var again = wharf.Run("logout", registry.Auth);
        Assert.Equal(125, again.ExitCode);
        Assert.Equal($"Error: not logged into {registry.Auth}\n", again.Stderr);
        Assert.Equal("{\n\t\"auths\": {}\n}", File.ReadAllText(wharf.AuthJson));
    }

    [Fact]
    public void Search_CatalogFallback_ListsMatchingRepositories()
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run("search", "--tls-verify=false", $"{registry.Open}/fixture");
        var tags = wharf.Run("search", "--tls-verify=false", "--list-tags", $"{registry.Open}/lab/fixture");
        var none = wharf.Run("search", "--tls-verify=false", $"{registry.Open}/NOPE");

        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("NAME", result.Stdout, StringComparison.Ordinal);
        Assert.Contains($"{registry.Open}/lab/fixture", result.Stdout, StringComparison.Ordinal);
        Assert.Contains($"{registry.Open}/lab/fixture  1", tags.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, none.ExitCode);
        Assert.Empty(none.Stdout);
    }
}
