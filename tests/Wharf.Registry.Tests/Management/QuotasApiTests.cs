using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Quotas;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Management;

public sealed class QuotasApiTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync() => _server = await WharfServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task GetLimit_FollowsTheProjectRow()
    {
        long id = await _server.CreateProjectAsync("lab");
        var quotas = _server.Services.GetRequiredService<IProjectQuotas>();
        using var admin = _server.Admin();

        Assert.Null(await quotas.GetLimitAsync("lab", CancellationToken.None));
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"api/v2.0/quotas/{id}", new { hard = new { storage = 1_048_576 } })).StatusCode);
        Assert.Equal(1_048_576, await quotas.GetLimitAsync("lab", CancellationToken.None));
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"api/v2.0/quotas/{id}", new { hard = new { storage = -1 } })).StatusCode);
        Assert.Null(await quotas.GetLimitAsync("lab", CancellationToken.None));
    }

    [Fact]
    public async Task GetLimit_MissingProject_AllowsNoBytes()
    {
        var quotas = _server.Services.GetRequiredService<IProjectQuotas>();

        Assert.Equal(0, await quotas.GetLimitAsync("nosuch", CancellationToken.None));
    }

    [Fact]
    public async Task OpenRegistry_AnyonePushesAndMissingProjectsAreUnlimited()
    {
        await using var open = await WharfServer.StartAsync(new Dictionary<string, string?> { ["Registry:OpenRegistry"] = "true" });
        using var anonymous = open.Client();

        // A whole push, anonymous, into a project nobody created: throws unless every step succeeds.
        await RegistryPush.PushImageAsync(anonymous, "anything/app", "latest", RegistryPush.Layer("anything", 100));
        Assert.Null(await open.Services.GetRequiredService<IProjectQuotas>().GetLimitAsync("anything", CancellationToken.None));
        using var admin = open.Admin();
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("api/v2.0/users/current")).StatusCode);
    }

    [Fact]
    public async Task ListQuotas_ShowsHardAndUsedInHarborsShape()
    {
        long id = await _server.CreateProjectAsync("lab");
        long used = (await _server.SeedImageAsync("lab/app", layerSize: 1234)).Size;
        using var admin = _server.Admin();
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"api/v2.0/quotas/{id}", new { hard = new { storage = 5000 } })).StatusCode);

        using var list = JsonDocument.Parse(await admin.GetStringAsync($"api/v2.0/quotas?reference=project&reference_id={id}"));
        var quota = Assert.Single(list.RootElement.EnumerateArray());

        Assert.Equal(id, quota.GetProperty("id").GetInt64());
        Assert.Equal("lab", quota.GetProperty("ref").GetProperty("name").GetString());
        Assert.Equal(5000, quota.GetProperty("hard").GetProperty("storage").GetInt64());
        Assert.Equal(used, quota.GetProperty("used").GetProperty("storage").GetInt64());
    }

    [Fact]
    public async Task CreateProject_WithStorageLimit_IsItsQuota()
    {
        using var admin = _server.Admin();
        using var created = await admin.PostAsJsonAsync("api/v2.0/projects", new { project_name = "big", storage_limit = 10_000 });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        Assert.Equal(10_000, await _server.Services.GetRequiredService<IProjectQuotas>().GetLimitAsync("big", CancellationToken.None));
    }

    [Theory]
    [InlineData("{\"hard\":{\"storage\":0}}")]
    [InlineData("{\"hard\":{\"storage\":-2}}")]
    [InlineData("{\"hard\":{}}")]
    [InlineData("{\"hard\":{\"storage\":10,\"count\":5}}")]
    [InlineData("{\"hard\":{\"storage\":\"lots\"}}")]
    public async Task UpdateQuota_BadInput_Is400AndChangesNothing(string body)
    {
        long id = await _server.CreateProjectAsync("lab");
        using var admin = _server.Admin();

        using var response = await admin.PutAsync($"api/v2.0/quotas/{id}", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(await _server.Services.GetRequiredService<IProjectQuotas>().GetLimitAsync("lab", CancellationToken.None));
    }

    [Fact]
    public async Task Quotas_NonAdmin_IsForbidden()
    {
        long id = await _server.CreateProjectAsync("lab");
        await _server.CreateUserAsync("alice");
        using var alice = _server.Client("alice", "Passw0rdX");

        Assert.Equal(HttpStatusCode.Forbidden, (await alice.GetAsync("api/v2.0/quotas")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await alice.PutAsJsonAsync($"api/v2.0/quotas/{id}", new { hard = new { storage = 1 } })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _server.Admin().GetAsync("api/v2.0/quotas/999")).StatusCode);
    }
}
