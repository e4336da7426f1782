using Wharf.Registry.Projects;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Interop;

/// <summary>Real podman against the registry core behind token auth: login, push, pull, refusals, search.</summary>
public sealed class PodmanTokenFlowTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private WharfServer _server = null!;
    private Podman _podman = null!;
    private string _host = "";

    public async Task InitializeAsync()
    {
        Assert.True(Podman.IsInstalled, "podman is not installed (test.sh installs it when run as root)");
        _server = await WharfServer.StartAsync();
        _host = _server.BaseAddress.Authority;
        _podman = new Podman();
        await _server.CreateProjectAsync("lab");
        await _server.CreateUserAsync("dev");
        await _server.CreateUserAsync("viewer");
        await _server.CreateUserAsync("stranger");
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);
        await _server.AddMemberAsync("lab", "viewer", ProjectRole.Guest);
        await _podman.ImportTinyImageAsync("localhost/tiny:1", "hello from wharf\n");
    }

    public async Task DisposeAsync()
    {
        _podman?.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Podman_DeveloperPushesGuestPulls_GuestPushAndStrangerPullAreRefused()
    {
        string image = $"{_host}/lab/tiny:1";
        await Ok("login", "--tls-verify=false", "-u", "dev", "-p", "Passw0rdX", _host);
        await Ok("tag", "localhost/tiny:1", image);
        await Ok("push", "--tls-verify=false", image);
        await Ok("rmi", image);

        await Ok("logout", _host);
        await Ok("login", "--tls-verify=false", "-u", "viewer", "-p", "Passw0rdX", _host);
        await Ok("pull", "--tls-verify=false", image);

        var guestPush = await _podman.RunAsync("push", "--tls-verify=false", image, $"{_host}/lab/tiny:guest");
        output.WriteLine("guest push: " + guestPush);
        Assert.NotEqual(0, guestPush.ExitCode);
        Assert.Contains("denied", guestPush.Stderr, StringComparison.OrdinalIgnoreCase);

        await Ok("logout", _host);
        await Ok("login", "--tls-verify=false", "-u", "stranger", "-p", "Passw0rdX", _host);
        var strangerPull = await _podman.RunAsync("pull", "--tls-verify=false", $"{_host}/lab/tiny:1");
        output.WriteLine("stranger pull: " + strangerPull);
        Assert.NotEqual(0, strangerPull.ExitCode);
        // 401 insufficient_scope, as for a repository that does not exist: the hint is to log in.
        Assert.Contains("unauthorized: pull access to lab/tiny denied: the repository does not exist or needs a login", strangerPull.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Podman_LoginWithWrongPassword_IsRefused()
    {
        var result = await _podman.RunAsync("login", "--tls-verify=false", "-u", "dev", "-p", "wrong", _host);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("invalid username/password", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Podman_PushIntoMissingProject_IsRefused()
    {
        await Ok("login", "--tls-verify=false", "-u", "admin", "-p", WharfServer.AdminPassword, _host);
        await Ok("tag", "localhost/tiny:1", $"{_host}/nosuch/tiny:1");

        var result = await _podman.RunAsync("push", "--tls-verify=false", $"{_host}/nosuch/tiny:1");
        output.WriteLine("push into missing project: " + result);

        Assert.NotEqual(0, result.ExitCode);
        // The first request (HEAD of a layer) is already answered 401 insufficient_scope, as Harbor does.
        Assert.Contains("exists in " + _host + "/nosuch/tiny", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("denied: requested access to the resource is denied", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Podman_Search_ShowsMembersTheirPrivateRepositoriesAndStrangersNothing()
    {
        string image = $"{_host}/lab/tiny:1";
        await Ok("login", "--tls-verify=false", "-u", "dev", "-p", "Passw0rdX", _host);
        await Ok("tag", "localhost/tiny:1", image);
        await Ok("push", "--tls-verify=false", image);

        await Ok("logout", _host);
        await Ok("login", "--tls-verify=false", "-u", "viewer", "-p", "Passw0rdX", _host);
        var member = await Ok("search", "--tls-verify=false", $"{_host}/tiny");
        output.WriteLine("member search: " + member);
        Assert.Contains($"{_host}/lab/tiny", member.Stdout, StringComparison.Ordinal);

        await Ok("logout", _host);
        await Ok("login", "--tls-verify=false", "-u", "stranger", "-p", "Passw0rdX", _host);
        var stranger = await Ok("search", "--tls-verify=false", $"{_host}/tiny");
        output.WriteLine("stranger search: " + stranger);
        Assert.DoesNotContain("lab/tiny", stranger.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Podman_RobotWithPush_PushesAndPullOnlyRobotCannot()
    {
        var (_, pusher, pusherSecret) = await _server.CreateRobotAsync("lab", "ci", 30, "pull", "push");
        var (_, reader, readerSecret) = await _server.CreateRobotAsync("lab", "reader", -1, "pull");
        string image = $"{_host}/lab/tiny:robot";
        await Ok("tag", "localhost/tiny:1", image);

        await Ok("login", "--tls-verify=false", "-u", pusher, "-p", pusherSecret, _host);
        await Ok("push", "--tls-verify=false", image);

        await Ok("logout", _host);
        await Ok("login", "--tls-verify=false", "-u", reader, "-p", readerSecret, _host);
        await Ok("pull", "--tls-verify=false", image);
        var refused = await _podman.RunAsync("push", "--tls-verify=false", image, $"{_host}/lab/tiny:reader");
        output.WriteLine("pull-only robot push: " + refused);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("denied", refused.Stderr, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Podman_PushOverTheProjectQuota_IsRefused()
    {
        using (var admin = _server.Admin())
        {
            using var project = System.Text.Json.JsonDocument.Parse(await admin.GetStringAsync("api/v2.0/projects/lab"));
            long id = project.RootElement.GetProperty("project_id").GetInt64();
            using var set = await admin.PutAsync($"api/v2.0/quotas/{id}", new StringContent("{\"hard\":{\"storage\":100}}", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(System.Net.HttpStatusCode.OK, set.StatusCode);
        }

        string image = $"{_host}/lab/tiny:big";
        await Ok("login", "--tls-verify=false", "-u", "dev", "-p", "Passw0rdX", _host);
        await Ok("tag", "localhost/tiny:1", image);

        var result = await _podman.RunAsync("push", "--tls-verify=false", image);
        output.WriteLine("push over quota: " + result);

        // Refused at the first blob that does not fit, before any manifest: layers count once committed.
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("quota exceeded", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Podman_Search_ListsExactlyWhatEachCallerMayPull()
    {
        await _server.CreateProjectAsync("open", isPublic: true);
        await _server.CreateProjectAsync("secret");
        using (var admin = _server.Admin())
        {
            foreach (string repository in new[] { "lab/gpu-train", "lab/tools/gpu-bench", "open/gpu-base", "secret/gpu-hidden", "lab/cpu-only" })
            {
                await Images.PushImageAsync(admin, repository, "v1", System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
            }
        }

        await Ok("login", "--tls-verify=false", "-u", "viewer", "-p", "Passw0rdX", _host);
        var member = await Ok("search", "--tls-verify=false", "--limit", "100", "--format", "{{.Name}}", $"{_host}/gpu");
        output.WriteLine("member search: " + member);
        Assert.Equal(
            new[] { $"{_host}/lab/gpu-train", $"{_host}/lab/tools/gpu-bench", $"{_host}/open/gpu-base" }.Order(StringComparer.Ordinal),
            member.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal));

        await Ok("logout", _host);
        await Ok("login", "--tls-verify=false", "-u", "stranger", "-p", "Passw0rdX", _host);
        var stranger = await Ok("search", "--tls-verify=false", "--limit", "100", "--format", "{{.Name}}", $"{_host}/gpu");
        output.WriteLine("stranger search: " + stranger);
        Assert.Equal([$"{_host}/open/gpu-base"], stranger.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    private async Task<ProcessResult> Ok(params string[] args)
    {
        var result = await _podman.RunAsync(args);
        Assert.True(result.ExitCode == 0, $"podman {string.Join(' ', args)}: {result}");
        return result;
    }
}
