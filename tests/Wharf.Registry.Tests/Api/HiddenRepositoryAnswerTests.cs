using System.Net;
using Wharf.Oci;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Api;

/// <summary>
/// A caller without access to a private repository, and any caller asking for one that does not
/// exist, hears the same 401 insufficient_scope challenge (as distribution and Harbor answer): the
/// client is told a login may help, and nobody learns whether the repository exists.
/// </summary>
public sealed class HiddenRepositoryAnswerTests : IAsyncLifetime
{
    private WharfServer _server = null!;
    private string _digest = "";

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
        await _server.CreateProjectAsync("open", isPublic: true);
        await _server.CreateUserAsync("stranger");
        _digest = (await _server.SeedImageAsync("lab/app")).Digest.ToString();
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public static TheoryData<string, string> Requests => new()
    {
        { "GET", "manifests/latest" },
        { "HEAD", "manifests/latest" },
        { "GET", "tags/list" },
        { "GET", "blobs/sha256:" + new string('a', 64) },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task NoCredentials_PrivateAndMissing_Same401Challenge(string method, string path)
    {
        using var client = _server.Client();

        // Nothing was presented, so the challenge names no error (RFC 6750 3.1), but it is the same one.
        await AssertSameChallengeAsync(client, method, path, error: null);
    }

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task StrangerToken_PrivateAndMissing_Same401InsufficientScope(string method, string path)
    {
        using var client = _server.Bearer(await _server.TokenAsync("stranger", "Passw0rdX",
            "repository:lab/app:pull", "repository:lab/nothing:pull", "repository:nosuch/app:pull"));

        await AssertSameChallengeAsync(client, method, path, "insufficient_scope");
    }

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task StrangerBasic_PrivateAndMissing_Same401InsufficientScope(string method, string path)
    {
        using var client = _server.Client("stranger", "Passw0rdX");

        await AssertSameChallengeAsync(client, method, path, "insufficient_scope");
    }

    [Fact]
    public async Task Admin_MissingRepositoryInVisibleProject_Is404NameUnknown()
    {
        using var admin = _server.Admin();
        using var stranger = _server.Client("stranger", "Passw0rdX");

        await ErrorAssert.HasErrorAsync(await admin.GetAsync("v2/lab/nothing/manifests/latest"), HttpStatusCode.NotFound, "NAME_UNKNOWN");
        await ErrorAssert.HasErrorAsync(await stranger.GetAsync("v2/open/nothing/manifests/latest"), HttpStatusCode.NotFound, "NAME_UNKNOWN");
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"v2/lab/app/manifests/{_digest}")).StatusCode);
    }

    [Fact]
    public async Task MountFromAnotherRepository_ChallengeAsksForPullOnTheSourceToo()
    {
        using var anonymous = _server.Client();
        var digest = Digest.Compute([1, 2, 3]);

        using var mount = await anonymous.PostAsync($"v2/lab/app/blobs/uploads/?mount={digest}&from=open/base", null);
        using var same = await anonymous.PostAsync($"v2/lab/app/blobs/uploads/?mount={digest}&from=lab/app", null);
        using var plain = await anonymous.PostAsync("v2/lab/app/blobs/uploads/", null);

        Assert.Equal(HttpStatusCode.Unauthorized, mount.StatusCode);
        Assert.Equal(
            $"Bearer realm=\"{_server.BaseAddress}service/token\",service=\"wharf-registry\",scope=\"repository:lab/app:pull,push repository:open/base:pull\"",
            mount.Headers.WwwAuthenticate.ToString());
        Assert.Contains("scope=\"repository:lab/app:pull,push\"", same.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Contains("scope=\"repository:lab/app:pull,push\"", plain.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MountWithTokenForTargetOnly_ChallengeIsInsufficientScopeWithBothScopes()
    {
        using var stranger = _server.Bearer(await _server.TokenAsync("stranger", "Passw0rdX", "repository:lab/app:pull,push"));
        var digest = Digest.Compute([1, 2, 3]);

        using var mount = await stranger.PostAsync($"v2/lab/app/blobs/uploads/?mount={digest}&from=lab/other", null);

        Assert.Equal(HttpStatusCode.Unauthorized, mount.StatusCode);
        string challenge = mount.Headers.WwwAuthenticate.ToString();
        Assert.Contains("scope=\"repository:lab/app:pull,push repository:lab/other:pull\"", challenge, StringComparison.Ordinal);
        Assert.Contains("error=\"insufficient_scope\"", challenge, StringComparison.Ordinal);
    }

    /// <summary>lab/app (private, exists), lab/nothing (private project, no such repository) and nosuch/app (no such project) answer alike.</summary>
    private async Task AssertSameChallengeAsync(HttpClient client, string method, string path, string? error)
    {
        var answers = new List<(string Repository, HttpResponseMessage Response, string Body)>();
        foreach (string repository in new[] { "lab/app", "lab/nothing", "nosuch/app" })
        {
            var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), $"v2/{repository}/{path}"));
            answers.Add((repository, response, await response.Content.ReadAsStringAsync()));
        }

        foreach (var (repository, response, body) in answers)
        {
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{method} {repository}/{path}: {(int)response.StatusCode} {body}");
            Assert.Equal(
                $"Bearer realm=\"{_server.BaseAddress}service/token\",service=\"wharf-registry\",scope=\"repository:{repository}:pull\"" + (error is null ? "" : $",error=\"{error}\""),
                response.Headers.WwwAuthenticate.ToString());
            Assert.Equal(answers[0].Body.Replace(answers[0].Repository, "NAME", StringComparison.Ordinal), body.Replace(repository, "NAME", StringComparison.Ordinal));
            if (method != "HEAD")
            {
                Assert.Contains("UNAUTHORIZED", body, StringComparison.Ordinal);
            }

            response.Dispose();
        }
    }
}
