using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Registry.Tests.Proxy;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Replication;

/// <summary>
/// wharfd as a separate process, killed by PID in the middle of an execution (no graceful shutdown):
/// at the next start the execution reads as failed and interrupted, and a new run completes it.
/// </summary>
public sealed class WharfdCrashTests : IAsyncLifetime
{
    private WharfdProcess _wharfd = null!;
    private DockerRegistry _registry = null!;

    public async Task InitializeAsync()
    {
        _registry = await DockerRegistry.StartAsync("upstream");
        _wharfd = await WharfdProcess.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_wharfd is not null)
        {
            await _wharfd.DisposeAsync();
        }

        _registry?.Dispose();
    }

    [Fact]
    public async Task Kill_DuringAnExecution_ExecutionFailedAsInterruptedAndANewRunCompletes()
    {
        await _wharfd.CreateProjectAsync("team");
        using var admin = _wharfd.Admin();
        var image = await Images.PushImageAsync(admin, "team/app", "1", ProxySetup.RandomLayer(256 * 1024), ProxySetup.RandomLayer(256 * 1024));
        long registry = await PostAsync(admin, "api/v2.0/registries", new { name = "dr", type = "docker-registry", url = _registry.Url.ToString() });
        long policy = await PostAsync(admin, "api/v2.0/replication/policies", new
        {
            name = "slow",
            dest_registry = new { id = registry },
            filters = new object[] { new { type = "name", value = "team/app" } },
            speed = 32, // KB/s: the copy takes many seconds, the kill comes in its middle
        });
        long execution = await PostAsync(admin, "api/v2.0/replication/executions", new { policy_id = policy });
        var copying = DateTime.UtcNow.AddSeconds(30);
        while (!(await GetAsync(admin, $"api/v2.0/replication/executions/{execution}/tasks")).EnumerateArray().Any(t => t.GetProperty("status").GetString() == "InProgress"))
        {
            Assert.True(DateTime.UtcNow < copying, "the task did not start copying in 30 s");
            await Task.Delay(50);
        }

        Assert.Equal("InProgress", (await GetAsync(admin, $"api/v2.0/replication/executions/{execution}")).GetProperty("status").GetString());

        await _wharfd.Process.RestartAsync(); // SIGKILL, then the same command on the same data
        using var after = _wharfd.Admin();

        var interrupted = await GetAsync(after, $"api/v2.0/replication/executions/{execution}");
        Assert.Equal("Failed", interrupted.GetProperty("status").GetString());
        Assert.Contains("interrupted", interrupted.GetProperty("status_text").GetString(), StringComparison.Ordinal);
        var task = Assert.Single((await GetAsync(after, $"api/v2.0/replication/executions/{execution}/tasks")).EnumerateArray());
        Assert.Equal("Failed", task.GetProperty("status").GetString());

        using (var unthrottle = await after.PutAsJsonAsync($"api/v2.0/replication/policies/{policy}", new { speed = -1 }))
        {
            await WharfEndpoint.ExpectAsync(unthrottle, HttpStatusCode.OK);
        }

        long again = await PostAsync(after, "api/v2.0/replication/executions", new { policy_id = policy });
        var deadline = DateTime.UtcNow.AddMinutes(1);
        JsonElement finished;
        while ((finished = await GetAsync(after, $"api/v2.0/replication/executions/{again}")).GetProperty("status").GetString() == "InProgress")
        {
            Assert.True(DateTime.UtcNow < deadline, "the new run did not finish in a minute");
            await Task.Delay(100);
        }

        Assert.Equal("Succeed", finished.GetProperty("status").GetString());
        using var remote = _registry.Client();
        Assert.Equal(image.Digest, (await ReplicationSetup.FindManifestAsync(remote, "team/app", "1"))!.Value.Digest);
    }

    private static async Task<long> PostAsync(HttpClient client, string path, object body)
    {
        using var response = await client.PostAsJsonAsync(path, body);
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.Created);
        return ReplicationSetup.IdOf(response);
    }

    private static async Task<JsonElement> GetAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.OK);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }
}
