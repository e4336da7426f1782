using System.Net;
using System.Text.Json;

namespace Wharf.Registry.Tests.Api;

public sealed class DiscoveryEndpointTests : IAsyncLifetime
{
    private RegistryServer _server = null!;

    private HttpClient Client => _server.Client;

    public async Task InitializeAsync() => _server = await RegistryServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task TagList_Paginates_WithLinkHeader()
    {
        foreach (string tag in new[] { "c", "a", "b", "d" })
        {
            await _server.PushImageAsync("lab/tags", tag);
        }

        using var all = await Client.GetAsync("/v2/lab/tags/tags/list");
        Assert.Equal(new[] { "a", "b", "c", "d" }, Tags(await all.Content.ReadAsStringAsync()));
        Assert.False(all.Headers.Contains("Link"));

        using var page1 = await Client.GetAsync("/v2/lab/tags/tags/list?n=2");
        Assert.Equal(new[] { "a", "b" }, Tags(await page1.Content.ReadAsStringAsync()));
        string link = page1.Headers.GetValues("Link").Single();
        Assert.Equal("</v2/lab/tags/tags/list?last=b&n=2>; rel=\"next\"", link);

        using var page2 = await Client.GetAsync("/v2/lab/tags/tags/list?n=2&last=b");
        Assert.Equal(new[] { "c", "d" }, Tags(await page2.Content.ReadAsStringAsync()));
        Assert.False(page2.Headers.Contains("Link"));

        using var zero = await Client.GetAsync("/v2/lab/tags/tags/list?n=0");
        Assert.Empty(Tags(await zero.Content.ReadAsStringAsync()));
    }

    [Fact]
    public async Task TagList_UnknownRepository_Returns404NameUnknown()
    {
        using var resp = await Client.GetAsync("/v2/lab/none/tags/list");
        await ErrorAssert.HasErrorAsync(resp, HttpStatusCode.NotFound, "NAME_UNKNOWN");
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    public async Task TagList_BadN_Returns400PaginationNumberInvalid(string n)
    {
        await _server.PushImageAsync("lab/tags", "a");
        using var resp = await Client.GetAsync($"/v2/lab/tags/tags/list?n={n}");
        await ErrorAssert.HasErrorAsync(resp, HttpStatusCode.BadRequest, "PAGINATION_NUMBER_INVALID");
    }

    [Fact]
    public async Task Catalog_Paginates()
    {
        foreach (string repo in new[] { "lab/b", "lab/a", "other/c" })
        {
            await _server.PushImageAsync(repo, "v1");
        }

        using var page1 = await Client.GetAsync("/v2/_catalog?n=2");
        using var doc1 = JsonDocument.Parse(await page1.Content.ReadAsStringAsync());
        Assert.Equal(new[] { "lab/a", "lab/b" }, doc1.RootElement.GetProperty("repositories").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("</v2/_catalog?last=lab%2Fb&n=2>; rel=\"next\"", page1.Headers.GetValues("Link").Single());

        using var page2 = await Client.GetAsync("/v2/_catalog?n=2&last=lab%2Fb");
        using var doc2 = JsonDocument.Parse(await page2.Content.ReadAsStringAsync());
        Assert.Equal(new[] { "other/c" }, doc2.RootElement.GetProperty("repositories").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Healthz_Answers_MetricsOffByDefault()
    {
        Assert.Equal("ok\n", await Client.GetStringAsync("/healthz"));
        using var metrics = await Client.GetAsync("/metrics");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, metrics.StatusCode);
    }

    private static string[] Tags(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("tags").EnumerateArray().Select(e => e.GetString()!).ToArray();
    }
}
