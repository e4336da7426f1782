using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Registry.Tests.Proxy;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;
using static Wharf.Registry.Tests.Replication.ReplicationSetup;

namespace Wharf.Registry.Tests.Webhooks;

/// <summary>A replication execution to a real docker-registry ends in a REPLICATION webhook of the project it copied from.</summary>
public sealed class WebhookReplicationTests : IAsyncLifetime
{
    private WharfServer _server = null!;
    private DockerRegistry _registry = null!;
    private WebhookReceiver _receiver = null!;

    public async Task InitializeAsync()
    {
        _receiver = await WebhookReceiver.StartAsync();
        _registry = await DockerRegistry.StartAsync("upstream");
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("team");
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _registry?.Dispose();
        await _receiver.DisposeAsync();
    }

    [Fact]
    public async Task PushReplication_Finished_IsDeliveredToTheSourceProject()
    {
        using var admin = _server.Admin();
        using var created = await admin.PostAsJsonAsync(new Uri("api/v2.0/projects/team/webhook/policies", UriKind.Relative), new
        {
            name = "replication",
            event_types = new[] { "REPLICATION" },
            targets = new[] { new { type = "http", address = _receiver.Address.ToString() } },
        });
        await WharfEndpoint.ExpectAsync(created, HttpStatusCode.Created);
        await Images.PushImageAsync(admin, "team/app", "1.0", ProxySetup.RandomLayer());
        long registryId = await ProxySetup.RegisterAsync(_server, "dr", _registry.Url);
        long policy = await CreatePolicyAsync(_server, new
        {
            name = "to-dr",
            dest_registry = new { id = registryId },
            trigger = new { type = "manual" },
            filters = new object[] { new { type = "name", value = "team/**" } },
        });

        var execution = await WaitAsync(_server, await StartAsync(_server, policy));
        await Wharf.Registry.Tests.Replication.ReplicationSetup.AssertSucceededAsync(_server, execution);

        var received = Assert.Single(await _receiver.WaitForAsync(1));
        using var payload = JsonDocument.Parse(received.Body);
        Assert.Equal("REPLICATION", payload.RootElement.GetProperty("type").GetString());
        var replication = payload.RootElement.GetProperty("event_data").GetProperty("replication");
        Assert.Equal("Succeed", replication.GetProperty("job_status").GetString());
        Assert.Equal("to-dr", replication.GetProperty("policy_name").GetString());
        var artifact = Assert.Single(replication.GetProperty("successful_artifact").EnumerateArray());
        Assert.Equal("team/app:1.0", artifact.GetProperty("src_resource").GetString());
        Assert.Empty(replication.GetProperty("failed_artifact").EnumerateArray());
    }
}
