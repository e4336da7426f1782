using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Wharf.Oci;
using Wharf.Registry.Tests.Proxy;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;
using static Wharf.Registry.Tests.Replication.ReplicationSetup;

namespace Wharf.Registry.Tests.Replication;

/// <summary>
/// Replication between this wharfd and a real docker-registry on 127.0.0.1 (its access log counts
/// the uploads), through Harbor's API: push and pull rules, filters, cron, push events, stop and
/// re-run, deletion.
/// </summary>
public sealed class ReplicationTests : IAsyncLifetime
{
    private WharfServer _server = null!;
    private DockerRegistry _registry = null!;
    private HttpClient _admin = null!;
    private HttpClient _remote = null!;
    private long _registryId;

    public async Task InitializeAsync()
    {
        _registry = await DockerRegistry.StartAsync("upstream");
        _server = await WharfServer.StartAsync(new Dictionary<string, string?>
        {
            ["Registry:Replication:BlobConcurrency"] = "1", // one upload at a time: the stop test counts them
            ["Registry:Replication:SchedulePollInterval"] = "00:00:00.200",
        });
        await _server.CreateProjectAsync("team");
        _admin = _server.Admin();
        _remote = _registry.Client();
        _registryId = await ProxySetup.RegisterAsync(_server, "dr", _registry.Url);
    }

    public async Task DisposeAsync()
    {
        _admin?.Dispose();
        _remote?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _registry?.Dispose();
    }

    [Fact]
    public async Task PushPolicy_NameAndTagFilter_CopiesExactlyTheMatchingTagsByteForByte()
    {
        var app10 = await Images.PushImageAsync(_admin, "team/app", "1.0", ProxySetup.RandomLayer(), ProxySetup.RandomLayer(50_000));
        var app11 = await Images.PushImageAsync(_admin, "team/app", "1.1", ProxySetup.RandomLayer());
        await Images.PushImageAsync(_admin, "team/app", "dev", ProxySetup.RandomLayer());
        await Images.PushImageAsync(_admin, "team/tool", "1.0", ProxySetup.RandomLayer());
        long policy = await CreatePolicyAsync(_server, new
        {
            name = "to-dr",
            dest_registry = new { id = _registryId },
            trigger = new { type = "manual" },
            filters = new object[] { new { type = "name", value = "team/a*" }, new { type = "tag", value = "1.*" } },
        });

        var execution = await WaitAsync(_server, await StartAsync(_server, policy));

        await ReplicationSetup.AssertSucceededAsync(_server, execution);
        Assert.Equal(2, execution.GetProperty("total").GetInt32());
        Assert.True(execution.GetProperty("bytes").GetInt64() > 50_000, execution.ToString());
        Assert.Equal(["1.0", "1.1"], await TagsAsync(_remote, "team/app"));
        Assert.Empty(await TagsAsync(_remote, "team/tool"));
        Assert.Equal(app10.Digest, (await FindManifestAsync(_remote, "team/app", "1.0"))!.Value.Digest);
        Assert.Equal(app11.Body, (await FindManifestAsync(_remote, "team/app", "1.1"))!.Value.Body);
        foreach (string blob in ProxySetup.BlobsOf(app10.Body))
        {
            Assert.Equal(blob, Digest.Compute(await ProxySetup.GetBlobAsync(_remote, "team/app", blob)).ToString());
        }

        Assert.True(Skopeo.IsInstalled, "skopeo is not installed");
        using (var skopeo = new Skopeo())
        {
            var raw = await skopeo.RunAsync(null, "inspect", "--raw", "--tls-verify=false", $"docker://127.0.0.1:{_registry.Port}/team/app:1.0");
            Assert.True(raw.ExitCode == 0, raw.ToString());
            Assert.Equal(app10.Digest, Digest.Compute(System.Text.Encoding.UTF8.GetBytes(raw.Stdout)));
        }

        var tasks = await TasksAsync(_server, execution.GetProperty("id").GetInt64());
        Assert.Equal(["team/app:1.0", "team/app:1.1"], tasks.Select(t => t.GetProperty("src_resource").GetString()).Order(StringComparer.Ordinal));
        Assert.All(tasks, t => Assert.Equal("Succeed", t.GetProperty("status").GetString()));
        using var log = await _admin.GetAsync($"api/v2.0/replication/executions/{execution.GetProperty("id")}/tasks/{tasks[0].GetProperty("id")}/log");
        Assert.Contains("Succeed", await log.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // A second run finds everything there: no blob is uploaded again.
        int uploads = Uploads("team/app");
        var again = await WaitAsync(_server, await StartAsync(_server, policy));
        await ReplicationSetup.AssertSucceededAsync(_server, again);
        Assert.Equal(uploads, Uploads("team/app"));
    }

    [Fact]
    public async Task PullPolicy_FromDockerRegistry_LandsInTheNamespaceWithTheSameDigests()
    {
        var image = await Images.PushImageAsync(_remote, "upstream/base", "3.19", ProxySetup.RandomLayer(), ProxySetup.RandomLayer());
        await Images.PushImageAsync(_remote, "upstream/base", "edge", ProxySetup.RandomLayer());
        long policy = await CreatePolicyAsync(_server, new
        {
            name = "from-dr",
            src_registry = new { id = _registryId },
            dest_namespace = "mirror",
            dest_namespace_replace_count = 1,
            filters = new object[] { new { type = "name", value = "upstream/**" }, new { type = "tag", value = "edge", decoration = "excludes" } },
        });

        var execution = await WaitAsync(_server, await StartAsync(_server, policy));

        await ReplicationSetup.AssertSucceededAsync(_server, execution);
        Assert.Equal(["3.19"], await TagsAsync(_admin, "mirror/base"));
        var local = await FindManifestAsync(_admin, "mirror/base", "3.19");
        Assert.Equal(image.Body, local!.Value.Body);
        foreach (string blob in ProxySetup.BlobsOf(image.Body))
        {
            Assert.Equal(blob, Digest.Compute(await ProxySetup.GetBlobAsync(_admin, "mirror/base", blob)).ToString());
        }
    }

    [Fact]
    public async Task ScheduledPolicy_CronEverySecond_RunsWhenTheClockReachesIt()
    {
        await Images.PushImageAsync(_admin, "team/cron", "1", ProxySetup.RandomLayer());
        long policy = await CreatePolicyAsync(_server, new
        {
            name = "every-second",
            dest_registry = new { id = _registryId },
            trigger = new { type = "scheduled", trigger_settings = new { cron = "* * * * * *" } },
            filters = new object[] { new { type = "name", value = "team/cron" } },
        });

        var executions = await WaitForExecutionsAsync(_server, policy, 1, () => _server.Clock.Advance(TimeSpan.FromSeconds(1)));

        Assert.Equal("scheduled", executions[^1].GetProperty("trigger").GetString());
        Assert.Equal("Succeed", executions[^1].GetProperty("status").GetString());
        Assert.Equal(["1"], await TagsAsync(_remote, "team/cron"));
    }

    [Fact]
    public async Task EventBasedPolicy_PushOfMatchingTag_ReplicatedWithoutAnyoneStartingIt()
    {
        long policy = await CreatePolicyAsync(_server, new
        {
            name = "on-push",
            dest_registry = new { id = _registryId },
            trigger = new { type = "event_based" },
            filters = new object[] { new { type = "name", value = "team/**" }, new { type = "tag", value = "v*" } },
        });

        var pushed = await Images.PushImageAsync(_admin, "team/svc", "v1", ProxySetup.RandomLayer());
        await Images.PushImageAsync(_admin, "team/svc", "nightly", ProxySetup.RandomLayer());

        var executions = await WaitForExecutionsAsync(_server, policy, 1);
        Assert.Single(executions);
        Assert.Equal("event_based", executions[0].GetProperty("trigger").GetString());
        Assert.Equal("Succeed", executions[0].GetProperty("status").GetString());
        Assert.Equal(["v1"], await TagsAsync(_remote, "team/svc"));
        Assert.Equal(pushed.Digest, (await FindManifestAsync(_remote, "team/svc", "v1"))!.Value.Digest);
    }

    [Fact]
    public async Task Execution_StoppedMidCopyThenRunAgain_ResumesAndUploadsEachBlobOnce()
    {
        var layers = Enumerable.Range(0, 6).Select(_ => ProxySetup.RandomLayer(256 * 1024)).ToArray();
        var image = await Images.PushImageAsync(_admin, "team/big", "1", layers);
        int blobs = ProxySetup.BlobsOf(image.Body).Count;
        long policy = await CreatePolicyAsync(_server, new
        {
            name = "slow",
            dest_registry = new { id = _registryId },
            filters = new object[] { new { type = "name", value = "team/big" } },
            speed = 256, // KB/s: about six seconds for the image, time to stop it in the middle
        });

        long first = await StartAsync(_server, policy);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Uploads("team/big") == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "no blob reached the destination in 30 s");
            await Task.Delay(50);
        }

        using (var stop = await _admin.PutAsync($"api/v2.0/replication/executions/{first}", null))
        {
            await WharfEndpoint.ExpectAsync(stop, HttpStatusCode.OK);
        }

        var stopped = await WaitAsync(_server, first);
        Assert.Equal("Stopped", stopped.GetProperty("status").GetString());
        int copiedBefore = Uploads("team/big");
        Assert.InRange(copiedBefore, 1, blobs - 1);
        Assert.Null(await FindManifestAsync(_remote, "team/big", "1"));

        using (var unthrottle = await _admin.PutAsJsonAsync($"api/v2.0/replication/policies/{policy}", new { speed = -1 }))
        {
            await WharfEndpoint.ExpectAsync(unthrottle, HttpStatusCode.OK);
        }

        var second = await WaitAsync(_server, await StartAsync(_server, policy));

        await ReplicationSetup.AssertSucceededAsync(_server, second);
        Assert.Equal(blobs, Uploads("team/big")); // every blob uploaded exactly once over both runs
        var task = Assert.Single(await TasksAsync(_server, second.GetProperty("id").GetInt64()));
        int skipped = task.GetProperty("blobs_skipped").GetInt32();
        Assert.True(skipped >= copiedBefore, $"{skipped} blobs skipped, {copiedBefore} were there");
        Assert.Equal(blobs, skipped + task.GetProperty("blobs_copied").GetInt32());
        Assert.Equal(image.Digest, (await FindManifestAsync(_remote, "team/big", "1"))!.Value.Digest);
    }

    [Fact]
    public async Task Deletion_ReplicatedOnlyByThePolicyThatSaysSo()
    {
        object Policy(string name, string ns, bool deletion) => new
        {
            name,
            dest_registry = new { id = _registryId },
            dest_namespace = ns,
            dest_namespace_replace_count = 0,
            trigger = new { type = "event_based" },
            filters = new object[] { new { type = "name", value = "team/gone" } },
            deletion,
        };
        long deleting = await CreatePolicyAsync(_server, Policy("deleting", "a", deletion: true));
        long keeping = await CreatePolicyAsync(_server, Policy("keeping", "b", deletion: false));
        var image = await Images.PushImageAsync(_admin, "team/gone", "1", ProxySetup.RandomLayer());
        await WaitForExecutionsAsync(_server, deleting, 1);
        await WaitForExecutionsAsync(_server, keeping, 1);
        Assert.NotNull(await FindManifestAsync(_remote, "a/team/gone", "1"));
        Assert.NotNull(await FindManifestAsync(_remote, "b/team/gone", "1"));

        using (var delete = await _admin.DeleteAsync($"v2/team/gone/manifests/{image.Digest}"))
        {
            Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
        }

        var executions = await WaitForExecutionsAsync(_server, deleting, 2);
        Assert.Equal("Succeed", executions[0].GetProperty("status").GetString());
        Assert.Null(await FindManifestAsync(_remote, "a/team/gone", image.Digest.ToString()));
        Assert.NotNull(await FindManifestAsync(_remote, "b/team/gone", "1"));
        Assert.Single(await ExecutionsAsync(_server, keeping));

        // A tag deleted here: docker-registry cannot delete a tag alone, so the tagged manifest goes.
        var second = await Images.PushImageAsync(_admin, "team/gone", "2", ProxySetup.RandomLayer());
        await WaitForExecutionsAsync(_server, deleting, 3);
        await WaitForExecutionsAsync(_server, keeping, 2);
        using (var delete = await _admin.DeleteAsync("v2/team/gone/manifests/2"))
        {
            Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
        }

        executions = await WaitForExecutionsAsync(_server, deleting, 4);
        Assert.Equal("Succeed", executions[0].GetProperty("status").GetString());
        Assert.Null(await FindManifestAsync(_remote, "a/team/gone", second.Digest.ToString()));
        Assert.Equal(second.Digest, (await FindManifestAsync(_remote, "b/team/gone", "2"))!.Value.Digest);
        Assert.Equal(2, (await ExecutionsAsync(_server, keeping)).Length);
    }

    [Fact]
    public async Task Restart_DuringAnExecution_MarksItFailedAndANewRunCompletes()
    {
        await Images.PushImageAsync(_admin, "team/restart", "1", ProxySetup.RandomLayer(512 * 1024));
        long policy = await CreatePolicyAsync(_server, new
        {
            name = "cut-off",
            dest_registry = new { id = _registryId },
            filters = new object[] { new { type = "name", value = "team/restart" } },
            speed = 64,
        });
        long first = await StartAsync(_server, policy);

        await _server.RestartAsync();
        using var admin = _server.Admin();

        var interrupted = await ExecutionAsync(_server, first);
        Assert.Equal("Failed", interrupted.GetProperty("status").GetString());
        Assert.Contains("interrupted", interrupted.GetProperty("status_text").GetString(), StringComparison.Ordinal);
        using (var unthrottle = await admin.PutAsJsonAsync($"api/v2.0/replication/policies/{policy}", new { speed = -1 }))
        {
            await WharfEndpoint.ExpectAsync(unthrottle, HttpStatusCode.OK);
        }

        Assert.Equal("Succeed", (await WaitAsync(_server, await StartAsync(_server, policy))).GetProperty("status").GetString());
        Assert.NotNull(await FindManifestAsync(_remote, "team/restart", "1"));
    }

    /// <summary>Blob uploads docker-registry completed into <paramref name="repository"/>, from its access log.</summary>
    private int Uploads(string repository) =>
        Regex.Matches(_registry.Logs, "\"PUT /v2/" + Regex.Escape(repository) + "/blobs/uploads/[^ \"]*digest=[^ \"]* HTTP/[0-9.]+\" 201 ").Count;
}
