using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Proxy;

/// <summary>Harbor's /api/v2.0/registries and projects with registry_id, through the real pipeline.</summary>
public sealed class RegistryEndpointsApiTests : IAsyncLifetime
{
    private const string Secret = "upstream-s3cret-value";
    private WharfServer _server = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        _admin = _server.Admin();
    }

    public async Task DisposeAsync()
    {
        _admin?.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Create_WithCredential_AnswersNeverShowTheCredential()
    {
        long id = await ProxySetup.RegisterAsync(_server, "hub", new Uri("https://hub.docker.com"), "docker-hub", "robot-user", Secret);

        string one = await _admin.GetStringAsync($"api/v2.0/registries/{id}");
        string all = await _admin.GetStringAsync("api/v2.0/registries");

        foreach (string answer in new[] { one, all })
        {
            Assert.DoesNotContain(Secret, answer, StringComparison.Ordinal);
            Assert.DoesNotContain("robot-user", answer, StringComparison.Ordinal);
        }

        var registry = JsonDocument.Parse(one).RootElement;
        Assert.Equal("hub", registry.GetProperty("name").GetString());
        Assert.Equal("docker-hub", registry.GetProperty("type").GetString());
        Assert.Equal("https://hub.docker.com/", registry.GetProperty("url").GetString());
        Assert.Equal("basic", registry.GetProperty("credential").GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("{\"type\":\"docker-registry\",\"url\":\"http://127.0.0.1:1\"}", "name")]
    [InlineData("{\"name\":\"x\",\"type\":\"nexus\",\"url\":\"http://127.0.0.1:1\"}", "type")]
    [InlineData("{\"name\":\"x\",\"type\":\"docker-registry\",\"url\":\"ftp://example\"}", "url")]
    [InlineData("{\"name\":\"x\",\"type\":\"docker-registry\"}", "url")]
    [InlineData("{\"name\":\"x\",\"type\":\"docker-registry\",\"url\":\"http://u:p@example\"}", "url")]
    [InlineData("{\"name\":\"x\",\"url\":\"http://example\",\"credential\":{\"type\":\"oauth\",\"access_key\":\"a\",\"access_secret\":\"b\"}}", "credential")]
    [InlineData("{\"name\":\"x\",\"url\":\"http://example\",\"credential\":{\"type\":\"basic\",\"access_key\":\"a\"}}", "credential")]
    public async Task Create_BadInput_400AndNothingStored(string json, string named)
    {
        using var response = await _admin.PostAsync("api/v2.0/registries", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(named, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("[]", await _admin.GetStringAsync("api/v2.0/registries"));
    }

    [Fact]
    public async Task Create_DuplicateName_409()
    {
        await ProxySetup.RegisterAsync(_server, "dup", new Uri("http://127.0.0.1:1"));
        using var response = await _admin.PostAsJsonAsync("api/v2.0/registries", new { name = "DUP", type = "docker-registry", url = "http://127.0.0.1:2" });
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
    }

    [Fact]
    public async Task Registries_NonAdmin_Forbidden()
    {
        await _server.CreateUserAsync("dev");
        using var dev = _server.Client("dev", WharfEndpoint.UserPassword);
        using var list = await dev.GetAsync("api/v2.0/registries");
        using var create = await dev.PostAsJsonAsync("api/v2.0/registries", new { name = "x", type = "docker-registry", url = "http://127.0.0.1:1" });
        Assert.Equal(HttpStatusCode.Forbidden, list.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, create.StatusCode);
    }

    [Fact]
    public async Task Update_ChangesFieldsAndKeepsSecretWhenOnlyKeyIsSent()
    {
        long id = await ProxySetup.RegisterAsync(_server, "edit", new Uri("http://127.0.0.1:1"), key: "u", secret: Secret);

        using var response = await _admin.PutAsJsonAsync($"api/v2.0/registries/{id}", new { url = "http://127.0.0.1:2", insecure = true, credential = new { type = "basic", access_key = "u" } });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var registry = JsonDocument.Parse(await _admin.GetStringAsync($"api/v2.0/registries/{id}")).RootElement;
        Assert.Equal("http://127.0.0.1:2/", registry.GetProperty("url").GetString());
        Assert.True(registry.GetProperty("insecure").GetBoolean());
        var stored = await ((Wharf.Registry.Proxy.IUpstreamRegistryStore)_server.Services.GetService(typeof(Wharf.Registry.Proxy.IUpstreamRegistryStore))!).FindByIdAsync(id, default);
        Assert.Equal(Secret, stored!.AccessSecret);
    }

    [Fact]
    public async Task Delete_UsedByProject_412ThenDeletableOnceProjectIsGone()
    {
        long id = await ProxySetup.RegisterAsync(_server, "used", new Uri("http://127.0.0.1:1"));
        long project = await ProxySetup.CreateProxyProjectAsync(_server, "mirror", id);

        using var refused = await _admin.DeleteAsync($"api/v2.0/registries/{id}");
        Assert.Equal(HttpStatusCode.PreconditionFailed, refused.StatusCode);

        using (var deleteProject = await _admin.DeleteAsync($"api/v2.0/projects/{project}"))
        {
            Assert.Equal(HttpStatusCode.OK, deleteProject.StatusCode);
        }

        using var deleted = await _admin.DeleteAsync($"api/v2.0/registries/{id}");
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        using var gone = await _admin.GetAsync($"api/v2.0/registries/{id}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task CreateProject_WithRegistryId_AnswersItsRegistryId()
    {
        long id = await ProxySetup.RegisterAsync(_server, "up", new Uri("http://127.0.0.1:1"));
        long project = await ProxySetup.CreateProxyProjectAsync(_server, "mirror", id);
        await _server.CreateProjectAsync("plain");

        var mirror = JsonDocument.Parse(await _admin.GetStringAsync($"api/v2.0/projects/{project}")).RootElement;
        var plain = JsonDocument.Parse(await _admin.GetStringAsync("api/v2.0/projects/plain")).RootElement;

        Assert.Equal(id, mirror.GetProperty("registry_id").GetInt64());
        Assert.False(plain.TryGetProperty("registry_id", out _));
    }

    [Fact]
    public async Task CreateProject_UnknownRegistryId_400AndNoProject()
    {
        using var response = await _admin.PostAsJsonAsync("api/v2.0/projects", new { project_name = "orphan", registry_id = 99 });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("registry_id", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var head = await _admin.SendAsync(new HttpRequestMessage(HttpMethod.Head, "api/v2.0/projects?project_name=orphan"));
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
    }

    [Fact]
    public async Task Ping_ReachableUpstream_200_UnreachableOrBadCredential_400()
    {
        using var upstream = await DockerRegistry.StartAsync("upstream");
        using var ok = await _admin.PostAsJsonAsync("api/v2.0/registries/ping", new { type = "docker-registry", url = upstream.Url.ToString() });
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        int closed = LoopbackPort.Free();
        using var down = await _admin.PostAsJsonAsync("api/v2.0/registries/ping", new { type = "docker-registry", url = $"http://127.0.0.1:{closed}" });
        Assert.Equal(HttpStatusCode.BadRequest, down.StatusCode);
        Assert.Contains("failed to ping", await down.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Another wharfd with a wrong password: its token service refuses the credential.
        long id = await ProxySetup.RegisterAsync(_server, "self", _server.BaseAddress, key: "admin", secret: "wrong-password");
        using var refused = await _admin.PostAsJsonAsync("api/v2.0/registries/ping", new { id });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        using var accepted = await _admin.PostAsJsonAsync("api/v2.0/registries/ping", new { id, credential = new { type = "basic", access_key = "admin", access_secret = WharfServer.AdminPassword } });
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
    }
}
