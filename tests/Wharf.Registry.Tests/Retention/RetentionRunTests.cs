using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Wharf.Oci;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;
using static Wharf.Registry.Tests.Retention.RetentionHarness;

namespace Wharf.Registry.Tests.Retention;

/// <summary>
/// Retention runs through Harbor's API on a real server: what a dry run lists, what a real run removes,
/// and what it must keep (index children, referrers of kept artifacts, immutable tags).
/// </summary>
public sealed class RetentionRunTests : IAsyncLifetime
{
    private WharfServer _server = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        // No grace periods: the GC after a run frees what the run released, so the run can report it.
        _server = await WharfServer.StartAsync(new()
        {
            ["Registry:GcGracePeriod"] = "00:00:00",
            ["Registry:UnreferencedLinkGracePeriod"] = "00:00:00",
        });
        _admin = _server.Admin();
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<long> ProjectAsync(string name)
    {
        await _server.CreateProjectAsync(name);
        return await ProjectIdAsync(_admin, name);
    }

    private async Task<Digest> PushAsync(string repository, string tag)
    {
        var (digest, _) = await Images.PushImageAsync(_admin, repository, tag, RandomNumberGenerator.GetBytes(256));
        _server.Clock.Advance(TimeSpan.FromMinutes(1)); // each push later than the one before
        return digest;
    }

    [Fact]
    public async Task Run_ThirtyTagsKeepLatestFivePlusPattern_DryRunListsRealRunRemovesAndGcFrees()
    {
        long projectId = await ProjectAsync("keep");
        var expected = new List<string>();
        for (int i = 1; i <= 30; i++)
        {
            string tag = i % 10 == 0 ? $"release-{i}" : $"v{i}";
            await PushAsync("keep/app", tag);
            if (i > 25 || tag.StartsWith("release-", StringComparison.Ordinal))
            {
                expected.Add(tag);
            }
        }

        long policy = await CreatePolicyAsync(_admin, Policy(projectId, null,
            Rule("latestPushedK", 5),
            Rule("always", null, tagPattern: "{release-*,stable}")));
        using (var project = JsonDocument.Parse(await _admin.GetStringAsync("api/v2.0/projects/keep")))
        {
            Assert.Equal(policy.ToString(System.Globalization.CultureInfo.InvariantCulture), project.RootElement.GetProperty("metadata").GetProperty("retention_id").GetString());
        }

        var dry = await RunAsync(_admin, policy, dryRun: true);
        Assert.Equal("Success", dry.GetProperty("status").GetString());
        Assert.True(dry.GetProperty("dry_run").GetBoolean());
        Assert.Equal("MANUAL", dry.GetProperty("trigger").GetString());
        Assert.Equal(23, dry.GetProperty("removed").GetInt64());
        string dryLog = await LogsAsync(_admin, policy, dry.GetProperty("id").GetInt64());
        Assert.Equal(23, CountLines(dryLog, "would delete "));
        Assert.Contains("[v1]: no rule retains it", dryLog, StringComparison.Ordinal);
        Assert.Contains("[release-10]: rule 2 (always", dryLog, StringComparison.Ordinal);
        Assert.Equal(30, (await TagsAsync(_admin, "keep/app")).Length); // a dry run deletes nothing

        _server.Clock.Advance(TimeSpan.FromMinutes(5));
        var real = await RunAsync(_admin, policy, dryRun: false);

        Assert.Equal("Success", real.GetProperty("status").GetString());
        Assert.False(real.GetProperty("dry_run").GetBoolean());
        Assert.Equal(23, real.GetProperty("removed").GetInt64());
        Assert.Equal(expected.Order(StringComparer.Ordinal), await TagsAsync(_admin, "keep/app"));
        // 23 images of 256-byte layers and their manifests left the project's usage; GC then freed their blobs.
        Assert.True(real.GetProperty("released_bytes").GetInt64() >= 23 * 256, real.ToString());
        Assert.True(real.GetProperty("gc_bytes_freed").GetInt64() >= 23 * 256, real.ToString());
        long gcId = real.GetProperty("gc_id").GetInt64();
        using (var gc = JsonDocument.Parse(await _admin.GetStringAsync($"api/v2.0/system/gc/{gcId}")))
        {
            Assert.Equal("Success", gc.RootElement.GetProperty("job_status").GetString());
        }

        using var tasks = JsonDocument.Parse(await _admin.GetStringAsync($"api/v2.0/retentions/{policy}/executions/{real.GetProperty("id").GetInt64()}/tasks"));
        var task = Assert.Single(tasks.RootElement.EnumerateArray());
        Assert.Equal("keep/app", task.GetProperty("repository").GetString());
        Assert.Equal(30, task.GetProperty("total").GetInt32());
        Assert.Equal(7, task.GetProperty("retained").GetInt32());

        using var executions = await _admin.GetAsync($"api/v2.0/retentions/{policy}/executions");
        Assert.Equal("2", executions.Headers.GetValues("X-Total-Count").Single());
    }

    [Fact]
    public async Task Run_UntaggedArtifacts_KeptOnlyWhenTheSelectorIncludesThem()
    {
        long projectId = await ProjectAsync("untag");
        await PushAsync("untag/app", "v1");
        var (loose, _) = await Images.PushImageAsync(_admin, "untag/app", "tmp", RandomNumberGenerator.GetBytes(64));
        (await _admin.DeleteAsync("v2/untag/app/manifests/tmp")).EnsureSuccessStatusCode(); // now untagged
        Assert.Equal(HttpStatusCode.OK, await ManifestStatusAsync(_admin, "untag/app", loose));

        long policy = await CreatePolicyAsync(_admin, Policy(projectId, null, Rule("always", null, untagged: true)));
        var kept = await RunAsync(_admin, policy, dryRun: false);
        Assert.Equal(0, kept.GetProperty("removed").GetInt64());
        Assert.Equal(HttpStatusCode.OK, await ManifestStatusAsync(_admin, "untag/app", loose));

        using (var put = await _admin.PutAsJsonAsync($"api/v2.0/retentions/{policy}", Policy(projectId, null, Rule("always", null, untagged: false))))
        {
            await WharfEndpoint.ExpectAsync(put, HttpStatusCode.OK);
        }

        using (var doc = JsonDocument.Parse(await _admin.GetStringAsync($"api/v2.0/retentions/{policy}")))
        {
            Assert.Equal("{\"untagged\":false}", doc.RootElement.GetProperty("rules")[0].GetProperty("tag_selectors")[0].GetProperty("extras").GetString());
        }

        var run = await RunAsync(_admin, policy, dryRun: false);
        Assert.Equal(1, run.GetProperty("removed").GetInt64());
        Assert.Equal(HttpStatusCode.NotFound, await ManifestStatusAsync(_admin, "untag/app", loose));
        Assert.Equal(["v1"], await TagsAsync(_admin, "untag/app"));
    }

    [Fact]
    public async Task Run_IndexKept_ItsChildrenStay_IndexRemoved_ItsChildrenGo()
    {
        long projectId = await ProjectAsync("multi");
        var (oldIndex, oldChild) = await PushIndexAsync(_admin, "multi/app", "old");
        _server.Clock.Advance(TimeSpan.FromMinutes(1));
        var (newIndex, newChild) = await PushIndexAsync(_admin, "multi/app", "new");
        _server.Clock.Advance(TimeSpan.FromMinutes(1));

        long policy = await CreatePolicyAsync(_admin, Policy(projectId, null, Rule("latestPushedK", 1)));
        var run = await RunAsync(_admin, policy, dryRun: false);

        Assert.Equal("Success", run.GetProperty("status").GetString());
        Assert.Equal(1, run.GetProperty("removed").GetInt64());
        Assert.Equal(["new"], await TagsAsync(_admin, "multi/app"));
        Assert.Equal(HttpStatusCode.OK, await ManifestStatusAsync(_admin, "multi/app", newIndex));
        Assert.Equal(HttpStatusCode.OK, await ManifestStatusAsync(_admin, "multi/app", newChild));
        Assert.Equal(HttpStatusCode.NotFound, await ManifestStatusAsync(_admin, "multi/app", oldIndex));
        Assert.Equal(HttpStatusCode.NotFound, await ManifestStatusAsync(_admin, "multi/app", oldChild));
    }

    [Fact]
    public async Task Run_ReferrerOfAKeptArtifact_IsKept_OfARemovedOne_GoesWithIt()
    {
        long projectId = await ProjectAsync("signed");
        var (oldImage, oldBody) = await Images.PushImageAsync(_admin, "signed/app", "v1", RandomNumberGenerator.GetBytes(64));
        var oldSig = await PushReferrerAsync(_admin, "signed/app", oldImage, oldBody.Length);
        _server.Clock.Advance(TimeSpan.FromMinutes(1));
        var (newImage, newBody) = await Images.PushImageAsync(_admin, "signed/app", "v2", RandomNumberGenerator.GetBytes(64));
        var newSig = await PushReferrerAsync(_admin, "signed/app", newImage, newBody.Length);
        _server.Clock.Advance(TimeSpan.FromMinutes(1));

        // The signatures are untagged and the newest pushes: were they candidates, latestPushedK 1 would keep one of them.
        long policy = await CreatePolicyAsync(_admin, Policy(projectId, null, Rule("latestPushedK", 1, untagged: true)));
        var dry = await RunAsync(_admin, policy, dryRun: true);
        string dryLog = await LogsAsync(_admin, policy, dry.GetProperty("id").GetInt64());
        Assert.Contains($"would delete {oldSig} [untagged]: referrer of {oldImage}", dryLog, StringComparison.Ordinal);

        var run = await RunAsync(_admin, policy, dryRun: false);

        Assert.Equal(1, run.GetProperty("removed").GetInt64());
        Assert.Equal(HttpStatusCode.OK, await ManifestStatusAsync(_admin, "signed/app", newImage));
        Assert.Equal(HttpStatusCode.OK, await ManifestStatusAsync(_admin, "signed/app", newSig));
        Assert.Equal(HttpStatusCode.NotFound, await ManifestStatusAsync(_admin, "signed/app", oldImage));
        Assert.Equal(HttpStatusCode.NotFound, await ManifestStatusAsync(_admin, "signed/app", oldSig));
        using var referrers = JsonDocument.Parse(await _admin.GetStringAsync($"v2/signed/app/referrers/{newImage}"));
        Assert.Equal(newSig.ToString(), Assert.Single(referrers.RootElement.GetProperty("manifests").EnumerateArray()).GetProperty("digest").GetString());
    }

    [Fact]
    public async Task Run_ImmutableTag_SurvivesAndTheLogSaysWhy()
    {
        long projectId = await ProjectAsync("frozen");
        await PushAsync("frozen/app", "v1");
        await PushAsync("frozen/app", "v2");
        await PushAsync("frozen/app", "v3");
        using (var rule = await _admin.PostAsJsonAsync("api/v2.0/projects/frozen/immutabletagrules", new
        {
            action = "immutable",
            template = "immutable_template",
            tag_selectors = new[] { new { kind = "doublestar", decoration = "matches", pattern = "v1" } },
            scope_selectors = new { repository = new[] { new { kind = "doublestar", decoration = "repoMatches", pattern = "**" } } },
        }))
        {
            await WharfEndpoint.ExpectAsync(rule, HttpStatusCode.Created);
        }

        long policy = await CreatePolicyAsync(_admin, Policy(projectId, null, Rule("latestPushedK", 1)));
        var run = await RunAsync(_admin, policy, dryRun: false);

        Assert.Equal("Success", run.GetProperty("status").GetString());
        Assert.Equal(1, run.GetProperty("removed").GetInt64());
        Assert.Equal(["v1", "v3"], await TagsAsync(_admin, "frozen/app"));
        string log = await LogsAsync(_admin, policy, run.GetProperty("id").GetInt64());
        Assert.Contains("[v1]: tag v1 is immutable (immutable rule", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_RepositorySelector_LeavesOtherRepositoriesAlone()
    {
        long projectId = await ProjectAsync("scope");
        await PushAsync("scope/tmp/a", "v1");
        await PushAsync("scope/tmp/a", "v2");
        await PushAsync("scope/keep", "v1");
        await PushAsync("scope/keep", "v2");

        long policy = await CreatePolicyAsync(_admin, Policy(projectId, null, Rule("latestPushedK", 1, repoPattern: "tmp/**")));
        var run = await RunAsync(_admin, policy, dryRun: false);

        Assert.Equal(1, run.GetProperty("removed").GetInt64());
        Assert.Equal(["v2"], await TagsAsync(_admin, "scope/tmp/a"));
        Assert.Equal(["v1", "v2"], await TagsAsync(_admin, "scope/keep"));
    }

    private static int CountLines(string log, string prefix) =>
        log.Split('\n').Count(l => l.StartsWith(prefix, StringComparison.Ordinal));
}
