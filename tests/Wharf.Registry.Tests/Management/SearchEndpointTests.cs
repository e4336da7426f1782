using System.Net;
using System.Text.Json;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Management;

public sealed class SearchEndpointTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("library", isPublic: true);
        await _server.CreateProjectAsync("lab");
        await _server.CreateProjectAsync("secret");
        await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Guest);
        await _server.SeedImageAsync("library/alpine");
        await _server.SeedImageAsync("lab/alpine-cuda");
        await _server.SeedImageAsync("lab/pytorch");
        await _server.SeedImageAsync("secret/alpine-plans");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Search_Member_SeesPublicAndOwnProjectsOnly()
    {
        using var client = _server.Client("dev", "Passw0rdX");

        using var body = JsonDocument.Parse(await client.GetStringAsync("v1/search?q=alpine&n=25"));

        Assert.Equal(2, body.RootElement.GetProperty("num_results").GetInt32());
        Assert.Equal("alpine", body.RootElement.GetProperty("query").GetString());
        var results = body.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(["lab/alpine-cuda", "library/alpine"], results.Select(r => r.GetProperty("name").GetString()));
        Assert.All(results, r =>
        {
            Assert.Equal("", r.GetProperty("description").GetString());
            Assert.Equal(0, r.GetProperty("star_count").GetInt32());
            Assert.False(r.GetProperty("is_official").GetBoolean());
            Assert.False(r.GetProperty("is_automated").GetBoolean());
        });
    }

    [Fact]
    public async Task Search_WithToken_SameAsWithBasic()
    {
        using var client = _server.Bearer(await _server.TokenAsync("dev", "Passw0rdX"));

        using var body = JsonDocument.Parse(await client.GetStringAsync("v1/search?q=ALPINE"));

        Assert.Equal(2, body.RootElement.GetProperty("num_results").GetInt32());
    }

    [Fact]
    public async Task Search_Admin_SeesEverything()
    {
        using var client = _server.Admin();

        using var body = JsonDocument.Parse(await client.GetStringAsync("v1/search?q=alpine"));

        Assert.Equal(3, body.RootElement.GetProperty("num_results").GetInt32());
    }

    [Fact]
    public async Task Search_Anonymous_IsChallengedSoClientsFallBackToTheCatalog()
    {
        using var client = _server.Client();

        using var response = await client.GetAsync("v1/search?q=alpine");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.StartsWith("Bearer realm=", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Search_Pages_SplitResults()
    {
        using var client = _server.Admin();

        using var page2 = JsonDocument.Parse(await client.GetStringAsync("v1/search?q=a&n=2&page=2"));

        Assert.Equal(4, page2.RootElement.GetProperty("num_results").GetInt32());
        Assert.Equal(2, page2.RootElement.GetProperty("num_pages").GetInt32());
        Assert.Equal(["secret/alpine-plans"], page2.RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("name").GetString()).Skip(1));
    }

    [Theory]
    [InlineData("v1/search?q=a&n=0")]
    [InlineData("v1/search?q=a&page=-1")]
    [InlineData("v1/search?q=a&n=many")]
    public async Task Search_BadPaging_Is400(string url)
    {
        using var client = _server.Admin();

        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync(url)).StatusCode);
    }

    [Fact]
    public async Task HarborSearch_Member_FindsVisibleProjectsAndRepositories()
    {
        using var dev = _server.Client("dev", "Passw0rdX");
        using var anonymous = _server.Client();

        using var body = JsonDocument.Parse(await dev.GetStringAsync("api/v2.0/search?q=a"));
        using var anonymousBody = JsonDocument.Parse(await anonymous.GetStringAsync("api/v2.0/search?q=alpine"));

        Assert.Equal(["lab", "library"], body.RootElement.GetProperty("project").EnumerateArray().Select(p => p.GetProperty("name").GetString()));
        var repositories = body.RootElement.GetProperty("repository").EnumerateArray().ToList();
        Assert.Equal(["lab/alpine-cuda", "lab/pytorch", "library/alpine"], repositories.Select(r => r.GetProperty("repository_name").GetString()));
        Assert.False(repositories[0].GetProperty("project_public").GetBoolean());
        Assert.Equal(["library/alpine"], anonymousBody.RootElement.GetProperty("repository").EnumerateArray().Select(r => r.GetProperty("repository_name").GetString()));
    }
}
