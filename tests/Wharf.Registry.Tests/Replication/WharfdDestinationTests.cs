using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Oci;
using Wharf.Registry.Tests.Proxy;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;
using static Wharf.Registry.Tests.Replication.ReplicationSetup;

namespace Wharf.Registry.Tests.Replication;

/// <summary>
/// Another wharfd as the destination, reached through its token service with a stored credential:
/// a multi-platform index arrives with every platform's manifest, and a referrer after its subject.
/// </summary>
public sealed class WharfdDestinationTests : IAsyncLifetime
{
    private WharfServer _server = null!;
    private WharfServer _destination = null!;

    public async Task InitializeAsync()
    {
        _destination = await WharfServer.StartAsync();
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("team");
        await _destination.CreateProjectAsync("team");
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        if (_destination is not null)
        {
            await _destination.DisposeAsync();
        }
    }

    [Fact]
    public async Task PushPolicy_IndexWithReferrer_CopiesEveryPlatformAndTheReferrer()
    {
        using var admin = _server.Admin();
        var amd64 = await Images.PushImageAsync(admin, "team/multi", "amd64-only", ProxySetup.RandomLayer());
        var arm64 = await Images.PushImageAsync(admin, "team/multi", "arm64-only", ProxySetup.RandomLayer(30_000));
        var index = await ProxySetup.PushIndexAsync(admin, "team/multi", "1",
            (amd64.Digest, amd64.Body.Length, "amd64"), (arm64.Digest, arm64.Body.Length, "arm64"));
        var (_, indexBody) = (await FindManifestAsync(admin, "team/multi", "1"))!.Value;
        var signature = await PushReferrerAsync(admin, "team/multi", index, indexBody.Length, MediaTypes.OciIndex);
        long registry = await ProxySetup.RegisterAsync(_server, "peer", _destination.BaseAddress, "harbor", "admin", WharfServer.AdminPassword);
        long policy = await CreatePolicyAsync(_server, new
        {
            name = "to-peer",
            src_registry = new { id = 0 },
            dest_registry = new { id = registry },
            filters = new object[] { new { type = "name", value = "team/multi" }, new { type = "tag", value = "1" } },
        });

        var execution = await WaitAsync(_server, await StartAsync(_server, policy));

        await ReplicationSetup.AssertSucceededAsync(_server, execution);
        using var peer = _destination.Admin();
        Assert.Equal(["1"], await TagsAsync(peer, "team/multi"));
        Assert.Equal(indexBody, (await FindManifestAsync(peer, "team/multi", "1"))!.Value.Body);
        Assert.Equal(amd64.Body, (await FindManifestAsync(peer, "team/multi", amd64.Digest.ToString()))!.Value.Body);
        Assert.Equal(arm64.Body, (await FindManifestAsync(peer, "team/multi", arm64.Digest.ToString()))!.Value.Body);
        foreach (string blob in ProxySetup.BlobsOf(arm64.Body))
        {
            Assert.Equal(blob, Digest.Compute(await ProxySetup.GetBlobAsync(peer, "team/multi", blob)).ToString());
        }

        using var referrers = await peer.GetAsync($"v2/team/multi/referrers/{index}");
        Assert.Equal(HttpStatusCode.OK, referrers.StatusCode);
        using var list = JsonDocument.Parse(await referrers.Content.ReadAsStringAsync());
        Assert.Equal([signature.ToString()], list.RootElement.GetProperty("manifests").EnumerateArray().Select(m => m.GetProperty("digest").GetString()));
    }

    [Fact]
    public async Task EventPolicy_ReferrerPushedAfterItsSubject_ReplicatedOnItsOwnEvent()
    {
        using var admin = _server.Admin();
        long registry = await ProxySetup.RegisterAsync(_server, "peer", _destination.BaseAddress, "harbor", "admin", WharfServer.AdminPassword);
        long policy = await CreatePolicyAsync(_server, new
        {
            name = "signatures-follow",
            src_registry = new { id = 0 },
            dest_registry = new { id = registry },
            trigger = new { type = "event_based" },
            filters = new object[] { new { type = "name", value = "team/**" }, new { type = "tag", value = "v*" } },
        });
        var released = await Images.PushImageAsync(admin, "team/app", "v1", ProxySetup.RandomLayer());
        var nightly = await Images.PushImageAsync(admin, "team/app", "nightly", ProxySetup.RandomLayer());
        await WaitForExecutionsAsync(_server, policy, 1);

        // Signed later: the referrer of the excluded tag's image is not replicated, the other one is
        // (events are handled in order, so once the second run is there the first was decided).
        await PushReferrerAsync(admin, "team/app", nightly.Digest, nightly.Body.Length, MediaTypes.OciManifest);
        var signature = await PushReferrerAsync(admin, "team/app", released.Digest, released.Body.Length, MediaTypes.OciManifest);
        var executions = await WaitForExecutionsAsync(_server, policy, 2);

        Assert.Equal(2, executions.Length);
        Assert.All(executions, e => Assert.Equal("Succeed", e.GetProperty("status").GetString()));
        using var peer = _destination.Admin();
        using var referrers = await peer.GetAsync($"v2/team/app/referrers/{released.Digest}");
        using var list = JsonDocument.Parse(await referrers.Content.ReadAsStringAsync());
        Assert.Equal([signature.ToString()], list.RootElement.GetProperty("manifests").EnumerateArray().Select(m => m.GetProperty("digest").GetString()));
        Assert.Equal(["v1"], await TagsAsync(peer, "team/app"));
        Assert.Null(await FindManifestAsync(peer, "team/app", nightly.Digest.ToString()));
    }

    [Fact]
    public async Task PushPolicy_DestinationProjectMissing_CreatedPrivateAsHarborDoes()
    {
        using var admin = _server.Admin();
        var image = await Images.PushImageAsync(admin, "team/tool", "1", ProxySetup.RandomLayer());
        long registry = await ProxySetup.RegisterAsync(_server, "peer", _destination.BaseAddress, "harbor", "admin", WharfServer.AdminPassword);
        long policy = await CreatePolicyAsync(_server, new
        {
            name = "to-new-project",
            src_registry = new { id = 0 },
            dest_registry = new { id = registry },
            dest_namespace = "arrivals",
            filters = new object[] { new { type = "name", value = "team/tool" } },
        });

        var execution = await WaitAsync(_server, await StartAsync(_server, policy));

        await ReplicationSetup.AssertSucceededAsync(_server, execution);
        using var peer = _destination.Admin();
        Assert.Equal(image.Digest, (await FindManifestAsync(peer, "arrivals/tool", "1"))!.Value.Digest);
        using var project = await peer.GetAsync("api/v2.0/projects?name=arrivals");
        var found = Assert.Single(JsonDocument.Parse(await project.Content.ReadAsStringAsync()).RootElement.EnumerateArray());
        Assert.Equal("false", found.GetProperty("metadata").GetProperty("public").GetString());
    }

    [Fact]
    public async Task PushPolicy_CredentialThatCannotCreateProjects_TaskFailsNamingTheDestination()
    {
        using var admin = _server.Admin();
        await Images.PushImageAsync(admin, "team/tool", "1", ProxySetup.RandomLayer());
        await _destination.CreateUserAsync("pusher");
        await _destination.AddMemberAsync("team", "pusher", Wharf.Registry.Projects.ProjectRole.Developer);
        long registry = await ProxySetup.RegisterAsync(_server, "peer", _destination.BaseAddress, "harbor", "pusher", WharfEndpoint.UserPassword);
        long policy = await CreatePolicyAsync(_server, new
        {
            name = "no-rights",
            src_registry = new { id = 0 },
            dest_registry = new { id = registry },
            dest_namespace = "elsewhere",
            filters = new object[] { new { type = "name", value = "team/tool" } },
        });

        var execution = await WaitAsync(_server, await StartAsync(_server, policy));

        Assert.Equal("Failed", execution.GetProperty("status").GetString());
        using var peer = _destination.Admin();
        using var project = await peer.GetAsync("api/v2.0/projects?name=elsewhere");
        Assert.Equal(0, JsonDocument.Parse(await project.Content.ReadAsStringAsync()).RootElement.GetArrayLength());
    }

    [Fact]
    public async Task Api_BadPoliciesAndNonAdmins_RefusedAndNothingStored()
    {
        long registry = await ProxySetup.RegisterAsync(_server, "peer", _destination.BaseAddress, "harbor", "admin", WharfServer.AdminPassword);
        using var admin = _server.Admin();
        object[] bad =
        [
            new { name = "no-remote" },
            new { name = "both", src_registry = new { id = registry }, dest_registry = new { id = registry } },
            new { name = "unknown", dest_registry = new { id = 999 } },
            new { name = "cron", dest_registry = new { id = registry }, trigger = new { type = "scheduled", trigger_settings = new { cron = "every now and then" } } },
            new { name = "label", dest_registry = new { id = registry }, filters = new object[] { new { type = "label", value = Array.Empty<string>() } } },
            new { name = "label-pull", src_registry = new { id = registry }, dest_namespace = "x", filters = new object[] { new { type = "label", value = new[] { "prod" } } } },
            new { name = "pattern", dest_registry = new { id = registry }, filters = new object[] { new { type = "name", value = "team/[abc" } } },
            new { name = "pull-event", src_registry = new { id = registry }, dest_namespace = "x", trigger = new { type = "event_based" } },
            new { name = "trigger", dest_registry = new { id = registry }, trigger = new { type = "sometimes" } },
        ];
        foreach (object policy in bad)
        {
            using var response = await admin.PostAsJsonAsync("api/v2.0/replication/policies", policy);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{JsonSerializer.Serialize(policy)}: {response.StatusCode}");
        }

        using (var list = await admin.GetAsync("api/v2.0/replication/policies"))
        {
            Assert.Equal("[]", await list.Content.ReadAsStringAsync());
        }

        await _server.CreateUserAsync("dev");
        using var user = _server.Client("dev", WharfEndpoint.UserPassword);
        using (var forbidden = await user.PostAsJsonAsync("api/v2.0/replication/policies", new { name = "p", dest_registry = new { id = registry } }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        }

        using (var start = await user.PostAsJsonAsync("api/v2.0/replication/executions", new { policy_id = 1 }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, start.StatusCode);
        }

        using (var missing = await admin.PostAsJsonAsync("api/v2.0/replication/executions", new { policy_id = 42 }))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        // An endpoint a policy uses cannot be deleted from under it.
        long used = await CreatePolicyAsync(_server, new { name = "uses-peer", dest_registry = new { id = registry } });
        using (var delete = await admin.DeleteAsync($"api/v2.0/registries/{registry}"))
        {
            Assert.Equal(HttpStatusCode.PreconditionFailed, delete.StatusCode);
        }

        using (var deletePolicy = await admin.DeleteAsync($"api/v2.0/replication/policies/{used}"))
        {
            Assert.Equal(HttpStatusCode.OK, deletePolicy.StatusCode);
        }

        using var deleted = await admin.DeleteAsync($"api/v2.0/registries/{registry}");
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
    }
}
