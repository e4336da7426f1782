using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Registry.Projects;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;
using static Wharf.Registry.Tests.Retention.RetentionHarness;

namespace Wharf.Registry.Tests.Retention;

/// <summary>Harbor's /retentions API: shapes, who may do what, what a bad policy gets, and the schedule.</summary>
public sealed class RetentionApiTests : IAsyncLifetime
{
    private WharfServer _server = null!;
    private HttpClient _admin = null!;
    private long _projectId;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync(new() { ["Registry:Retention:SchedulePollInterval"] = "00:00:00.100" });
        _admin = _server.Admin();
        await _server.CreateProjectAsync("ret");
        _projectId = await ProjectIdAsync(_admin, "ret");
        foreach (var (user, role) in new[] { ("lead", ProjectRole.ProjectAdmin), ("keeper", ProjectRole.Maintainer), ("dev", ProjectRole.Developer), ("visitor", ProjectRole.Guest) })
        {
            await _server.CreateUserAsync(user);
            await _server.AddMemberAsync("ret", user, role);
        }

        await _server.CreateUserAsync("stranger");
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
    }

    private HttpClient As(string user) => _server.Client(user, WharfEndpoint.UserPassword);

    [Fact]
    public async Task Crud_ProjectAdmin_CreatesReadsUpdatesDeletesInHarborsShape()
    {
        using var lead = As("lead");
        long id = await CreatePolicyAsync(lead, Policy(_projectId, "0 0 3 * * *", Rule("latestPushedK", 5, tagPattern: "v*", repoPattern: "app/**")));

        using (var doc = JsonDocument.Parse(await lead.GetStringAsync($"api/v2.0/retentions/{id}")))
        {
            var p = doc.RootElement;
            Assert.Equal(id, p.GetProperty("id").GetInt64());
            Assert.Equal("or", p.GetProperty("algorithm").GetString());
            Assert.Equal(("Schedule", "0 0 3 * * *"), (p.GetProperty("trigger").GetProperty("kind").GetString(), p.GetProperty("trigger").GetProperty("settings").GetProperty("cron").GetString()));
            Assert.Equal(("project", _projectId), (p.GetProperty("scope").GetProperty("level").GetString(), p.GetProperty("scope").GetProperty("ref").GetInt64()));
            var rule = Assert.Single(p.GetProperty("rules").EnumerateArray());
            Assert.Equal("retain", rule.GetProperty("action").GetString());
            Assert.Equal("latestPushedK", rule.GetProperty("template").GetString());
            Assert.Equal(5, rule.GetProperty("params").GetProperty("latestPushedK").GetInt32());
            var tag = rule.GetProperty("tag_selectors")[0];
            Assert.Equal(("doublestar", "matches", "v*"), (tag.GetProperty("kind").GetString(), tag.GetProperty("decoration").GetString(), tag.GetProperty("pattern").GetString()));
            Assert.Equal("app/**", rule.GetProperty("scope_selectors").GetProperty("repository")[0].GetProperty("pattern").GetString());
        }

        using (var put = await lead.PutAsJsonAsync($"api/v2.0/retentions/{id}", Policy(_projectId, "", Rule("nDaysSinceLastPull", 30), Rule("nDaysSinceLastPush", 7), Rule("latestPulledN", 2))))
        {
            await WharfEndpoint.ExpectAsync(put, HttpStatusCode.OK);
        }

        using (var doc = JsonDocument.Parse(await lead.GetStringAsync($"api/v2.0/retentions/{id}")))
        {
            Assert.Equal(3, doc.RootElement.GetProperty("rules").GetArrayLength());
            Assert.Equal("", doc.RootElement.GetProperty("trigger").GetProperty("settings").GetProperty("cron").GetString());
        }

        using (var second = await lead.PostAsJsonAsync("api/v2.0/retentions", Policy(_projectId, null, Rule("always", null))))
        {
            await ErrorAssert.HasErrorAsync(second, HttpStatusCode.Conflict, "CONFLICT");
        }

        using (var delete = await lead.DeleteAsync($"api/v2.0/retentions/{id}"))
        {
            await WharfEndpoint.ExpectAsync(delete, HttpStatusCode.OK);
        }

        using var gone = await lead.GetAsync($"api/v2.0/retentions/{id}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        using var project = JsonDocument.Parse(await lead.GetStringAsync("api/v2.0/projects/ret"));
        Assert.False(project.RootElement.GetProperty("metadata").TryGetProperty("retention_id", out _));
    }

    [Fact]
    public async Task Permissions_AdminsAndMaintainersManage_DevelopersAndGuestsRead_OutsidersSeeNothing()
    {
        var policy = Policy(_projectId, null, Rule("always", null));
        foreach (string reader in new[] { "dev", "visitor" })
        {
            using var client = As(reader);
            using var create = await client.PostAsJsonAsync("api/v2.0/retentions", policy);
            await ErrorAssert.HasErrorAsync(create, HttpStatusCode.Forbidden, "FORBIDDEN");
        }

        using var stranger = As("stranger");
        using (var create = await stranger.PostAsJsonAsync("api/v2.0/retentions", policy))
        {
            Assert.Equal(HttpStatusCode.NotFound, create.StatusCode); // a private project is invisible to outsiders
        }

        using var keeper = As("keeper");
        long id = await CreatePolicyAsync(keeper, policy);

        foreach (string reader in new[] { "dev", "visitor" })
        {
            using var client = As(reader);
            using (var get = await client.GetAsync($"api/v2.0/retentions/{id}"))
            {
                Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            }

            using (var run = await client.PostAsJsonAsync($"api/v2.0/retentions/{id}/executions", new { dry_run = true }))
            {
                await ErrorAssert.HasErrorAsync(run, HttpStatusCode.Forbidden, "FORBIDDEN");
            }

            using (var put = await client.PutAsJsonAsync($"api/v2.0/retentions/{id}", policy))
            {
                await ErrorAssert.HasErrorAsync(put, HttpStatusCode.Forbidden, "FORBIDDEN");
            }

            using var delete = await client.DeleteAsync($"api/v2.0/retentions/{id}");
            await ErrorAssert.HasErrorAsync(delete, HttpStatusCode.Forbidden, "FORBIDDEN");
        }

        using (var get = await stranger.GetAsync($"api/v2.0/retentions/{id}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        }

        using (var anonymous = _server.Client())
        using (var get = await anonymous.GetAsync($"api/v2.0/retentions/{id}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        }

        using var lead = As("lead");
        var run2 = await RunAsync(lead, id, dryRun: true);
        Assert.Equal("Success", run2.GetProperty("status").GetString());
        using var developer = As("dev");
        using var executions = JsonDocument.Parse(await developer.GetStringAsync($"api/v2.0/retentions/{id}/executions"));
        Assert.Equal(1, executions.RootElement.GetArrayLength());
    }

    public static TheoryData<string, object> BadPolicies(long projectId) => new()
    {
        { "bad cron", Policy(projectId, "not a cron", Rule("always", null)) },
        { "cron out of range", Policy(projectId, "0 0 25 * * *", Rule("always", null)) },
        { "unknown template", Policy(projectId, null, Rule("latestActiveK", 3)) },
        { "missing parameter", Policy(projectId, null, Rule("latestPushedK", null)) },
        { "negative parameter", Policy(projectId, null, Rule("nDaysSinceLastPush", -1)) },
        { "unclosed brace", Policy(projectId, null, Rule("always", null, tagPattern: "{a,b")) },
        { "bad repo decoration", Policy(projectId, null, Rule("always", null, repoDecoration: "matches")) },
        { "bad tag decoration", Policy(projectId, null, Rule("always", null, tagDecoration: "repoMatches")) },
        { "trigger kind", new { rules = new[] { Rule("always", null) }, trigger = new { kind = "Event" }, scope = new { level = "project", @ref = projectId } } },
        { "no scope", new { rules = new[] { Rule("always", null) } } },
        { "system scope", new { rules = new[] { Rule("always", null) }, scope = new { level = "system", @ref = 0 } } },
        { "algorithm", new { algorithm = "and", rules = new[] { Rule("always", null) }, scope = new { level = "project", @ref = projectId } } },
        { "sixteen rules", Policy(projectId, null, [.. Enumerable.Range(0, 16).Select(_ => Rule("always", null))]) },
        { "bad extras", new { rules = new[] { new { action = "retain", template = "always", tag_selectors = new[] { new { kind = "doublestar", decoration = "matches", pattern = "**", extras = "{untagged" } }, scope_selectors = new { repository = new[] { new { kind = "doublestar", decoration = "repoMatches", pattern = "**" } } } } }, scope = new { level = "project", @ref = projectId } } },
    };

    [Fact]
    public async Task Create_BadPolicyOrSchedule_400AndNothingStored()
    {
        foreach (var row in BadPolicies(_projectId))
        {
            string name = (string)row[0];
            using var response = await _admin.PostAsJsonAsync("api/v2.0/retentions", row[1]);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{name}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            await ErrorAssert.HasErrorAsync(response, HttpStatusCode.BadRequest, "BAD_REQUEST");
        }

        using var project = JsonDocument.Parse(await _admin.GetStringAsync("api/v2.0/projects/ret"));
        Assert.False(project.RootElement.GetProperty("metadata").TryGetProperty("retention_id", out _));
    }

    [Fact]
    public async Task Update_BadSchedule_400AndThePolicyUnchanged()
    {
        long id = await CreatePolicyAsync(_admin, Policy(_projectId, "0 0 3 * * *", Rule("always", null)));
        using var put = await _admin.PutAsJsonAsync($"api/v2.0/retentions/{id}", Policy(_projectId, "61 * * * *", Rule("latestPushedK", 1)));
        await ErrorAssert.HasErrorAsync(put, HttpStatusCode.BadRequest, "BAD_REQUEST");
        using var doc = JsonDocument.Parse(await _admin.GetStringAsync($"api/v2.0/retentions/{id}"));
        Assert.Equal("0 0 3 * * *", doc.RootElement.GetProperty("trigger").GetProperty("settings").GetProperty("cron").GetString());
        Assert.Equal("always", doc.RootElement.GetProperty("rules")[0].GetProperty("template").GetString());
    }

    [Fact]
    public async Task Schedule_WhenTheCronComesDue_RunsWithTriggerSchedule()
    {
        await Images.PushImageAsync(_admin, "ret/app", "v1", [1, 2, 3]);
        long id = await CreatePolicyAsync(_admin, Policy(_projectId, "0 0 * * * *", Rule("always", null)));
        await Task.Delay(500); // the scheduler sees the policy and plans its next hour on the registry's clock
        _server.Clock.Advance(TimeSpan.FromHours(1));

        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (true)
        {
            using var doc = JsonDocument.Parse(await _admin.GetStringAsync($"api/v2.0/retentions/{id}/executions"));
            if (doc.RootElement.GetArrayLength() > 0 && doc.RootElement[0].GetProperty("status").GetString() != "Running")
            {
                var run = doc.RootElement[0];
                Assert.Equal("SCHEDULE", run.GetProperty("trigger").GetString());
                Assert.Equal("Success", run.GetProperty("status").GetString());
                Assert.False(run.GetProperty("dry_run").GetBoolean());
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, "the scheduled run did not start");
            await Task.Delay(100);
        }

        Assert.Equal(["v1"], await TagsAsync(_admin, "ret/app"));
    }

    [Fact]
    public async Task Metadatas_ListsHarborsTemplates()
    {
        using var doc = JsonDocument.Parse(await _admin.GetStringAsync("api/v2.0/retentions/metadatas"));
        var templates = doc.RootElement.GetProperty("templates").EnumerateArray().Select(t => t.GetProperty("rule_template").GetString()).ToList();
        Assert.Equal(["latestPushedK", "latestPulledN", "nDaysSinceLastPush", "nDaysSinceLastPull", "always"], templates);
    }

    [Fact]
    public async Task DeleteProject_TakesItsPolicyWithIt()
    {
        await _server.CreateProjectAsync("brief");
        long projectId = await ProjectIdAsync(_admin, "brief");
        long id = await CreatePolicyAsync(_admin, Policy(projectId, null, Rule("always", null)));
        using (var delete = await _admin.DeleteAsync("api/v2.0/projects/brief"))
        {
            await WharfEndpoint.ExpectAsync(delete, HttpStatusCode.OK);
        }

        using var get = await _admin.GetAsync($"api/v2.0/retentions/{id}");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }
}
