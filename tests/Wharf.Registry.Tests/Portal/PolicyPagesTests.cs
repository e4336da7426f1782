using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Projects;
using Wharf.Registry.Tests.Webhooks;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Portal;

/// <summary>
/// The project's policies page over plain HTTP against a real wharfd: retention rules, schedule, runs and
/// their history and log; immutable tag rules; webhook policies with their last deliveries. Every change
/// is checked through the management API; who sees which section and who may post is checked per role.
/// </summary>
public sealed class PolicyPagesTests : IAsyncLifetime
{
    private const string Page = "/portal/projects/team/policies";

    private WharfServer _server = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        _admin = _server.Admin();
        await _server.CreateProjectAsync("team");
        foreach (var (user, role) in new[] { ("lead", ProjectRole.ProjectAdmin), ("keeper", ProjectRole.Maintainer), ("dev", ProjectRole.Developer), ("limited", ProjectRole.LimitedGuest) })
        {
            await _server.CreateUserAsync(user);
            await _server.AddMemberAsync("team", user, role);
        }

        await _server.CreateUserAsync("stranger");
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<PortalClient> SignedInAsync(string username)
    {
        var browser = new PortalClient(_server.BaseAddress);
        using var response = await browser.SignInAsync(username, WharfEndpoint.UserPassword);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return browser;
    }

    private async Task<string> PageAsync(PortalClient browser)
    {
        var (status, html) = await browser.GetAsync(Page);
        Assert.Equal(HttpStatusCode.OK, status);
        return html;
    }

    private async Task<HttpResponseMessage> PostAsync(PortalClient browser, string action, params (string, string)[] fields) =>
        await browser.PostAsync(action, PortalClient.TokenOf(await PageAsync(browser)), fields);

    private async Task<JsonElement?> RetentionPolicyAsync()
    {
        using var project = JsonDocument.Parse(await _admin.GetStringAsync(new Uri("api/v2.0/projects/team", UriKind.Relative)));
        if (!project.RootElement.GetProperty("metadata").TryGetProperty("retention_id", out var id))
        {
            return null;
        }

        using var policy = JsonDocument.Parse(await _admin.GetStringAsync(new Uri($"api/v2.0/retentions/{id.GetString()}", UriKind.Relative)));
        return policy.RootElement.Clone();
    }

    private static (string Name, string Value)[] Rule(string template, string count, string tags, bool untagged = true) =>
        [("template", template), ("count", count), ("tag_decoration", "matches"), ("tag_pattern", tags), .. (untagged ? new[] { ("untagged", "true") } : []),
         ("repository_decoration", "repoMatches"), ("repository_pattern", "**")];

    [Fact]
    public async Task Retention_MaintainerAddsEditsSchedulesRunsAndRemoves_EachSeenThroughTheApi()
    {
        for (int i = 1; i <= 3; i++)
        {
            await _server.SeedImageAsync("team/app", $"v{i}");
            _server.Clock.Advance(TimeSpan.FromMinutes(1));
        }

        using var keeper = await SignedInAsync("keeper");
        string html = await PageAsync(keeper);
        Assert.Contains("No retention rules", html, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"immutable\"", html, StringComparison.Ordinal); // project admins only
        Assert.DoesNotContain("id=\"webhooks\"", html, StringComparison.Ordinal);

        using (var add = await PostAsync(keeper, Page + "/retention/rules", Rule("latestPushedK", "1", "**")))
        {
            Assert.Equal(HttpStatusCode.Redirect, add.StatusCode);
        }

        var policy = await RetentionPolicyAsync() ?? throw new Xunit.Sdk.XunitException("no policy was created");
        var rule = Assert.Single(policy.GetProperty("rules").EnumerateArray());
        Assert.Equal("latestPushedK", rule.GetProperty("template").GetString());
        Assert.Equal(1, rule.GetProperty("params").GetProperty("latestPushedK").GetInt32());

        using (var edit = await PostAsync(keeper, Page + "/retention/rules/0", Rule("latestPushedK", "2", "v*", untagged: false)))
        {
            Assert.Equal(HttpStatusCode.Redirect, edit.StatusCode);
        }

        policy = (await RetentionPolicyAsync())!.Value;
        rule = Assert.Single(policy.GetProperty("rules").EnumerateArray());
        Assert.Equal(2, rule.GetProperty("params").GetProperty("latestPushedK").GetInt32());
        Assert.Equal("v*", rule.GetProperty("tag_selectors")[0].GetProperty("pattern").GetString());
        Assert.Equal("{\"untagged\":false}", rule.GetProperty("tag_selectors")[0].GetProperty("extras").GetString());

        using (var badCron = await PostAsync(keeper, Page + "/retention/schedule", ("cron", "every night")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, badCron.StatusCode);
        }

        using (var cron = await PostAsync(keeper, Page + "/retention/schedule", ("cron", "0 0 3 * * *")))
        {
            Assert.Equal(HttpStatusCode.Redirect, cron.StatusCode);
        }

        policy = (await RetentionPolicyAsync())!.Value;
        Assert.Equal("0 0 3 * * *", policy.GetProperty("trigger").GetProperty("settings").GetProperty("cron").GetString());
        Assert.Single(policy.GetProperty("rules").EnumerateArray()); // the schedule kept the rule

        using (var run = await PostAsync(keeper, Page + "/retention/run", ("dry_run", "true")))
        {
            Assert.Equal(HttpStatusCode.Redirect, run.StatusCode);
        }

        await _server.Services.GetRequiredService<Wharf.Registry.Retention.RetentionRunner>().IdleAsync();
        html = await PageAsync(keeper);
        var runLink = System.Text.RegularExpressions.Regex.Match(html, "href=\"(/portal/projects/team/policies/retention/executions/\\d+)\">Run \\d+</a>");
        Assert.True(runLink.Success, html);
        Assert.Contains("MANUAL (dry run)", html, StringComparison.Ordinal);
        var (status, log) = await keeper.GetAsync(runLink.Groups[1].Value);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("would delete", log, StringComparison.Ordinal);
        Assert.Contains("team/app", log, StringComparison.Ordinal);

        using (var remove = await PostAsync(keeper, Page + "/retention/rules/0/delete"))
        {
            Assert.Equal(HttpStatusCode.Redirect, remove.StatusCode);
        }

        Assert.Empty((await RetentionPolicyAsync())!.Value.GetProperty("rules").EnumerateArray());
        Assert.Equal(3, (await _admin.GetFromJsonAsync<JsonElement>(new Uri("api/v2.0/projects/team/repositories/app/artifacts", UriKind.Relative))).GetArrayLength());
    }

    [Fact]
    public async Task Retention_Developer_ReadsButCannotChange_LimitedGuestAndStrangerSeeNothing()
    {
        using (var keeper = await SignedInAsync("keeper"))
        using (var add = await PostAsync(keeper, Page + "/retention/rules", Rule("always", "", "stable")))
        {
            Assert.Equal(HttpStatusCode.Redirect, add.StatusCode);
        }

        using var dev = await SignedInAsync("dev");
        string html = await PageAsync(dev);
        Assert.Contains("always, tags matching stable", html, StringComparison.Ordinal);
        Assert.DoesNotContain("Add retention rule", html, StringComparison.Ordinal);
        Assert.DoesNotContain("Run now", html, StringComparison.Ordinal);
        using (var forged = await PostAsync(dev, Page + "/retention/rules/0/delete"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);
        }

        Assert.Single((await RetentionPolicyAsync())!.Value.GetProperty("rules").EnumerateArray());

        using var limited = await SignedInAsync("limited");
        Assert.Equal(HttpStatusCode.Forbidden, (await limited.GetAsync(Page)).Status);
        Assert.DoesNotContain("/policies\"", (await limited.GetAsync("/portal/projects/team")).Html, StringComparison.Ordinal);
        using var stranger = await SignedInAsync("stranger");
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetAsync(Page)).Status);
        using var anonymous = new PortalClient(_server.BaseAddress);
        Assert.Equal(HttpStatusCode.Redirect, (await anonymous.GetAsync(Page)).Status);
    }

    [Fact]
    public async Task ImmutableTags_ProjectAdminAddsAndRemoves_BadPatternChangesNothing()
    {
        using var lead = await SignedInAsync("lead");
        using (var bad = await PostAsync(lead, Page + "/immutable", ("tag_pattern", "v[1"), ("repository_pattern", "**")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }

        using (var add = await PostAsync(lead, Page + "/immutable", ("tag_pattern", "v*"), ("repository_pattern", "**")))
        {
            Assert.Equal(HttpStatusCode.Redirect, add.StatusCode);
        }

        var rules = await _admin.GetFromJsonAsync<JsonElement>(new Uri("api/v2.0/projects/team/immutabletagrules", UriKind.Relative));
        var rule = Assert.Single(rules.EnumerateArray());
        Assert.Equal("v*", rule.GetProperty("tag_selectors")[0].GetProperty("pattern").GetString());
        long id = rule.GetProperty("id").GetInt64();
        Assert.Contains($"Remove rule {id}", await PageAsync(lead), StringComparison.Ordinal);

        // The rule holds for /v2 at once.
        var image = await _server.SeedImageAsync("team/app", "v1");
        using (var delete = await _admin.DeleteAsync(new Uri($"v2/team/app/manifests/{image.Digest}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.Forbidden, delete.StatusCode);
        }

        using var keeper = await SignedInAsync("keeper");
        using (var forged = await PostAsync(keeper, Page + $"/immutable/{id}/delete"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);
        }

        using (var remove = await PostAsync(lead, Page + $"/immutable/{id}/delete"))
        {
            Assert.Equal(HttpStatusCode.Redirect, remove.StatusCode);
        }

        Assert.Equal(0, (await _admin.GetFromJsonAsync<JsonElement>(new Uri("api/v2.0/projects/team/immutabletagrules", UriKind.Relative))).GetArrayLength());
    }

    [Fact]
    public async Task Webhooks_ProjectAdminAddsDisablesDeletes_PageShowsLastDeliveries()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var lead = await SignedInAsync("lead");
        using (var add = await PostAsync(lead, Page + "/webhooks", ("name", "ci"), ("address", receiver.Address.ToString()), ("auth_header", "Bearer s3cret"),
            ("payload_format", "Default"), ("event_types", "PUSH_ARTIFACT"), ("event_types", "DELETE_ARTIFACT")))
        {
            Assert.Equal(HttpStatusCode.Redirect, add.StatusCode);
        }

        var policy = Assert.Single((await _admin.GetFromJsonAsync<JsonElement>(new Uri("api/v2.0/projects/team/webhook/policies", UriKind.Relative))).EnumerateArray());
        long id = policy.GetProperty("id").GetInt64();
        Assert.Equal(["PUSH_ARTIFACT", "DELETE_ARTIFACT"], policy.GetProperty("event_types").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.True(policy.GetProperty("enabled").GetBoolean());

        await _server.SeedImageAsync("team/app", "v1");
        Assert.Equal("Bearer s3cret", Assert.Single(await receiver.WaitForAsync(1)).Authorization);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        string html;
        while (!(html = await PageAsync(lead)).Contains("PUSH_ARTIFACT: Success", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, html);
            await Task.Delay(50);
        }

        Assert.DoesNotContain("s3cret", html, StringComparison.Ordinal); // the secret is never shown

        using (var disable = await PostAsync(lead, Page + $"/webhooks/{id}/enabled", ("enabled", "false")))
        {
            Assert.Equal(HttpStatusCode.Redirect, disable.StatusCode);
        }

        policy = await _admin.GetFromJsonAsync<JsonElement>(new Uri($"api/v2.0/projects/team/webhook/policies/{id}", UriKind.Relative));
        Assert.False(policy.GetProperty("enabled").GetBoolean());
        Assert.Equal("Bearer s3cret", policy.GetProperty("targets")[0].GetProperty("auth_header").GetString()); // the rest unchanged

        using (var bad = await PostAsync(lead, Page + "/webhooks", ("name", "nowhere"), ("address", "ftp://example"), ("event_types", "PUSH_ARTIFACT")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }

        using (var delete = await PostAsync(lead, Page + $"/webhooks/{id}/delete"))
        {
            Assert.Equal(HttpStatusCode.Redirect, delete.StatusCode);
        }

        Assert.Equal(0, (await _admin.GetFromJsonAsync<JsonElement>(new Uri("api/v2.0/projects/team/webhook/policies", UriKind.Relative))).GetArrayLength());
    }
}
