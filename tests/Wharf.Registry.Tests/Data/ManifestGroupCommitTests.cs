using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Wharf.Oci;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Data;

/// <summary>
/// Concurrent manifest PUTs through /v2 share commits (<see cref="Registry.Data.GroupCommit{TWork, TResult}"/>),
/// and each push still gets its own answer: the ones a quota or an immutable tag refuses are refused,
/// the others stored, exactly as if they had come one after another. Runs on PostgreSQL too
/// (<c>WHARF_TEST_DATABASE=postgresql</c>).
/// </summary>
public sealed class ManifestGroupCommitTests : IAsyncLifetime
{
    private WharfServer _server = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("quota");
        await _server.CreateProjectAsync("locked");
        _admin = _server.Admin();
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task ConcurrentPuts_SomeOverQuotaSomeOnImmutableTags_OnlyThoseAreRefused()
    {
        // Twelve manifests of the same size into a project with room for exactly five of them.
        var config = await RegistryPush.PushBlobAsync(_admin, "quota/app", RegistryPush.Config);
        var quotaManifests = Enumerable.Range(0, 12).Select(i => Manifest(config, i)).ToList();
        long used = await QuotaUsedAsync("quota");
        const int Fit = 5;
        await SetLimitAsync("quota", used + (Fit * quotaManifests[0].Length));

        // Tags v* are immutable in "locked": three pushes move an existing one, three add new tags.
        var lockedConfig = await RegistryPush.PushBlobAsync(_admin, "locked/app", RegistryPush.Config);
        var originals = new List<Digest>();
        for (int i = 0; i < 3; i++)
        {
            byte[] original = Manifest(lockedConfig, 100 + i);
            using var put = await RegistryPush.PutManifestAsync(_admin, "locked/app", $"v{i}", original, MediaTypes.OciManifest);
            await WharfEndpoint.ExpectAsync(put, HttpStatusCode.Created);
            originals.Add(Digest.Compute(original));
        }

        await AddImmutableRuleAsync("locked", "v*");

        var pushes = quotaManifests.Select((m, i) => (Repo: "quota/app", Tag: $"t{i}", Body: m))
            .Concat(Enumerable.Range(0, 3).Select(i => (Repo: "locked/app", Tag: $"v{i}", Body: Manifest(lockedConfig, 200 + i))))
            .Concat(Enumerable.Range(0, 3).Select(i => (Repo: "locked/app", Tag: $"new{i}", Body: Manifest(lockedConfig, 300 + i))))
            .ToList();
        using var start = new SemaphoreSlim(0);
        var answers = pushes.Select(p => Task.Run(async () =>
        {
            await start.WaitAsync();
            using var client = _server.Admin();
            using var response = await RegistryPush.PutManifestAsync(client, p.Repo, p.Tag, p.Body, MediaTypes.OciManifest);
            string body = await response.Content.ReadAsStringAsync();
            return (p.Repo, p.Tag, p.Body, response.StatusCode, Body2: body);
        })).ToList();
        start.Release(pushes.Count);
        var results = await Task.WhenAll(answers);

        var quota = results.Where(r => r.Repo == "quota/app").ToList();
        Assert.Equal(Fit, quota.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.All(quota.Where(r => r.StatusCode != HttpStatusCode.Created), r =>
        {
            Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
            Assert.Contains("quota exceeded", r.Body2, StringComparison.Ordinal);
        });
        Assert.Equal(used + (Fit * quotaManifests[0].Length), await QuotaUsedAsync("quota"));

        var locked = results.Where(r => r.Repo == "locked/app").ToList();
        Assert.All(locked.Where(r => r.Tag.StartsWith('v')), r =>
        {
            Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
            Assert.Contains("immutable", r.Body2, StringComparison.OrdinalIgnoreCase);
        });
        Assert.All(locked.Where(r => r.Tag.StartsWith('n')), r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));

        // What was acknowledged is stored under its tag; what was refused left nothing.
        foreach (var r in results)
        {
            using var get = await _admin.GetAsync($"v2/{r.Repo}/manifests/{r.Tag}");
            if (r.StatusCode == HttpStatusCode.Created)
            {
                Assert.Equal(HttpStatusCode.OK, get.StatusCode);
                Assert.Equal(Digest.Compute(r.Body).ToString(), get.Headers.GetValues("Docker-Content-Digest").Single());
                Assert.Equal(r.Body, await get.Content.ReadAsByteArrayAsync());
            }
            else if (r.Repo == "quota/app")
            {
                Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
                using var byDigest = await _admin.GetAsync($"v2/{r.Repo}/manifests/{Digest.Compute(r.Body)}");
                Assert.Equal(HttpStatusCode.NotFound, byDigest.StatusCode);
            }
            else
            {
                Assert.Equal(originals[int.Parse(r.Tag[1..], CultureInfo.InvariantCulture)].ToString(), get.Headers.GetValues("Docker-Content-Digest").Single());
            }
        }
    }

    [Fact]
    public async Task ConcurrentPuts_ManyTagsAtOnce_AllStoredAndListed()
    {
        var config = await RegistryPush.PushBlobAsync(_admin, "quota/many", RegistryPush.Config);
        var manifests = Enumerable.Range(0, 40).Select(i => Manifest(config, i)).ToList();

        var answers = await Task.WhenAll(manifests.Select((m, i) => Task.Run(async () =>
        {
            using var client = _server.Admin();
            using var put = await RegistryPush.PutManifestAsync(client, "quota/many", $"t{i:D2}", m, MediaTypes.OciManifest);
            return put.StatusCode;
        })));

        Assert.All(answers, s => Assert.Equal(HttpStatusCode.Created, s));
        var tags = (await _admin.GetFromJsonAsync<JsonElement>("v2/quota/many/tags/list?n=100")).GetProperty("tags").EnumerateArray().Select(t => t.GetString()).ToList();
        Assert.Equal(Enumerable.Range(0, 40).Select(i => $"t{i:D2}"), tags);
    }

    /// <summary>An OCI manifest of the config alone, made distinct (and all of one size) by a fixed-width annotation.</summary>
    private static byte[] Manifest(Digest config, int index) => Encoding.UTF8.GetBytes(
        $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"{config}\",\"size\":{RegistryPush.Config.Length}}},\"layers\":[],\"annotations\":{{\"n\":\"{index:D6}\"}}}}");

    private async Task SetLimitAsync(string project, long bytes)
    {
        long id = (await _admin.GetFromJsonAsync<JsonElement>($"api/v2.0/projects/{project}")).GetProperty("project_id").GetInt64();
        using var put = await _admin.PutAsJsonAsync($"api/v2.0/quotas/{id}", new { hard = new { storage = bytes } });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
    }

    private async Task<long> QuotaUsedAsync(string project)
    {
        long id = (await _admin.GetFromJsonAsync<JsonElement>($"api/v2.0/projects/{project}")).GetProperty("project_id").GetInt64();
        var quotas = await _admin.GetFromJsonAsync<JsonElement>($"api/v2.0/quotas?reference=project&reference_id={id}");
        return quotas[0].GetProperty("used").GetProperty("storage").GetInt64();
    }

    private async Task AddImmutableRuleAsync(string project, string tagPattern)
    {
        using var response = await _admin.PostAsJsonAsync($"api/v2.0/projects/{project}/immutabletagrules", new
        {
            disabled = false,
            action = "immutable",
            template = "immutable_template",
            tag_selectors = new[] { new { kind = "doublestar", decoration = "matches", pattern = tagPattern } },
            scope_selectors = new { repository = new[] { new { kind = "doublestar", decoration = "repoMatches", pattern = "**" } } },
        });
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.Created);
    }
}
