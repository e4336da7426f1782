using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Portal;

/// <summary>
/// The account page's profile form (the same rule as PUT /api/v2.0/users/{id}) and the server-paged member
/// and robot lists of a project page, against a real wharfd.
/// </summary>
public sealed partial class ProfileAndListPagingTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("team");
        await _server.CreateUserAsync("lead");
        await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("team", "lead", ProjectRole.ProjectAdmin);
        await _server.AddMemberAsync("team", "dev", ProjectRole.Developer);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<PortalClient> SignedInAsync(string username)
    {
        var browser = new PortalClient(_server.BaseAddress);
        using var response = await browser.SignInAsync(username, WharfEndpoint.UserPassword);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return browser;
    }

    private async Task<JsonElement> UserAsync(string username)
    {
        using var api = _server.Admin();
        return (await api.GetFromJsonAsync<JsonElement[]>($"api/v2.0/users?username={username}"))!.Single(u => u.GetProperty("username").GetString() == username);
    }

    [Fact]
    public async Task UpdateProfile_OwnEmailAndRealName_AreSavedAsTheApiShowsThem()
    {
        using var dev = await SignedInAsync("dev");
        var (_, page) = await dev.GetAsync("/portal/account");
        Assert.Contains("value=\"dev@example.org\"", WebUtility.HtmlDecode(page), StringComparison.Ordinal);

        using var response = await dev.SubmitAsync("/portal/account", "/portal/account/profile", ("email", "dev.new@lab.test"), ("realname", "Dev <Example>"));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var user = await UserAsync("dev");
        Assert.Equal("dev.new@lab.test", user.GetProperty("email").GetString());
        Assert.Equal("Dev <Example>", user.GetProperty("realname").GetString());
        var (_, after) = await dev.GetAsync(response.Headers.Location!.OriginalString);
        Assert.Contains("Profile saved.", after, StringComparison.Ordinal);
        Assert.Contains("Dev &lt;Example&gt;", after, StringComparison.Ordinal);
        Assert.DoesNotContain("Dev <Example>", after, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpdateProfile_EmptyFields_ClearThem()
    {
        using var dev = await SignedInAsync("dev");

        using var response = await dev.SubmitAsync("/portal/account", "/portal/account/profile", ("email", ""), ("realname", ""));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var user = await UserAsync("dev");
        Assert.True(!user.TryGetProperty("email", out var email) || email.ValueKind == JsonValueKind.Null, user.ToString());
        Assert.True(!user.TryGetProperty("realname", out var realName) || realName.ValueKind == JsonValueKind.Null, user.ToString());
    }

    [Theory]
    [InlineData("not-an-address", "Dev")]
    [InlineData("a@b@c", "Dev")]
    [InlineData("dev@lab.test", "line\nbreak")]
    public async Task UpdateProfile_BadValue_IsRefusedWithTheReasonAndChangesNothing(string email, string realName)
    {
        using var dev = await SignedInAsync("dev");

        using var response = await dev.SubmitAsync("/portal/account", "/portal/account/profile", ("email", email), ("realname", realName));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("role=\"alert\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var user = await UserAsync("dev");
        Assert.Equal("dev@example.org", user.GetProperty("email").GetString());
        Assert.Equal("dev", user.GetProperty("realname").GetString());
    }

    [Fact]
    public async Task UpdateProfile_ThroughTheApi_FollowsTheSameRule()
    {
        long id = (await UserAsync("dev")).GetProperty("user_id").GetInt64();
        long other = (await UserAsync("lead")).GetProperty("user_id").GetInt64();
        using var api = _server.Client("dev", WharfEndpoint.UserPassword);

        using var bad = await api.PutAsJsonAsync($"api/v2.0/users/{id}", new { email = "nope", realname = "Dev" });
        using var foreign = await api.PutAsJsonAsync($"api/v2.0/users/{other}", new { email = "x@lab.test", realname = "Lead" });
        using var good = await api.PutAsJsonAsync($"api/v2.0/users/{id}", new { email = "dev@lab.test", realname = "Dev" });

        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, foreign.StatusCode);
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.Equal("lead@example.org", (await UserAsync("lead")).GetProperty("email").GetString());
        // The caller's own view follows at once, though its credentials were checked (and remembered) a moment ago.
        Assert.Equal("dev@lab.test", (await api.GetFromJsonAsync<JsonElement>("api/v2.0/users/current")).GetProperty("email").GetString());
    }

    [Fact]
    public async Task UpdateProfile_WithoutToken_IsRefusedAndChangesNothing()
    {
        using var dev = await SignedInAsync("dev");

        using var response = await dev.PostAsync("/portal/account/profile", null, ("email", "forged@lab.test"), ("realname", "Forged"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("dev@example.org", (await UserAsync("dev")).GetProperty("email").GetString());
    }

    [Fact]
    public async Task ProjectPage_ManyMembersAndRobots_ArePagedByTheServer()
    {
        // 3 members so far (the admin who created the project, lead, dev); 22 more make 25: page 1 has 20, page 2 the other 5.
        for (int i = 0; i < 22; i++)
        {
            string name = $"member{i:D2}";
            await _server.CreateUserAsync(name);
            await _server.AddMemberAsync("team", name, ProjectRole.Guest);
        }

        for (int i = 0; i < 21; i++)
        {
            await _server.CreateRobotAsync("team", $"bot{i:D2}", -1, "pull");
        }

        using var lead = await SignedInAsync("lead");
        var (_, first) = await lead.GetAsync("/portal/projects/team");
        var (_, second) = await lead.GetAsync("/portal/projects/team?members_page=2&robots_page=2");

        Assert.Equal(20, MemberRows().Matches(Section(first, "members")).Count);
        Assert.Equal(5, MemberRows().Matches(Section(second, "members")).Count);
        Assert.Contains("aria-label=\"Pages of members\"", first, StringComparison.Ordinal);
        Assert.Contains("href=\"/portal/projects/team?members_page=2#members\"", Section(first, "members"), StringComparison.Ordinal);
        Assert.Contains("Page 2 of 2", Section(second, "members"), StringComparison.Ordinal);
        Assert.Equal(20, RobotRows().Matches(Section(first, "robots")).Count);
        Assert.Single(RobotRows().Matches(Section(second, "robots")));
        Assert.Contains("robot$team+bot20", Section(second, "robots"), StringComparison.Ordinal);
        // Each list keeps the other's position: the robots' next link carries members_page along.
        Assert.Contains("href=\"/portal/projects/team?robots_page=1&members_page=2#robots\"", Section(second, "robots"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProjectPage_FewMembers_HasNoPager()
    {
        using var lead = await SignedInAsync("lead");
        var (_, page) = await lead.GetAsync("/portal/projects/team");

        Assert.DoesNotContain("Pages of members", page, StringComparison.Ordinal);
        Assert.Equal(3, MemberRows().Matches(Section(page, "members")).Count); // the admin who created it, lead and dev
    }

    [Fact]
    public async Task RepositoryPage_ArtifactWithManyTags_ShowsTenAndFindsAnyByName()
    {
        var image = await _server.SeedImageAsync("team/app", "t00");
        using (var api = _server.Admin())
        {
            for (int i = 1; i < 15; i++)
            {
                await WharfEndpoint.ExpectAsync(await api.PostAsJsonAsync($"api/v2.0/projects/team/repositories/app/artifacts/{image.Digest}/tags", new { name = $"t{i:D2}" }), HttpStatusCode.Created);
            }
        }

        using var dev = await SignedInAsync("dev");
        var (_, all) = await dev.GetAsync("/portal/projects/team/repositories/app");
        var (_, found) = await dev.GetAsync("/portal/projects/team/repositories/app?tag=t14");
        var (missing, none) = await dev.GetAsync("/portal/projects/team/repositories/app?tag=nope");
        var (_, malformed) = await dev.GetAsync("/portal/projects/team/repositories/app?tag=..%2F..");

        Assert.Equal(10, PullCommands().Matches(all).Count);
        Assert.Contains("<td>image<br>", all, StringComparison.Ordinal); // an image's config type does not make it "artifact"
        Assert.Contains("and 5 more tags", all, StringComparison.Ordinal);
        Assert.Contains("<label for=\"tag\">Find a tag</label>", all, StringComparison.Ordinal);
        // The looked-up tag comes first, with its pull command and copy buttons.
        Assert.StartsWith("t14", PullCommands().Match(found).Groups[1].Value, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, missing);
        Assert.Contains("No tag nope in team/app.", none, StringComparison.Ordinal);
        Assert.Contains("No tag", malformed, StringComparison.Ordinal);
    }

    /// <summary>The HTML of one &lt;section aria-labelledby="id"&gt;.</summary>
    private static string Section(string page, string id)
    {
        int start = page.IndexOf($"<section aria-labelledby=\"{id}\">", StringComparison.Ordinal);
        Assert.True(start >= 0, $"no section {id} on the page");
        int end = page.IndexOf("</section>", start, StringComparison.Ordinal);
        return WebUtility.HtmlDecode(page[start..end]);
    }

    [GeneratedRegex("<code class=\"pull\">podman pull [^<]*?/team/app:([^<]+)</code>")]
    private static partial Regex PullCommands();

    [GeneratedRegex("<tr><th scope=\"row\">(?!group )")]
    private static partial Regex MemberRows();

    [GeneratedRegex("<tr><th scope=\"row\"><code>robot\\$")]
    private static partial Regex RobotRows();
}
