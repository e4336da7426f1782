using System.Net;
using System.Net.Http.Json;
using Wharf.Registry.Projects;
using Wharf.Registry.Portal;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Portal;

/// <summary>The portal's pages and form posts over plain HTTP against a real wharfd: who sees what, who may change what.</summary>
public sealed class PortalFormTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync(new() { ["Registry:LoginFailuresPerAccount"] = "3" });
        await _server.CreateProjectAsync("open", isPublic: true);
        await _server.CreateProjectAsync("team");
        await _server.CreateUserAsync("lead");
        await _server.CreateUserAsync("dev");
        await _server.CreateUserAsync("viewer");
        await _server.AddMemberAsync("team", "lead", ProjectRole.ProjectAdmin);
        await _server.AddMemberAsync("team", "dev", ProjectRole.Developer);
        await _server.AddMemberAsync("team", "viewer", ProjectRole.Guest);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private PortalClient Browser() => new(_server.BaseAddress);

    private async Task<PortalClient> SignedInAsync(string username, string password = WharfEndpoint.UserPassword)
    {
        var browser = Browser();
        using var response = await browser.SignInAsync(username, password);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return browser;
    }

    [Fact]
    public async Task Root_Anonymous_ListsOnlyPublicProjects()
    {
        using var browser = Browser();

        var (status, html) = await browser.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("/portal/projects/open\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("/portal/projects/team\"", html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, (await browser.GetAsync("/portal/projects/team")).Status);
    }

    [Fact]
    public async Task Root_Member_ListsTheirPrivateProjectWithRole()
    {
        using var browser = await SignedInAsync("dev");

        var (_, html) = await browser.GetAsync("/");

        Assert.Contains("/portal/projects/team\"", html, StringComparison.Ordinal);
        Assert.Contains("developer", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignIn_WrongPassword_IsRefusedThenThrottledLikeTheApi()
    {
        using var browser = Browser();
        for (int i = 0; i < 3; i++)
        {
            using var wrong = await browser.SignInAsync("dev", "nope-" + i);
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        // Locked now: the right password is refused too, in the portal and in the API alike.
        using var right = await browser.SignInAsync("dev", WharfEndpoint.UserPassword);
        Assert.Equal(HttpStatusCode.TooManyRequests, right.StatusCode);
        Assert.Null(browser.Cookies.GetCookies(browser.BaseAddress)[PortalSessions.CookieName]);
        using var api = _server.Client("dev", WharfEndpoint.UserPassword);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await api.GetAsync("api/v2.0/users/current")).StatusCode);
    }

    [Fact]
    public async Task SignIn_Robot_HasNoPortalSession()
    {
        var robot = await _server.CreateRobotAsync("team", "ci", -1, "pull");
        using var browser = Browser();

        using var response = await browser.SignInAsync(robot.Name, robot.Secret);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Post_WithoutOrWithWrongAntiforgeryToken_IsRefusedAndChangesNothing()
    {
        using var admin = await SignedInAsync("admin", WharfServer.AdminPassword);

        using var none = await admin.PostAsync("/portal/projects", null, ("project_name", "forged1"));
        using var wrong = await admin.PostAsync("/portal/projects", "CfDJ8-not-a-token", ("project_name", "forged2"));

        Assert.Equal(HttpStatusCode.BadRequest, none.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        using var api = _server.Admin();
        Assert.Equal(HttpStatusCode.NotFound, (await api.SendAsync(new HttpRequestMessage(HttpMethod.Head, "api/v2.0/projects?project_name=forged1"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await api.SendAsync(new HttpRequestMessage(HttpMethod.Head, "api/v2.0/projects?project_name=forged2"))).StatusCode);
    }

    [Fact]
    public async Task Post_TokenOfAnotherBrowser_IsRefused()
    {
        using var admin = await SignedInAsync("admin", WharfServer.AdminPassword);
        using var other = Browser();
        string foreignToken = PortalClient.TokenOf((await other.GetAsync("/portal/login")).Html);

        using var response = await admin.PostAsync("/portal/projects", foreignToken, ("project_name", "forged3"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task CreateProject_ByAdmin_CreatesItWithQuota()
    {
        using var admin = await SignedInAsync("admin", WharfServer.AdminPassword);

        using var response = await admin.SubmitAsync("/", "/portal/projects", ("project_name", "fresh"), ("public", "true"), ("quota_mib", "5"));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        using var summary = await _server.Admin().GetFromJsonAsync<System.Text.Json.JsonDocument>("api/v2.0/projects/fresh/summary");
        Assert.Equal(5 * 1024 * 1024, summary!.RootElement.GetProperty("quota").GetProperty("hard").GetProperty("storage").GetInt64());
    }

    [Fact]
    public async Task CreateProject_ByUser_IsForbiddenAndNothingIsCreated()
    {
        using var dev = await SignedInAsync("dev");

        using var response = await dev.SubmitAsync("/", "/portal/projects", ("project_name", "mine"));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _server.Admin().SendAsync(new HttpRequestMessage(HttpMethod.Head, "api/v2.0/projects?project_name=mine"))).StatusCode);
    }

    [Fact]
    public async Task CreateProject_BadName_IsRefusedWithTheReason()
    {
        using var admin = await SignedInAsync("admin", WharfServer.AdminPassword);

        using var response = await admin.SubmitAsync("/", "/portal/projects", ("project_name", "Bad Name"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("lower-case", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddMember_ByProjectAdmin_GrantsTheRole()
    {
        await _server.CreateUserAsync("newcomer");
        using var lead = await SignedInAsync("lead");

        using var response = await lead.SubmitAsync("/portal/projects/team", "/portal/projects/team/members", ("username", "newcomer"), ("role", "2"));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(["pull", "push"], WharfServer.AccessOf(await _server.TokenAsync("newcomer", WharfEndpoint.UserPassword, "repository:team/app:pull,push"))["repository:team/app"]);
    }

    [Fact]
    public async Task AddMember_ByDeveloper_IsForbiddenAndShowsNoForm()
    {
        await _server.CreateUserAsync("newcomer");
        using var dev = await SignedInAsync("dev");
        var (_, page) = await dev.GetAsync("/portal/projects/team");

        using var response = await dev.PostAsync("/portal/projects/team/members", PortalClient.TokenOf(page), ("username", "newcomer"), ("role", "1"));

        Assert.DoesNotContain("Add member", page, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Empty(WharfServer.AccessOf(await _server.TokenAsync("newcomer", WharfEndpoint.UserPassword, "repository:team/app:pull")));
    }

    [Fact]
    public async Task RepositoryPage_ShowsThePullCommandOfEachTag()
    {
        var image = await _server.SeedImageAsync("team/app", "v1");
        using var dev = await SignedInAsync("dev");

        var (status, html) = await dev.GetAsync("/portal/projects/team/repositories/app");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains($"podman pull {_server.BaseAddress.Authority}/team/app:v1", html, StringComparison.Ordinal);
        Assert.Contains(image.Digest.ToString(), html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeleteTag_ByGuest_HasNoButtonAndIsForbidden()
    {
        await _server.SeedImageAsync("team/app", "v1");
        using var viewer = await SignedInAsync("viewer");
        var (_, page) = await viewer.GetAsync("/portal/projects/team/repositories/app");

        using var response = await viewer.PostAsync("/portal/projects/team/tags/delete", PortalClient.TokenOf(page), ("repository", "app"), ("tag", "v1"));

        Assert.DoesNotContain("Delete tag", page, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _server.Admin().GetAsync("v2/team/app/manifests/v1")).StatusCode);
    }

    [Fact]
    public async Task DeleteTag_ByProjectAdmin_RemovesTheTag()
    {
        await _server.SeedImageAsync("team/app", "v1");
        using var lead = await SignedInAsync("lead");

        using var response = await lead.SubmitAsync("/portal/projects/team/repositories/app", "/portal/projects/team/tags/delete", ("repository", "app"), ("tag", "v1"));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _server.Admin().GetAsync("v2/team/app/manifests/v1")).StatusCode);
    }

    [Fact]
    public async Task SignOut_EndsTheSessionEvenForACopiedCookie()
    {
        using var dev = await SignedInAsync("dev");
        string cookie = dev.Cookies.GetCookies(dev.BaseAddress)[PortalSessions.CookieName]!.Value;

        using var response = await dev.SubmitAsync("/", "/portal/logout");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        using var copy = Browser();
        copy.Cookies.Add(copy.BaseAddress, new Cookie(PortalSessions.CookieName, cookie));
        Assert.Equal(HttpStatusCode.Redirect, (await copy.GetAsync("/portal/account")).Status);
    }

    [Fact]
    public async Task ChangePassword_EndsTheSessionAndTheNewPasswordSignsIn()
    {
        using var dev = await SignedInAsync("dev");
        string cookie = dev.Cookies.GetCookies(dev.BaseAddress)[PortalSessions.CookieName]!.Value;

        using var response = await dev.SubmitAsync("/portal/account", "/portal/account/password", ("old_password", WharfEndpoint.UserPassword), ("new_password", "N3wPassword"));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        using var copy = Browser();
        copy.Cookies.Add(copy.BaseAddress, new Cookie(PortalSessions.CookieName, cookie));
        Assert.Equal(HttpStatusCode.Redirect, (await copy.GetAsync("/portal/account")).Status);
        using var again = await SignedInAsync("dev", "N3wPassword");
        Assert.Equal(HttpStatusCode.OK, (await again.GetAsync("/portal/account")).Status);
    }

    [Fact]
    public async Task ChangePassword_WrongCurrentPassword_IsForbiddenAndKeepsTheOld()
    {
        using var dev = await SignedInAsync("dev");

        using var response = await dev.SubmitAsync("/portal/account", "/portal/account/password", ("old_password", "wrong"), ("new_password", "N3wPassword"));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        using var api = _server.Client("dev", WharfEndpoint.UserPassword);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("api/v2.0/users/current")).StatusCode);
    }

    [Fact]
    public async Task DisableUser_EndsTheirSession()
    {
        using var dev = await SignedInAsync("dev");
        using var api = _server.Admin();
        long id = (await api.GetFromJsonAsync<System.Text.Json.JsonElement[]>("api/v2.0/users?username=dev"))!.Single().GetProperty("user_id").GetInt64();

        Assert.Equal(HttpStatusCode.OK, (await api.PutAsJsonAsync($"api/v2.0/users/{id}/disabled", new { disabled = true })).StatusCode);

        Assert.Equal(HttpStatusCode.Redirect, (await dev.GetAsync("/portal/account")).Status);
    }

    [Fact]
    public async Task StaticAssets_AreEmbeddedAndUnknownOnesMissing()
    {
        using var browser = Browser();

        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/portal/static/portal.css")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync("/portal/static/..%2fwharf.db")).Status);
    }

    [Fact]
    public async Task CreateRobot_ByProjectAdmin_ShowsASecretThatWorksOnce()
    {
        using var lead = await SignedInAsync("lead");

        using var response = await lead.SubmitAsync("/portal/projects/team", "/portal/projects/team/robots", ("name", "ci"), ("action", "pull"), ("action", "push"), ("duration", "7"));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        string html = await response.Content.ReadAsStringAsync();
        string secret = System.Text.RegularExpressions.Regex.Match(html, "id=\"robot-secret\">([^<]+)<").Groups[1].Value;
        Assert.Equal(["pull", "push"], WharfServer.AccessOf(await _server.TokenAsync("robot$team+ci", secret, "repository:team/app:pull,push"))["repository:team/app"]);
        Assert.DoesNotContain(secret, (await lead.GetAsync("/portal/projects/team")).Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateRobot_ByDeveloper_IsForbiddenAndNothingIsCreated()
    {
        using var dev = await SignedInAsync("dev");
        var (_, page) = await dev.GetAsync("/portal/projects/team");

        using var response = await dev.PostAsync("/portal/projects/team/robots", PortalClient.TokenOf(page), ("name", "ci"), ("action", "push"));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Empty((await _server.Admin().GetFromJsonAsync<System.Text.Json.JsonElement[]>("api/v2.0/projects/team/robots"))!);
    }

    [Fact]
    public async Task CreateRobot_WithoutPermissionOrBadExpiry_IsRefused()
    {
        using var lead = await SignedInAsync("lead");

        using var none = await lead.SubmitAsync("/portal/projects/team", "/portal/projects/team/robots", ("name", "ci"));
        using var expiry = await lead.SubmitAsync("/portal/projects/team", "/portal/projects/team/robots", ("name", "ci"), ("action", "pull"), ("duration", "0"));

        Assert.Equal(HttpStatusCode.BadRequest, none.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, expiry.StatusCode);
        Assert.Empty((await _server.Admin().GetFromJsonAsync<System.Text.Json.JsonElement[]>("api/v2.0/projects/team/robots"))!);
    }

    [Fact]
    public async Task DisableRobot_ByProjectAdmin_StopsItsLogins()
    {
        var robot = await _server.CreateRobotAsync("team", "ci", -1, "pull");
        using var lead = await SignedInAsync("lead");

        using var response = await lead.SubmitAsync("/portal/projects/team", $"/portal/projects/team/robots/{robot.Id}/disabled", ("disabled", "true"));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _server.RequestTokenAsync(robot.Name, robot.Secret, "repository:team/app:pull")).StatusCode);
    }

    [Fact]
    public async Task ProjectLogs_ShowTheMembersChanges_ButNotToOutsiders()
    {
        await _server.CreateUserAsync("outsider");
        using var lead = await SignedInAsync("lead");
        using var added = await lead.SubmitAsync("/portal/projects/team", "/portal/projects/team/members", ("username", "outsider"), ("role", "3"));
        using var removed = await lead.SubmitAsync("/portal/projects/team", $"/portal/projects/team/members/{await MemberIdAsync("outsider")}/remove");

        var (status, html) = await lead.GetAsync("/portal/projects/team/logs");
        using var outsider = await SignedInAsync("outsider");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("outsider as guest", html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await outsider.GetAsync("/portal/projects/team/logs")).Status);
    }

    private async Task<long> MemberIdAsync(string username) =>
        (await _server.Admin().GetFromJsonAsync<System.Text.Json.JsonElement[]>($"api/v2.0/projects/team/members?entityname={username}"))!
            .Single().GetProperty("id").GetInt64();

    [Fact]
    public void Html_Of_EncodesEveryHoleButMarkup()
    {
        string name = "<script>alert(1)</script>\"";

        var html = Html.Of($"<p title=\"{name}\">{name}{new Markup("<b>ok</b>")}</p>");

        Assert.DoesNotContain("<script>", html.Value, StringComparison.Ordinal);
        Assert.DoesNotContain("\"\"", html.Value, StringComparison.Ordinal);
        Assert.Contains("<b>ok</b>", html.Value, StringComparison.Ordinal);
    }
}
