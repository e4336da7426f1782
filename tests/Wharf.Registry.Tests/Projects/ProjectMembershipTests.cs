using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Identity;
using Wharf.Registry.Management;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Projects;

/// <summary>Harbor's member rules called directly, as a front end other than the HTTP API (the portal) calls them.</summary>
public sealed class ProjectMembershipTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    private ProjectMembership Membership => _server.Services.GetRequiredService<ProjectMembership>();

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
        foreach (var (name, role) in new[] { ("boss", ProjectRole.ProjectAdmin), ("dev", ProjectRole.Developer), ("peek", ProjectRole.LimitedGuest) })
        {
            await _server.CreateUserAsync(name);
            await _server.AddMemberAsync("lab", name, role);
        }

        await _server.CreateUserAsync("newcomer");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task ListAsync_LimitedGuest_IsForbidden()
    {
        var project = await ProjectAsync("lab");
        var peek = await CallerAsync("peek");

        var e = await Assert.ThrowsAsync<ApiException>(() => Membership.ListAsync(peek, project, null, default));

        Assert.Equal(403, e.Status);
        Assert.Equal(4, (await Membership.ListAsync(await CallerAsync("dev"), project, null, default)).Count);
    }

    [Fact]
    public async Task AddAsync_Developer_IsForbiddenAndAddsNobody()
    {
        var project = await ProjectAsync("lab");
        var dev = await CallerAsync("dev");

        var e = await Assert.ThrowsAsync<ApiException>(() => Membership.AddAsync(dev, project, null, "newcomer", ProjectRole.Guest, default));

        Assert.Equal(403, e.Status);
        Assert.DoesNotContain(await Membership.ListAsync(await CallerAsync("boss"), project, null, default), m => m.Username == "newcomer");
    }

    [Fact]
    public async Task AddAsync_ProjectAdminTwice_AddsOnceThenConflicts()
    {
        var project = await ProjectAsync("lab");
        var boss = await CallerAsync("boss");

        var member = await Membership.AddAsync(boss, project, null, "newcomer", ProjectRole.Guest, default);
        var e = await Assert.ThrowsAsync<ApiException>(() => Membership.AddAsync(boss, project, null, "newcomer", ProjectRole.Developer, default));

        Assert.Equal(ProjectRole.Guest, member.Role);
        Assert.Equal(409, e.Status);
    }

    private async Task<Caller> CallerAsync(string username) =>
        Caller.ForUser((await _server.Services.GetRequiredService<IUserStore>().FindByNameAsync(username, default))!);

    private async Task<Project> ProjectAsync(string name) =>
        (await _server.Services.GetRequiredService<IProjectStore>().FindByNameAsync(name, default))!;
}
