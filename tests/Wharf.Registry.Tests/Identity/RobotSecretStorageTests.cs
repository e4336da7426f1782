using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Identity;

/// <summary>Robot secrets are stored as bcrypt; unsalted SHA-256 hashes of earlier versions still work and are rewritten on first use.</summary>
public sealed class RobotSecretStorageTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task CreatedAndRefreshedSecrets_AreSaltedBcrypt()
    {
        var (id, _, _) = await _server.CreateRobotAsync("lab", "ci", 30, "pull");
        var (other, _, _) = await _server.CreateRobotAsync("lab", "cd", 30, "pull");
        var robots = _server.Services.GetRequiredService<IRobotStore>();
        using var admin = _server.Admin();
        using var same = await admin.PatchAsync($"api/v2.0/robots/{other}", System.Net.Http.Json.JsonContent.Create(new { secret = "Same1Secret" }));
        using var again = await admin.PatchAsync($"api/v2.0/robots/{id}", System.Net.Http.Json.JsonContent.Create(new { secret = "Same1Secret" }));
        Assert.Equal(HttpStatusCode.OK, same.StatusCode);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);

        string? first = await robots.GetSecretHashAsync(id, CancellationToken.None);
        string? second = await robots.GetSecretHashAsync(other, CancellationToken.None);

        Assert.StartsWith("$2", first, StringComparison.Ordinal);
        Assert.StartsWith("$2", second, StringComparison.Ordinal);
        Assert.NotEqual(first, second); // the same secret, two salts
    }

    [Fact]
    public async Task LegacySha256Secret_StillLogsIn_AndIsRewrittenAsBcrypt()
    {
        var (id, name, _) = await _server.CreateRobotAsync("lab", "old", 30, "pull");
        var robots = _server.Services.GetRequiredService<IRobotStore>();
        const string secret = "Legacy1SecretValue";
        string legacy = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
        await robots.SetSecretHashAsync(id, legacy, CancellationToken.None);

        Assert.Equal(HttpStatusCode.Unauthorized, (await _server.RequestTokenAsync(name, "Wrong1Secret")).StatusCode);
        Assert.Equal(legacy, await robots.GetSecretHashAsync(id, CancellationToken.None));
        Assert.Equal(HttpStatusCode.OK, (await _server.RequestTokenAsync(name, secret)).StatusCode);

        string? upgraded = await robots.GetSecretHashAsync(id, CancellationToken.None);
        Assert.StartsWith("$2", upgraded, StringComparison.Ordinal);
        Assert.True(Wharf.Registry.Identity.PasswordHasher.Verify(secret, upgraded));
        _server.Clock.Advance(TimeSpan.FromMinutes(1)); // past the credential cache: the bcrypt hash itself is checked
        Assert.Equal(HttpStatusCode.OK, (await _server.RequestTokenAsync(name, secret)).StatusCode);
    }
}
