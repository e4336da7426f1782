using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Oci;
using Wharf.Registry.Auth;
using Wharf.Registry.Identity;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Auth;

public sealed class TokenRegistryAuthorizerTests : IAsyncLifetime
{
    private WharfServer _server = null!;
    private PushedImage _image = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
        await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);
        _image = await _server.SeedImageAsync("lab/app");
        await _server.SeedImageAsync("lab/other");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task V2_NoCredentials_ChallengesWithRealmServiceAndScope()
    {
        using var client = _server.Client();

        using var ping = await client.GetAsync("v2/");
        using var pull = await client.GetAsync("v2/lab/app/manifests/latest");

        Assert.Equal(HttpStatusCode.Unauthorized, ping.StatusCode);
        Assert.Equal($"Bearer realm=\"{_server.BaseAddress}service/token\",service=\"wharf-registry\"", ping.Headers.WwwAuthenticate.ToString());
        Assert.Equal(HttpStatusCode.Unauthorized, pull.StatusCode);
        Assert.Equal(
            $"Bearer realm=\"{_server.BaseAddress}service/token\",service=\"wharf-registry\",scope=\"repository:lab/app:pull\"",
            pull.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task V2_ValidToken_IsAllowed()
    {
        using var client = _server.Bearer(await _server.TokenAsync("dev", "Passw0rdX", "repository:lab/app:pull,push"));

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v2/")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v2/lab/app/manifests/latest")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await RegistryPush.PutManifestAsync(client, "lab/app", "latest", _image.Body, MediaTypes.OciManifest)).StatusCode);
    }

    [Fact]
    public async Task V2_TamperedSignature_IsInvalidToken()
    {
        string token = await _server.TokenAsync("dev", "Passw0rdX", "repository:lab/app:pull");
        string[] parts = token.Split('.');
        char[] signature = parts[2].ToCharArray();
        signature[5] = signature[5] == 'A' ? 'B' : 'A';
        using var client = _server.Bearer($"{parts[0]}.{parts[1]}.{new string(signature)}");

        using var response = await client.GetAsync("v2/lab/app/manifests/latest");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task V2_TokenWithWidenedClaims_IsRejected()
    {
        // Re-encoding the payload with more access keeps the old signature, which no longer matches.
        string token = await _server.TokenAsync("dev", "Passw0rdX", "repository:lab/app:pull");
        string[] parts = token.Split('.');
        string payload = System.Text.Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1]))
            .Replace("[\"pull\"]", "[\"pull\",\"push\",\"delete\"]", StringComparison.Ordinal);
        string forged = $"{parts[0]}.{System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.UTF8.GetBytes(payload))}.{parts[2]}";
        using var client = _server.Bearer(forged);

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.DeleteAsync("v2/lab/app/manifests/latest")).StatusCode);
    }

    [Fact]
    public async Task V2_TokenSignedByAnotherKey_IsRejected()
    {
        string otherDirectory = Path.Combine(Path.GetTempPath(), "wharf-auth-key-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var otherKey = TokenSigningKey.LoadOrCreate(otherDirectory);
            var options = _server.Services.GetRequiredService<IdentityOptions>();
            string token = new RegistryTokens(otherKey, options, TimeProvider.System).Issue("dev", [new GrantedAccess("repository", "lab/app", ["pull"])]).Token;
            using var client = _server.Bearer(token);

            Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("v2/lab/app/manifests/latest")).StatusCode);
        }
        finally
        {
            Directory.Delete(otherDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task V2_ExpiredToken_IsInvalidToken()
    {
        string token = await _server.TokenAsync("dev", "Passw0rdX", "repository:lab/app:pull");
        using var client = _server.Bearer(token);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v2/lab/app/manifests/latest")).StatusCode);

        _server.Clock.Advance(TimeSpan.FromMinutes(31));

        using var response = await client.GetAsync("v2/lab/app/manifests/latest");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task V2_WrongAudience_IsInvalidToken()
    {
        var key = _server.Services.GetRequiredService<TokenSigningKey>();
        var options = _server.Services.GetRequiredService<IdentityOptions>();
        var otherService = new IdentityOptions { TokenIssuer = options.TokenIssuer, TokenService = "another-registry", TokenLifetime = options.TokenLifetime };
        string token = new RegistryTokens(key, otherService, _server.Clock).Issue("dev", [new GrantedAccess("repository", "lab/app", ["pull"])]).Token;
        using var client = _server.Bearer(token);

        using var response = await client.GetAsync("v2/lab/app/manifests/latest");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task V2_TokenForAnotherRepository_AsksForAWiderToken()
    {
        using var client = _server.Bearer(await _server.TokenAsync("dev", "Passw0rdX", "repository:lab/app:pull"));

        using var response = await client.GetAsync("v2/lab/other/manifests/latest");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        string challenge = response.Headers.WwwAuthenticate.ToString();
        Assert.Contains("scope=\"repository:lab/other:pull\"", challenge, StringComparison.Ordinal);
        Assert.Contains("error=\"insufficient_scope\"", challenge, StringComparison.Ordinal);
    }

    [Fact]
    public async Task V2_DeveloperTokenUsedToDelete_IsDenied()
    {
        using var client = _server.Bearer(await _server.TokenAsync("dev", "Passw0rdX", "repository:lab/app:pull,push,delete"));

        using var response = await client.DeleteAsync("v2/lab/app/manifests/latest");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("DENIED", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task V2_PrivateRepositoryForOutsider_AnswersExactlyLikeAMissingOne()
    {
        await _server.CreateUserAsync("stranger");
        await _server.CreateProjectAsync("open", isPublic: true);
        using var client = _server.Bearer(await _server.TokenAsync("stranger", "Passw0rdX", "repository:lab/app:pull", "repository:open/nothing:pull", "repository:nosuch/app:pull"));

        using var hidden = await client.GetAsync("v2/lab/app/manifests/latest");
        using var missingRepository = await client.GetAsync("v2/open/nothing/manifests/latest");
        using var missingProject = await client.GetAsync("v2/nosuch/app/manifests/latest");

        // A public project's missing repository may be said missing: the stranger may pull there.
        Assert.Equal(HttpStatusCode.NotFound, missingRepository.StatusCode);
        Assert.Contains("NAME_UNKNOWN", await missingRepository.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, hidden.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, missingProject.StatusCode);
        Assert.Equal(
            (await hidden.Content.ReadAsStringAsync()).Replace("lab/app", "NAME", StringComparison.Ordinal),
            (await missingProject.Content.ReadAsStringAsync()).Replace("nosuch/app", "NAME", StringComparison.Ordinal));
        Assert.Contains("error=\"insufficient_scope\"", hidden.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task V2_PushIntoMissingProject_SaysTheProjectDoesNotExist()
    {
        using var client = _server.Bearer(await _server.TokenAsync("admin", WharfServer.AdminPassword, "repository:nosuch/app:pull,push"));

        using var response = await client.PostAsync("v2/nosuch/app/blobs/uploads/", null);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("project nosuch not found", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task V2_BasicCredentials_AreAcceptedDirectly()
    {
        using var dev = _server.Client("dev", "Passw0rdX");
        using var wrong = _server.Client("dev", "nope");

        Assert.Equal(HttpStatusCode.OK, (await dev.GetAsync("v2/lab/app/manifests/latest")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await dev.DeleteAsync("v2/lab/app/manifests/latest")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("v2/lab/app/manifests/latest")).StatusCode);
    }

    [Fact]
    public async Task V2_TokenOfDeletedUser_NoLongerWidensByDatabase()
    {
        long id = await _server.CreateUserAsync("temp");
        await _server.AddMemberAsync("lab", "temp", ProjectRole.Developer);
        using var client = _server.Bearer(await _server.TokenAsync("temp", "Passw0rdX", "repository:lab/app:pull"));
        using var admin = _server.Admin();
        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync($"api/v2.0/users/{id}")).StatusCode);

        using var response = await client.GetAsync("v2/lab/other/manifests/latest");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task V2_Catalog_ShowsEachCallerWhatItMayPull()
    {
        await _server.CreateProjectAsync("open", isPublic: true);
        await _server.CreateProjectAsync("secret");
        await _server.SeedImageAsync("open/tool");
        await _server.SeedImageAsync("secret/plans");

        using var dev = _server.Bearer(await _server.TokenAsync("dev", "Passw0rdX", "registry:catalog:*"));
        using var anonymous = _server.Bearer(await _server.TokenAsync(null, null, "registry:catalog:*"));
        using var admin = _server.Bearer(await _server.TokenAsync("admin", WharfServer.AdminPassword, "registry:catalog:*"));

        Assert.Equal("{\"repositories\":[\"lab/app\",\"lab/other\",\"open/tool\"]}", await dev.GetStringAsync("v2/_catalog"));
        Assert.Equal("{\"repositories\":[\"open/tool\"]}", await anonymous.GetStringAsync("v2/_catalog"));
        Assert.Equal("{\"repositories\":[\"lab/app\",\"lab/other\",\"open/tool\",\"secret/plans\"]}", await admin.GetStringAsync("v2/_catalog"));
    }

    [Fact]
    public async Task TokenSigningKey_Restart_KeepsTheKeyAndItsTokens()
    {
        string token = await _server.TokenAsync("dev", "Passw0rdX", "repository:lab/app:pull");
        string kid = _server.Services.GetRequiredService<TokenSigningKey>().KeyId;
        string dataDirectory = _server.DataDirectory;
        await _server.StopKeepingDataAsync();

        _server = await WharfServer.StartAsync(dataDirectory: dataDirectory); // lab/app is still in the data directory
        using var client = _server.Bearer(token);

        Assert.Equal(kid, _server.Services.GetRequiredService<TokenSigningKey>().KeyId);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v2/lab/app/manifests/latest")).StatusCode);
    }
}
