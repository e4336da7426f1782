using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Portal;

/// <summary>
/// The project settings form's <c>publish_to_shared_store</c> checkbox (issue 22): shown only where wharfd
/// has a shared image store, and set through the same rule as the project API's metadata.
/// </summary>
public sealed class SharedStoreSettingTests : IAsyncLifetime
{
    private readonly TempDirectory _shared = new();
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync(new()
        {
            ["Registry:SharedStore:Path"] = _shared.Path,
            ["Registry:SharedStore:Format"] = "dir",
        });
        await _server.CreateProjectAsync("team");
        await _server.CreateUserAsync("lead");
        await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("team", "lead", ProjectRole.ProjectAdmin);
        await _server.AddMemberAsync("team", "dev", ProjectRole.Developer);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _shared.Dispose();
    }

    private async Task<PortalClient> SignedInAsync(string username)
    {
        var browser = new PortalClient(_server.BaseAddress);
        using var response = await browser.SignInAsync(username, WharfEndpoint.UserPassword);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return browser;
    }

    private async Task<bool> PublishingAsync()
    {
        using var api = _server.Admin();
        var status = await api.GetFromJsonAsync<JsonElement>("api/v2.0/projects/team/shared-store");
        return status.GetProperty("publishing").GetBoolean();
    }

    [Fact]
    public async Task Settings_ProjectAdmin_TurnsPublishingOnAndOff()
    {
        using var lead = await SignedInAsync("lead");
        var (_, page) = await lead.GetAsync("/portal/projects/team");
        Assert.Contains("Publish to the shared image store", page, StringComparison.Ordinal);
        Assert.DoesNotContain("name=\"publish_to_shared_store\" value=\"true\" aria-describedby=\"shared_store_hint\" checked", page, StringComparison.Ordinal);

        using var on = await lead.PostAsync("/portal/projects/team/settings", PortalClient.TokenOf(page), ("shared_store_field", "1"), ("publish_to_shared_store", "true"));

        Assert.Equal(HttpStatusCode.Redirect, on.StatusCode);
        Assert.True(await PublishingAsync());
        using var api = _server.Admin();
        var project = await api.GetFromJsonAsync<JsonElement>("api/v2.0/projects/team");
        Assert.Equal("true", project.GetProperty("metadata").GetProperty("publish_to_shared_store").GetString());
        var (_, after) = await lead.GetAsync("/portal/projects/team");
        Assert.Contains("aria-describedby=\"shared_store_hint\" checked", after, StringComparison.Ordinal);

        // A cleared checkbox sends nothing; the hidden field says it was on the form.
        using var off = await lead.PostAsync("/portal/projects/team/settings", PortalClient.TokenOf(after), ("shared_store_field", "1"));

        Assert.Equal(HttpStatusCode.Redirect, off.StatusCode);
        Assert.False(await PublishingAsync());
    }

    [Fact]
    public async Task Settings_Developer_IsForbiddenAndChangesNothing()
    {
        using var dev = await SignedInAsync("dev");
        var (_, page) = await dev.GetAsync("/portal/projects/team");

        using var response = await dev.PostAsync("/portal/projects/team/settings", PortalClient.TokenOf(page), ("shared_store_field", "1"), ("publish_to_shared_store", "true"));

        Assert.DoesNotContain("Publish to the shared image store", page, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.False(await PublishingAsync());
    }

    [Fact]
    public async Task Settings_BadValue_IsRefusedAndChangesNothing()
    {
        using var lead = await SignedInAsync("lead");

        using var response = await lead.SubmitAsync("/portal/projects/team", "/portal/projects/team/settings", ("public", "true"), ("shared_store_field", "1"), ("publish_to_shared_store", "yes"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.False(await PublishingAsync());
        using var api = _server.Admin();
        var project = await api.GetFromJsonAsync<JsonElement>("api/v2.0/projects/team");
        Assert.Equal("false", project.GetProperty("metadata").GetProperty("public").GetString());
    }

    [Fact]
    public async Task Settings_WithoutASharedStore_HasNoCheckboxAndRefusesTheSetting()
    {
        await using var plain = await WharfServer.StartAsync();
        await plain.CreateProjectAsync("team");
        using var admin = new PortalClient(plain.BaseAddress);
        using var signIn = await admin.SignInAsync("admin", WharfServer.AdminPassword);
        var (_, page) = await admin.GetAsync("/portal/projects/team");

        using var response = await admin.PostAsync("/portal/projects/team/settings", PortalClient.TokenOf(page), ("public", "true"), ("shared_store_field", "1"), ("publish_to_shared_store", "true"));

        Assert.Contains("Save settings", page, StringComparison.Ordinal);
        Assert.DoesNotContain("shared image store", page, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("no shared image store", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var api = plain.Admin();
        var project = await api.GetFromJsonAsync<JsonElement>("api/v2.0/projects/team");
        Assert.Equal("false", project.GetProperty("metadata").GetProperty("public").GetString());
    }
}
