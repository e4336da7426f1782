using System.Net;
using System.Text.Json;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Api;

/// <summary>
/// A NUL (%00) in a query value or a path part: PostgreSQL's text cannot hold one (a query with it
/// fails there), SQLite's can. Each request gets the same answer on both databases (the PostgreSQL pass
/// runs this class too): 400 with a clear message for a query outside /v2, the distribution API's own
/// answer on /v2, and Kestrel's 400 for a path.
/// </summary>
public sealed class NulCharacterTests : IAsyncLifetime
{
    private WharfServer _server = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        _admin = _server.Client("admin", WharfServer.AdminPassword);
        using var created = await _admin.PostAsync("/api/v2.0/projects",
            new StringContent("""{"project_name":"lab","metadata":{"public":"true"}}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.True(created.IsSuccessStatusCode, $"{(int)created.StatusCode}: {await created.Content.ReadAsStringAsync()}");
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
    }

    [Theory]
    [InlineData("/api/v2.0/projects?name=la%00b")]
    [InlineData("/api/v2.0/projects?q=name%3D~la%00")]
    [InlineData("/api/v2.0/projects?q=name%3Dlab%00")]
    [InlineData("/api/v2.0/projects/lab/repositories?q=name%3D~a%00")]
    [InlineData("/api/v2.0/projects/lab/logs?q=operation%3Dpush%00")]
    [InlineData("/api/v2.0/repositories?q=name%3D~a%00")]
    [InlineData("/api/v2.0/search?q=la%00")]
    [InlineData("/api/v2.0/users?q=username%3D~ad%00")]
    [InlineData("/api/v2.0/users/search?username=ad%00")]
    [InlineData("/api/v2.0/robots?q=name%3D~a%00")]
    [InlineData("/api/v2.0/audit-logs?q=resource%3D~lab%00")]
    [InlineData("/api/v2.0/labels?q=name%3D~a%00&scope=g")]
    [InlineData("/api/v2.0/registries?name=a%00")]
    [InlineData("/api/v2.0/replication/policies?name=a%00")]
    [InlineData("/api/v2.0/projects?name=lab&x%00=1")]
    public async Task ManagementApi_NulInPathOrQuery_Returns400WithMessage(string url)
    {
        using var response = await _admin.GetAsync(url);
        string body = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{url}: {(int)response.StatusCode}: {body}");
        using var doc = JsonDocument.Parse(body);
        var error = doc.RootElement.GetProperty("errors")[0];
        Assert.Equal("BAD_REQUEST", error.GetProperty("code").GetString());
        Assert.Contains("NUL", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/v1/search?q=la%00")]
    [InlineData("/service/token?service=wharf&scope=repository:lab/a%00b:pull")]
    [InlineData("/?q=la%00")]
    public async Task OtherPaths_NulInQuery_Returns400(string url)
    {
        using var response = await _admin.GetAsync(url);

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{url}: {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        Assert.Contains("NUL", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/v2/_catalog?last=%00", HttpStatusCode.OK)]
    [InlineData("/v2/lab/a/tags/list?last=a%00", HttpStatusCode.NotFound)] // the repository does not exist: NAME_UNKNOWN, as without the NUL
    [InlineData("/v2/lab/a/manifests/v1?x=%00", HttpStatusCode.NotFound)]
    public async Task DistributionApi_Nul_AnswersByItsOwnGrammar(string url, HttpStatusCode expected)
    {
        using var response = await _admin.GetAsync(url);

        Assert.True(response.StatusCode == expected, $"{url}: {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    // Kestrel refuses a path holding a NUL (400, before any middleware), whatever the database.
    [Theory]
    [InlineData("/api/v2.0/projects/la%00b")]
    [InlineData("/api/v2.0/projects/lab/repositories/a%00b/artifacts")]
    [InlineData("/portal/projects/la%00b")]
    [InlineData("/v2/lab/a%00b/tags/list")]
    [InlineData("/v2/lab/a/manifests/v1%00")]
    public async Task PathPart_Nul_Returns400(string url)
    {
        using var response = await _admin.GetAsync(url);

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{url}: {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task ManagementApi_NulRefused_ChangesNothing()
    {
        using var refused = await _admin.DeleteAsync("/api/v2.0/projects/lab%00");
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);

        using var still = await _admin.GetAsync("/api/v2.0/projects/lab");
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);
    }
}
