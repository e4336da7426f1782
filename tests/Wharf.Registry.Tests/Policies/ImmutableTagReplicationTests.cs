using System.Net;
using System.Net.Http.Json;
using Wharf.Registry.Tests.Proxy;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;
using static Wharf.Registry.Tests.Replication.ReplicationSetup;

namespace Wharf.Registry.Tests.Policies;

/// <summary>A pull replication from a real docker-registry into a project with an immutable tag rule.</summary>
public sealed class ImmutableTagReplicationTests : IAsyncLifetime
{
    private WharfServer _server = null!;
    private DockerRegistry _registry = null!;

    public async Task InitializeAsync()
    {
        _registry = await DockerRegistry.StartAsync("upstream");
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("mirror");
        using var admin = _server.Admin();
        using var rule = await admin.PostAsJsonAsync("api/v2.0/projects/mirror/immutabletagrules", new
        {
            tag_selectors = new[] { new { kind = "doublestar", decoration = "matches", pattern = "1.*" } },
            scope_selectors = new { repository = new[] { new { kind = "doublestar", decoration = "repoMatches", pattern = "**" } } },
        });
        await WharfEndpoint.ExpectAsync(rule, HttpStatusCode.Created);
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _registry?.Dispose();
    }

    [Fact]
    public async Task PullReplication_UpstreamMovedAnImmutableTag_LocalTagKeepsItsImage()
    {
        using var remote = _registry.Client();
        using var admin = _server.Admin();
        var first = await Images.PushImageAsync(remote, "upstream/base", "1.0", ProxySetup.RandomLayer());
        long registryId = await ProxySetup.RegisterAsync(_server, "dr", _registry.Url);
        long policy = await CreatePolicyAsync(_server, new
        {
            name = "from-dr",
            src_registry = new { id = registryId },
            dest_namespace = "mirror",
            dest_namespace_replace_count = 1,
            filters = new object[] { new { type = "name", value = "upstream/**" } },
        });

        var initial = await WaitAsync(_server, await StartAsync(_server, policy));
        await Wharf.Registry.Tests.Replication.ReplicationSetup.AssertSucceededAsync(_server, initial);
        Assert.Equal(first.Digest, (await FindManifestAsync(admin, "mirror/base", "1.0"))!.Value.Digest);

        // Upstream moves 1.0 and adds 2.0: the run copies 2.0 but cannot move the immutable 1.0.
        await Images.PushImageAsync(remote, "upstream/base", "1.0", ProxySetup.RandomLayer());
        var second = await Images.PushImageAsync(remote, "upstream/base", "2.0", ProxySetup.RandomLayer());
        long rerunId = await StartAsync(_server, policy);
        var rerun = await WaitAsync(_server, rerunId);

        Assert.Equal("Failed", rerun.GetProperty("status").GetString());
        Assert.Equal(first.Digest, (await FindManifestAsync(admin, "mirror/base", "1.0"))!.Value.Digest);
        Assert.Equal(second.Digest, (await FindManifestAsync(admin, "mirror/base", "2.0"))!.Value.Digest);

        // The failed task's log says why.
        var failed = Assert.Single(await TasksAsync(_server, rerunId), t => t.GetProperty("status").GetString() == "Failed");
        string log = await admin.GetStringAsync($"api/v2.0/replication/executions/{rerunId}/tasks/{failed.GetProperty("id").GetInt64()}/log");
        Assert.Contains("immutable", log, StringComparison.Ordinal);
    }
}
