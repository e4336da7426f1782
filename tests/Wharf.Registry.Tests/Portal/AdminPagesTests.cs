using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Portal;

/// <summary>The admin pages' forms against a real wharfd: only system admins, and the same effects as the API.</summary>
public sealed class AdminPagesTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateUserAsync("dev");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<PortalClient> SignedInAsync(string username, string password)
    {
        var browser = new PortalClient(_server.BaseAddress);
        using var response = await browser.SignInAsync(username, password);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return browser;
    }

    [Fact]
    public async Task CreateUser_ByAdmin_CanSignInToTheApi()
    {
        using var admin = await SignedInAsync("admin", WharfServer.AdminPassword);

        using var response = await admin.SubmitAsync("/portal/admin/users", "/portal/admin/users", ("username", "carol"), ("email", "carol@example.test"), ("password", "Carol1234"));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        using var carol = _server.Client("carol", "Carol1234");
        Assert.Equal(HttpStatusCode.OK, (await carol.GetAsync("api/v2.0/users/current")).StatusCode);
    }

    [Fact]
    public async Task CreateUser_WeakPassword_IsRefusedAndNothingIsCreated()
    {
        using var admin = await SignedInAsync("admin", WharfServer.AdminPassword);

        using var response = await admin.SubmitAsync("/portal/admin/users", "/portal/admin/users", ("username", "weak"), ("password", "short"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty((await _server.Admin().GetFromJsonAsync<JsonElement[]>("api/v2.0/users?username=weak"))!);
    }

    [Fact]
    public async Task AdminPages_ForAUser_AreForbiddenAndTheirFormsToo()
    {
        using var dev = await SignedInAsync("dev", WharfEndpoint.UserPassword);
        var (status, page) = await dev.GetAsync("/portal/admin/users");

        using var post = await dev.PostAsync("/portal/admin/users", PortalClient.TokenOf(page), ("username", "sneaky"), ("password", "Sneaky1234"));

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal(HttpStatusCode.Forbidden, post.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await dev.GetAsync("/portal/admin/gc")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await dev.GetAsync("/portal/admin/audit")).Status);
        Assert.Empty((await _server.Admin().GetFromJsonAsync<JsonElement[]>("api/v2.0/users?username=sneaky"))!);
    }

    [Fact]
    public async Task MakeAdmin_ThenTheUserSeesTheAdminPages()
    {
        using var api = _server.Admin();
        long id = (await api.GetFromJsonAsync<JsonElement[]>("api/v2.0/users?username=dev"))!.Single().GetProperty("user_id").GetInt64();
        using var admin = await SignedInAsync("admin", WharfServer.AdminPassword);

        using var response = await admin.SubmitAsync("/portal/admin/users", $"/portal/admin/users/{id}/admin", ("sysadmin", "true"));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        using var dev = await SignedInAsync("dev", WharfEndpoint.UserPassword);
        Assert.Equal(HttpStatusCode.OK, (await dev.GetAsync("/portal/admin/users")).Status);
    }

    [Fact]
    public async Task RunGc_ByAdmin_ShowsInTheHistory()
    {
        using var admin = await SignedInAsync("admin", WharfServer.AdminPassword);

        using var response = await admin.SubmitAsync("/portal/admin/gc", "/portal/admin/gc", ("dry_run", "true"));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var runs = await _server.Admin().GetFromJsonAsync<JsonElement[]>("api/v2.0/system/gc");
        Assert.Single(runs!);
        Assert.Contains("Log of run", (await admin.GetAsync("/portal/admin/gc")).Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditLog_ShowsThePortalsOwnChanges()
    {
        using var admin = await SignedInAsync("admin", WharfServer.AdminPassword);
        using var created = await admin.SubmitAsync("/", "/portal/projects", ("project_name", "audited"));

        var (status, html) = await admin.GetAsync("/portal/admin/audit");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("<td>audited</td>", html, StringComparison.Ordinal);
    }
}
