using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Wharf.Oci;
using Wharf.Registry.Portal;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Portal;

/// <summary>
/// The portal's artifact, robot and user actions over plain HTTP against a real wharfd, each checked
/// through the management API or /v2 (the same rules decide both), and sessions across a restart.
/// </summary>
public sealed partial class PortalActionsTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("team");
        await _server.CreateUserAsync("lead");
        await _server.CreateUserAsync("viewer");
        await _server.AddMemberAsync("team", "lead", ProjectRole.ProjectAdmin);
        await _server.AddMemberAsync("team", "viewer", ProjectRole.Guest);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<PortalClient> SignedInAsync(string username, string password = WharfEndpoint.UserPassword)
    {
        var browser = new PortalClient(_server.BaseAddress);
        using var response = await browser.SignInAsync(username, password);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return browser;
    }

    [Fact]
    public async Task DeleteArtifact_ByProjectAdmin_RemovesItByDigest()
    {
        var image = await _server.SeedImageAsync("team/app", "v1");
        using var lead = await SignedInAsync("lead");
        var (_, page) = await lead.GetAsync("/portal/projects/team/repositories/app");
        Assert.Contains("Delete artifact", page, StringComparison.Ordinal);

        using var response = await lead.PostAsync("/portal/projects/team/artifacts/delete", PortalClient.TokenOf(page), ("repository", "app"), ("digest", image.Digest.ToString()));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        using var admin = _server.Admin();
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"v2/team/app/manifests/{image.Digest}")).StatusCode);
    }

    [Fact]
    public async Task DeleteArtifact_ByGuest_HasNoButtonAndIsForbidden()
    {
        var image = await _server.SeedImageAsync("team/app", "v1");
        using var viewer = await SignedInAsync("viewer");
        var (_, page) = await viewer.GetAsync("/portal/projects/team/repositories/app");

        using var response = await viewer.PostAsync("/portal/projects/team/artifacts/delete", PortalClient.TokenOf(page), ("repository", "app"), ("digest", image.Digest.ToString()));

        Assert.DoesNotContain("Delete artifact", page, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        using var admin = _server.Admin();
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"v2/team/app/manifests/{image.Digest}")).StatusCode);
    }

    [Fact]
    public async Task DeleteArtifact_UnknownOrMalformedDigest_IsNotFoundAndChangesNothing()
    {
        var image = await _server.SeedImageAsync("team/app", "v1");
        using var lead = await SignedInAsync("lead");
        var (_, page) = await lead.GetAsync("/portal/projects/team/repositories/app");

        using var unknown = await lead.PostAsync("/portal/projects/team/artifacts/delete", PortalClient.TokenOf(page), ("repository", "app"), ("digest", "sha256:" + new string('0', 64)));
        using var malformed = await lead.PostAsync("/portal/projects/team/artifacts/delete", PortalClient.TokenOf(page), ("repository", "app"), ("digest", "latest"));

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, malformed.StatusCode);
        using var admin = _server.Admin();
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"v2/team/app/manifests/{image.Digest}")).StatusCode);
    }

    [Fact]
    public async Task RepositoryPage_IndexShowsItsPlatforms_AndAnArtifactItsReferrers()
    {
        using var admin = _server.Admin();
        var amd64 = await RegistryPush.PushImageAsync(admin, "team/multi", null, RegistryPush.Layer("amd64", 32));
        var arm64 = await RegistryPush.PushImageAsync(admin, "team/multi", null, RegistryPush.Layer("arm64", 32));
        string index = $$$"""
            {"schemaVersion":2,"mediaType":"{{{MediaTypes.OciIndex}}}","manifests":[
            {"mediaType":"{{{MediaTypes.OciManifest}}}","digest":"{{{amd64.Digest}}}","size":{{{amd64.Body.Length}}},"platform":{"architecture":"amd64","os":"linux"}},
            {"mediaType":"{{{MediaTypes.OciManifest}}}","digest":"{{{arm64.Digest}}}","size":{{{arm64.Body.Length}}},"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}
            """;
        byte[] indexBody = Encoding.UTF8.GetBytes(index);
        using (var put = await RegistryPush.PutManifestAsync(admin, "team/multi", "v1", indexBody, MediaTypes.OciIndex))
        {
            await WharfEndpoint.ExpectAsync(put, HttpStatusCode.Created);
        }

        // A signature-like referrer of the index (what cosign makes for a multi-arch image): an artifact manifest whose subject is the index.
        var empty = await RegistryPush.PushBlobAsync(admin, "team/multi", Encoding.UTF8.GetBytes("{}"));
        var layer = await RegistryPush.PushBlobAsync(admin, "team/multi", Encoding.UTF8.GetBytes("signature"));
        string referrer = $$$"""
            {"schemaVersion":2,"mediaType":"{{{MediaTypes.OciManifest}}}","artifactType":"application/vnd.dev.cosign.artifact.sig.v1+json",
            "config":{"mediaType":"{{{MediaTypes.OciEmpty}}}","digest":"{{{empty}}}","size":2},
            "layers":[{"mediaType":"application/octet-stream","digest":"{{{layer}}}","size":9}],
            "subject":{"mediaType":"{{{MediaTypes.OciIndex}}}","digest":"{{{Digest.Compute(indexBody)}}}","size":{{{indexBody.Length}}}}}
            """;
        byte[] referrerBody = Encoding.UTF8.GetBytes(referrer);
        using (var put = await RegistryPush.PutManifestAsync(admin, "team/multi", Digest.Compute(referrerBody).ToString(), referrerBody, MediaTypes.OciManifest))
        {
            await WharfEndpoint.ExpectAsync(put, HttpStatusCode.Created);
        }

        using var lead = await SignedInAsync("lead");
        var (status, html) = await lead.GetAsync("/portal/projects/team/repositories/multi");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("2 platforms", html, StringComparison.Ordinal);
        Assert.Contains("linux/amd64", html, StringComparison.Ordinal);
        Assert.Contains("linux/arm64/v8", html, StringComparison.Ordinal);
        Assert.Contains("1 referrer", html, StringComparison.Ordinal);
        Assert.Contains("application/vnd.dev.cosign.artifact.sig.v1", html, StringComparison.Ordinal); // the page encodes the +
    }

    [Fact]
    public async Task EditRobot_ByProjectAdmin_ChangesPermissionsExpiryAndState()
    {
        var robot = await _server.CreateRobotAsync("team", "ci", 30, "pull");
        using var lead = await SignedInAsync("lead");
        var (status, form) = await lead.GetAsync($"/portal/projects/team/robots/{robot.Id}");
        Assert.Equal(HttpStatusCode.OK, status);

        using var response = await lead.PostAsync($"/portal/projects/team/robots/{robot.Id}", PortalClient.TokenOf(form), ("action", "pull"), ("action", "push"), ("duration", "-1"));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        using var admin = _server.Admin();
        using var saved = JsonDocument.Parse(await admin.GetStringAsync(new Uri($"api/v2.0/robots/{robot.Id}", UriKind.Relative)));
        Assert.Equal(-1, saved.RootElement.GetProperty("duration").GetInt64());
        Assert.False(saved.RootElement.GetProperty("disable").GetBoolean());
        Assert.Equal(["pull", "push"], WharfServer.AccessOf(await _server.TokenAsync(robot.Name, robot.Secret, "repository:team/app:pull,push"))["repository:team/app"].Order(StringComparer.Ordinal));

        using var disable = await lead.PostAsync($"/portal/projects/team/robots/{robot.Id}", PortalClient.TokenOf(form), ("action", "pull"), ("duration", "-1"), ("disabled", "true"));
        Assert.Equal(HttpStatusCode.Redirect, disable.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _server.RequestTokenAsync(robot.Name, robot.Secret, "repository:team/app:pull")).StatusCode);
    }

    [Fact]
    public async Task EditRobot_NoPermissionOrByGuest_IsRefusedAndChangesNothing()
    {
        var robot = await _server.CreateRobotAsync("team", "ci", 30, "pull");
        using var lead = await SignedInAsync("lead");
        var (_, form) = await lead.GetAsync($"/portal/projects/team/robots/{robot.Id}");
        using var viewer = await SignedInAsync("viewer");
        var (viewerStatus, viewerPage) = await viewer.GetAsync("/portal/projects/team");

        using var none = await lead.PostAsync($"/portal/projects/team/robots/{robot.Id}", PortalClient.TokenOf(form), ("duration", "30"));
        using var guest = await viewer.PostAsync($"/portal/projects/team/robots/{robot.Id}", PortalClient.TokenOf(viewerPage), ("action", "push"));

        Assert.Equal(HttpStatusCode.OK, viewerStatus);
        Assert.Equal(HttpStatusCode.BadRequest, none.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, guest.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.GetAsync($"/portal/projects/team/robots/{robot.Id}")).Status);
        Assert.Equal(["pull"], WharfServer.AccessOf(await _server.TokenAsync(robot.Name, robot.Secret, "repository:team/app:pull,push"))["repository:team/app"]);
    }

    [Fact]
    public async Task RefreshRobotSecret_ShowsTheNewSecretOnce_AndTheOldOneStopsWorking()
    {
        var robot = await _server.CreateRobotAsync("team", "ci", 30, "pull");
        using var lead = await SignedInAsync("lead");

        using var response = await lead.SubmitAsync($"/portal/projects/team/robots/{robot.Id}", $"/portal/projects/team/robots/{robot.Id}/secret");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string secret = RobotSecret().Match(await response.Content.ReadAsStringAsync()).Groups[1].Value;
        Assert.NotEqual("", secret);
        Assert.NotEqual(robot.Secret, secret);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _server.RequestTokenAsync(robot.Name, robot.Secret, "repository:team/app:pull")).StatusCode);
        Assert.Equal(["pull"], WharfServer.AccessOf(await _server.TokenAsync(robot.Name, secret, "repository:team/app:pull"))["repository:team/app"]);
        Assert.DoesNotContain(secret, (await lead.GetAsync($"/portal/projects/team/robots/{robot.Id}")).Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeleteUser_ByAdmin_RemovesTheAccountAndEndsItsSession()
    {
        long id = await _server.CreateUserAsync("leaver");
        using var leaver = await SignedInAsync("leaver");
        using var admin = await SignedInAsync("admin", WharfServer.AdminPassword);

        using var response = await admin.SubmitAsync("/portal/admin/users", $"/portal/admin/users/{id}/delete");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        using var api = _server.Admin();
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync(new Uri($"api/v2.0/users/{id}", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await leaver.GetAsync("/portal/account")).Status);
    }

    [Fact]
    public async Task DeleteUser_Oneself_HasNoButtonAndIsForbidden()
    {
        using var admin = await SignedInAsync("admin", WharfServer.AdminPassword);
        using var api = _server.Admin();
        using var current = JsonDocument.Parse(await api.GetStringAsync(new Uri("api/v2.0/users/current", UriKind.Relative)));
        long id = current.RootElement.GetProperty("user_id").GetInt64();
        var (_, page) = await admin.GetAsync("/portal/admin/users");

        using var response = await admin.PostAsync($"/portal/admin/users/{id}/delete", PortalClient.TokenOf(page));

        Assert.DoesNotContain($"/portal/admin/users/{id}/delete", page, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync(new Uri($"api/v2.0/users/{id}", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task Session_SurvivesARestart_AndAFormLoadedBeforeItStillPosts()
    {
        using var before = await SignedInAsync("lead");
        var (_, page) = await before.GetAsync("/portal/projects/team");

        await _server.RestartAsync();
        using var after = Carry(before);

        var (status, html) = await after.GetAsync("/portal/account");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("lead", html, StringComparison.Ordinal);
        using var post = await after.PostAsync("/portal/projects/team/members", PortalClient.TokenOf(page), ("username", "viewer"), ("role", "2"));
        Assert.NotEqual(HttpStatusCode.BadRequest, post.StatusCode); // the anti-forgery token still validates (viewer is already a member: 409)
        Assert.Equal(HttpStatusCode.Conflict, post.StatusCode);
    }

    [Fact]
    public async Task Session_AfterARestart_StillEndsOnSignOutPasswordChangeAndDisable()
    {
        await _server.CreateUserAsync("moved");
        using var signedOut = await SignedInAsync("lead");
        using var changed = await SignedInAsync("viewer");
        using var disabled = await SignedInAsync("moved");
        string copiedCookie = signedOut.Cookies.GetCookies(signedOut.BaseAddress)[PortalSessions.CookieName]!.Value;

        await _server.RestartAsync();
        using var leadAfter = Carry(signedOut);
        using var viewerAfter = Carry(changed);
        using var movedAfter = Carry(disabled);

        using (var logout = await leadAfter.SubmitAsync("/", "/portal/logout"))
        {
            Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
        }

        using var copy = new PortalClient(_server.BaseAddress);
        copy.Cookies.Add(copy.BaseAddress, new Cookie(PortalSessions.CookieName, copiedCookie));
        Assert.Equal(HttpStatusCode.Redirect, (await copy.GetAsync("/portal/account")).Status);

        using var admin = _server.Admin();
        long viewerId = await UserIdAsync(admin, "viewer");
        using (var password = await admin.PutAsJsonAsync(new Uri($"api/v2.0/users/{viewerId}/password", UriKind.Relative), new { new_password = "Changed123" }))
        {
            Assert.Equal(HttpStatusCode.OK, password.StatusCode);
        }

        Assert.Equal(HttpStatusCode.Redirect, (await viewerAfter.GetAsync("/portal/account")).Status);

        long movedId = await UserIdAsync(admin, "moved");
        using (var disable = await admin.PutAsJsonAsync(new Uri($"api/v2.0/users/{movedId}/disabled", UriKind.Relative), new { disabled = true }))
        {
            Assert.Equal(HttpStatusCode.OK, disable.StatusCode);
        }

        Assert.Equal(HttpStatusCode.Redirect, (await movedAfter.GetAsync("/portal/account")).Status);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task PortalKeys_AreKeptPrivateInTheDataDirectory()
    {
        using var browser = new PortalClient(_server.BaseAddress);
        _ = await browser.GetAsync("/portal/login");

        string keys = Path.Combine(_server.DataDirectory, "portal-keys");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(keys));
        var files = Directory.GetFiles(keys);
        Assert.NotEmpty(files);
        Assert.All(files, f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f)));
    }

    private static async Task<long> UserIdAsync(HttpClient admin, string username)
    {
        using var list = JsonDocument.Parse(await admin.GetStringAsync(new Uri($"api/v2.0/users?username={username}", UriKind.Relative)));
        return list.RootElement.EnumerateArray().Single(u => u.GetProperty("username").GetString() == username).GetProperty("user_id").GetInt64();
    }

    /// <summary>A browser of the restarted server (its port changed) holding the cookies <paramref name="before"/> had.</summary>
    private PortalClient Carry(PortalClient before)
    {
        var after = new PortalClient(_server.BaseAddress);
        foreach (Cookie cookie in before.Cookies.GetCookies(before.BaseAddress))
        {
            after.Cookies.Add(after.BaseAddress, new Cookie(cookie.Name, cookie.Value));
        }

        return after;
    }

    [GeneratedRegex("id=\"robot-secret\">([^<]+)<")]
    private static partial Regex RobotSecret();
}
