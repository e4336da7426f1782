using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Registry.Projects;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Auth;

/// <summary>
/// A saved identity token (what docker login keeps in auth.json) used by real skopeo, which trades it
/// through the OAuth2 refresh_token grant: it pulls until the password changes, then it no longer does.
/// </summary>
public sealed class IdentityTokenInteropTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private WharfServer _server = null!;
    private Skopeo _skopeo = null!;
    private long _devId;

    public async Task InitializeAsync()
    {
        Assert.True(Skopeo.IsInstalled, "skopeo is not installed (test.sh installs it when run as root)");
        _server = await WharfServer.StartAsync();
        _skopeo = new Skopeo();
        await _server.CreateProjectAsync("lab");
        await _server.SeedImageAsync("lab/app");
        _devId = await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);
    }

    public async Task DisposeAsync()
    {
        _skopeo?.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Skopeo_SavedIdentityToken_PullsUntilThePasswordChanges()
    {
        string host = _server.BaseAddress.Authority;
        string authFile = Path.Combine(_skopeo.Scratch, "auth.json");
        // As docker writes it after a login that returned an identity token: the username without the password.
        var entry = new { auth = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("dev:")), identitytoken = await DockerLoginAsync() };
        await File.WriteAllTextAsync(authFile, JsonSerializer.Serialize(new { auths = new Dictionary<string, object> { [host] = entry } }));

        var before = await _skopeo.RunAsync(authFile, "inspect", "--raw", "--tls-verify=false", $"docker://{host}/lab/app:latest");
        output.WriteLine("before: " + before);
        Assert.True(before.ExitCode == 0, $"the identity token should pull: {before}");

        using (var self = _server.Client("dev", WharfEndpoint.UserPassword))
        {
            using var change = await self.PutAsJsonAsync($"api/v2.0/users/{_devId}/password", new { old_password = WharfEndpoint.UserPassword, new_password = "N3wPassword" });
            Assert.Equal(HttpStatusCode.OK, change.StatusCode);
        }

        var after = await _skopeo.RunAsync(authFile, "inspect", "--raw", "--tls-verify=false", $"docker://{host}/lab/app:latest");
        output.WriteLine("after: " + after);
        Assert.NotEqual(0, after.ExitCode);
        Assert.Contains("unauthorized", after.Stderr, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>docker login's exchange: GET with Basic and offline_token=true; the refresh token is what it saves.</summary>
    private async Task<string> DockerLoginAsync()
    {
        using var client = _server.Client("dev", WharfEndpoint.UserPassword);
        using var response = await client.GetAsync("service/token?service=wharf-registry&offline_token=true&client_id=docker");
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.OK);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("refresh_token").GetString()!;
    }
}
