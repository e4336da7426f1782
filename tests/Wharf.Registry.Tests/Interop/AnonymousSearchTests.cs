using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Interop;

/// <summary>Real podman without a login: <c>podman search</c> finds public repositories and nothing private.</summary>
public sealed class AnonymousSearchTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private WharfServer _server = null!;
    private Podman _podman = null!;
    private string _host = "";

    // podman insists that its auth file exists; an empty one is "not logged in anywhere".
    private readonly string _authFile = Path.Combine(Path.GetTempPath(), $"wharf-anon-{Guid.NewGuid():N}.json");

    public async Task InitializeAsync()
    {
        Assert.True(Podman.IsInstalled, "podman is not installed (test.sh installs it when run as root)");
        _server = await WharfServer.StartAsync();
        _host = _server.BaseAddress.Authority;
        _podman = new Podman();
        await File.WriteAllTextAsync(_authFile, "{\"auths\":{}}");
        await _server.CreateProjectAsync("open", isPublic: true);
        await _server.CreateProjectAsync("secret");
        using var admin = _server.Admin();
        foreach (string repository in new[] { "open/gpu-base", "open/tools/gpu-bench", "secret/gpu-hidden", "open/cpu-only" })
        {
            await Images.PushImageAsync(admin, repository, "v1", System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        }
    }

    public async Task DisposeAsync()
    {
        _podman?.Dispose();
        File.Delete(_authFile);
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task PodmanSearch_WithoutLogin_ListsPublicRepositoriesOnly()
    {
        var result = await _podman.RunAsync("search", "--authfile", _authFile, "--tls-verify=false", "--limit", "100", "--format", "{{.Name}}", $"{_host}/gpu");
        output.WriteLine("anonymous search: " + result);

        Assert.True(result.ExitCode == 0, $"podman search: {result}");
        Assert.Equal(
            new[] { $"{_host}/open/gpu-base", $"{_host}/open/tools/gpu-bench" },
            result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal));
    }
}

/// <summary>Docker's v1 search without credentials (what <c>docker search</c> sends when not logged in) lists public repositories.</summary>
public sealed class AnonymousV1SearchTests : IAsyncLifetime
{
    private const string Docker = "docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8.0 os/linux arch/amd64 UpstreamClient(Docker-Client/27.3.1 \\(linux\\))";

    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("open", isPublic: true);
        await _server.CreateProjectAsync("secret");
        await _server.SeedImageAsync("open/alpine");
        await _server.SeedImageAsync("secret/alpine-plans");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task V1Search_DockerWithoutCredentials_ListsPublicRepositoriesOnly()
    {
        using var client = _server.Client();
        client.DefaultRequestHeaders.TryAddWithoutValidation("User-Agent", Docker);

        using var response = await client.GetAsync("v1/search?q=alpine&n=25");

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        using var body = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(["open/alpine"], body.RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("name").GetString()));
        Assert.Equal(1, body.RootElement.GetProperty("num_results").GetInt32());
    }

    [Fact]
    public async Task V1Search_WrongCredentials_StillChallenged()
    {
        using var client = _server.Client("nobody", "wrong");
        client.DefaultRequestHeaders.TryAddWithoutValidation("User-Agent", Docker);

        using var response = await client.GetAsync("v1/search?q=alpine");

        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData("containers/5.23.1 (github.com/containers/image)")]
    [InlineData("wharf/1.0")]
    public async Task V1Search_ClientsThatNeverSendCredentialsHere_AreChallengedSoTheyUseTheCatalogWithTheirLogin(string userAgent)
    {
        using var client = _server.Client();
        client.DefaultRequestHeaders.TryAddWithoutValidation("User-Agent", userAgent);

        using var response = await client.GetAsync("v1/search?q=alpine");

        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
