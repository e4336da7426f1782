using B64 = System.Buffers.Text.Base64Url;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Auth;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Auth;

/// <summary>A token signed with the registry's own key but with time claims of the wrong type is a 401, never a 500.</summary>
public sealed class TokenClaimTypeTests : IAsyncLifetime
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

    public static TheoryData<string, string, string> BadTimes => new()
    {
        { "\"{exp}\"", "{now}", "{now}" },          // exp as a string
        { "{exp}.5", "{now}", "{now}" },            // a fraction
        { "null", "{now}", "{now}" },
        { "true", "{now}", "{now}" },
        { "[{exp}]", "{now}", "{now}" },
        { "{\"s\":{exp}}", "{now}", "{now}" },
        { "9223372036854775807", "{now}", "{now}" }, // beyond any date
        { "-9223372036854775808", "{now}", "{now}" },
        { "1e300", "{now}", "{now}" },
        { "{exp}", "\"{now}\"", "{now}" },          // nbf as a string
        { "{exp}", "9223372036854775807", "{now}" },
        { "{exp}", "{now}", "\"{now}\"" },          // iat as a string
        { "{exp}", "{now}", "{}" },
    };

    [Theory]
    [MemberData(nameof(BadTimes))]
    public async Task V2_SignedTokenWithWrongTypedTimeClaim_Is401(string exp, string nbf, string iat)
    {
        long now = _server.Clock.GetUtcNow().ToUnixTimeSeconds();
        string Fill(string s) => s.Replace("{exp}", (now + 600).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{now}", now.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        string payload = $"{{\"iss\":\"wharf-token-issuer\",\"sub\":\"dev\",\"aud\":\"wharf-registry\",\"exp\":{Fill(exp)},\"nbf\":{Fill(nbf)},\"iat\":{Fill(iat)},"
            + "\"access\":[{\"type\":\"repository\",\"name\":\"lab/app\",\"actions\":[\"pull\"]}]}";
        using var client = _server.Bearer(Sign(payload));

        using var response = await client.GetAsync("v2/lab/app/manifests/latest");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task V2_SignedTokenWithNumericClaims_IsAccepted()
    {
        // The same forging as above with proper numbers works, so the 401s above are about the types.
        long now = _server.Clock.GetUtcNow().ToUnixTimeSeconds();
        string payload = $"{{\"iss\":\"wharf-token-issuer\",\"sub\":\"dev\",\"aud\":\"wharf-registry\",\"exp\":{now + 600},\"nbf\":{now},\"iat\":{now},"
            + "\"access\":[{\"type\":\"repository\",\"name\":\"lab/app\",\"actions\":[\"pull\"]}]}";
        using var client = _server.Bearer(Sign(payload));

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v2/lab/app/manifests/latest")).StatusCode);
    }

    [Fact]
    public async Task RefreshGrant_WithWrongTypedExpiry_Is401()
    {
        long now = _server.Clock.GetUtcNow().ToUnixTimeSeconds();
        string payload = $"{{\"iss\":\"wharf-token-issuer\",\"sub\":\"dev\",\"aud\":\"wharf-registry\",\"exp\":\"{now + 600}\",\"access\":[{{\"type\":\"refresh\",\"name\":\"user:2:0\",\"actions\":[\"refresh\"]}}]}}";
        using var client = _server.Client();

        using var response = await client.PostAsync("service/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token",
            ["refresh_token"] = Sign(payload),
        }));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    private string Sign(string payload)
    {
        var key = _server.Services.GetRequiredService<TokenSigningKey>();
        string header = B64.EncodeToString(Encoding.UTF8.GetBytes($"{{\"typ\":\"JWT\",\"alg\":\"ES256\",\"kid\":\"{key.KeyId}\"}}"));
        string input = header + "." + B64.EncodeToString(Encoding.UTF8.GetBytes(payload));
        byte[] signature = key.Key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return input + "." + B64.EncodeToString(signature);
    }
}
