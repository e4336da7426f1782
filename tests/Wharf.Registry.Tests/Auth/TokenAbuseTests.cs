using System.Buffers.Text;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Auth;

/// <summary>Tokens and accounts that must not open /v2 (with the token tests in TokenRegistryAuthorizerTests).</summary>
public sealed class TokenAbuseTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
        await _server.SeedImageAsync("lab/app");
        await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("none")]
    [InlineData("None")]
    [InlineData("HS256")]
    [InlineData("RS256")]
    public async Task V2_TokenWithAnotherAlgorithm_IsInvalidToken(string alg)
    {
        string token = await _server.TokenAsync("dev", "Passw0rdX", "repository:lab/app:pull");
        string[] parts = token.Split('.');
        var header = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(Base64Url.DecodeFromChars(parts[0]))!;
        header["alg"] = JsonSerializer.SerializeToElement(alg);
        string forgedHeader = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(header));

        // alg none carries no signature at all; the others keep the real ES256 signature bytes.
        foreach (string forged in new[] { $"{forgedHeader}.{parts[1]}.", $"{forgedHeader}.{parts[1]}.{parts[2]}" })
        {
            using var client = _server.Bearer(forged);
            using var response = await client.GetAsync("v2/lab/app/manifests/latest");

            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Contains("error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("de\0v")]
    [InlineData("dev\0")]
    [InlineData("robot$lab+c\0i")]
    public async Task Login_NameWithANul_Is401LikeAnUnknownName(string name)
    {
        using var token = await _server.RequestTokenAsync(name, "Passw0rdX", "repository:lab/app:pull");
        Assert.Equal(HttpStatusCode.Unauthorized, token.StatusCode);

        using var basic = _server.Client(name, "Passw0rdX");
        using var v2 = await basic.GetAsync("v2/lab/app/tags/list");
        Assert.Equal(HttpStatusCode.Unauthorized, v2.StatusCode);
    }

    [Fact]
    public async Task V2_UnsignedTokenWithFullAccess_IsRefused()
    {
        string header = Base64Url.EncodeToString(Encoding.UTF8.GetBytes("{\"alg\":\"none\",\"typ\":\"JWT\"}"));
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        string payload = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(
            $"{{\"iss\":\"wharf-token-issuer\",\"sub\":\"admin\",\"aud\":\"wharf-registry\",\"exp\":{now + 600},\"nbf\":{now - 10},\"iat\":{now},\"access\":[{{\"type\":\"repository\",\"name\":\"lab/app\",\"actions\":[\"pull\",\"push\",\"delete\"]}}]}}"));
        using var client = _server.Bearer($"{header}.{payload}.");

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.DeleteAsync("v2/lab/app/manifests/latest")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("v2/lab/app/manifests/latest")).StatusCode);
    }

    [Fact]
    public async Task V2_TokenForAnotherRepository_IsNotUsableHere()
    {
        await _server.SeedImageAsync("lab/other");
        using var client = _server.Bearer(await _server.TokenAsync("dev", "Passw0rdX", "repository:lab/other:pull,push"));

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v2/lab/other/manifests/latest")).StatusCode);
        using var response = await client.PutAsync("v2/lab/app/manifests/latest", new StringContent("{}"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("scope=\"repository:lab/app:pull,push\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeletedUser_TokenServiceBasicAndWiderScopes_AreRefused()
    {
        long id = await _server.CreateUserAsync("gone");
        await _server.AddMemberAsync("lab", "gone", ProjectRole.Developer);
        using var token = _server.Bearer(await _server.TokenAsync("gone", "Passw0rdX", "repository:lab/app:pull"));
        using var admin = _server.Admin();
        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync($"api/v2.0/users/{id}")).StatusCode);

        Assert.Equal(HttpStatusCode.Unauthorized, (await _server.RequestTokenAsync("gone", "Passw0rdX", "repository:lab/app:pull")).StatusCode);
        using var basic = _server.Client("gone", "Passw0rdX");
        Assert.Equal(HttpStatusCode.Unauthorized, (await basic.GetAsync("v2/lab/app/manifests/latest")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await token.PutAsync("v2/lab/app/manifests/latest", new StringContent("{}"))).StatusCode);
    }

    [Fact]
    public async Task DisabledRobot_TokenServiceBasicAndWiderScopes_AreRefused()
    {
        var (id, name, secret) = await _server.CreateRobotAsync("lab", "ci", -1, "pull", "push");
        using var token = _server.Bearer(await _server.TokenAsync(name, secret, "repository:lab/app:pull"));
        using var admin = _server.Admin();
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"api/v2.0/robots/{id}", new { disable = true })).StatusCode);

        Assert.Equal(HttpStatusCode.Unauthorized, (await _server.RequestTokenAsync(name, secret, "repository:lab/app:pull")).StatusCode);
        using var basic = _server.Client(name, secret);
        Assert.Equal(HttpStatusCode.Unauthorized, (await basic.GetAsync("v2/lab/app/manifests/latest")).StatusCode);

        // Its earlier token covered pull only; anything more asks the database, which no longer knows it.
        using var response = await token.PutAsync("v2/lab/app/manifests/latest", new StringContent("{}"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExpiredRobot_IsRefused()
    {
        var (_, name, secret) = await _server.CreateRobotAsync("lab", "short", 1, "pull");
        Assert.Equal(HttpStatusCode.OK, (await _server.RequestTokenAsync(name, secret, "repository:lab/app:pull")).StatusCode);

        _server.Clock.Advance(TimeSpan.FromDays(2));

        Assert.Equal(HttpStatusCode.Unauthorized, (await _server.RequestTokenAsync(name, secret, "repository:lab/app:pull")).StatusCode);
        using var basic = _server.Client(name, secret);
        Assert.Equal(HttpStatusCode.Unauthorized, (await basic.GetAsync("v2/lab/app/manifests/latest")).StatusCode);
    }
}
