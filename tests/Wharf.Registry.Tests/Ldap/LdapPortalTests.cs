using System.Net;
using System.Net.Http.Json;
using Wharf.Registry.Tests.Portal;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Ldap;

/// <summary>The portal in ldap_auth mode: sign-in with a directory password, failing closed with a clear message, and the admin's "test the directory settings".</summary>
public sealed class LdapPortalTests : IAsyncLifetime
{
    private Slapd _slapd = null!;
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _slapd = Slapd.Start();
        _server = await WharfServer.StartAsync(_slapd.Settings());
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _slapd.Dispose();
    }

    private async Task<PortalClient> AdminAsync()
    {
        var browser = new PortalClient(_server.BaseAddress);
        using var signIn = await browser.SignInAsync("admin", WharfServer.AdminPassword);
        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        return browser;
    }

    [Fact]
    public async Task TestDirectorySettings_GoodSettings_SaysTheDirectoryAnswered()
    {
        using var admin = await AdminAsync();
        var (status, page) = await admin.GetAsync("/portal/admin/directory");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains(_slapd.Url, page, StringComparison.Ordinal);

        using var test = await admin.PostAsync("/portal/admin/directory", PortalClient.TokenOf(page));

        Assert.Equal(HttpStatusCode.OK, test.StatusCode);
        Assert.Contains("The directory answered", await test.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestDirectorySettings_WrongServicePasswordOrServerDown_SaysWhatIsWrong()
    {
        using (var api = _server.Admin())
        using (var put = await api.PutAsJsonAsync(new Uri("api/v2.0/configurations", UriKind.Relative), new { ldap_search_password = "NotTheReaderPassword1" }))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var admin = await AdminAsync();
        using var wrongPassword = await admin.SubmitAsync("/portal/admin/directory", "/portal/admin/directory");
        string answer = await wrongPassword.Content.ReadAsStringAsync();
        Assert.Contains("The directory test failed", answer, StringComparison.Ordinal);
        Assert.Contains("role=\"alert\"", answer, StringComparison.Ordinal);

        _slapd.Stop();
        using var down = await admin.SubmitAsync("/portal/admin/directory", "/portal/admin/directory");
        Assert.Contains("The directory test failed", await down.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestDirectorySettings_ByAUser_IsForbidden()
    {
        using var alice = new PortalClient(_server.BaseAddress);
        using (var signIn = await alice.SignInAsync("alice", "AlicePass1"))
        {
            Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        }

        var (status, page) = await alice.GetAsync("/portal/admin/directory");
        using var post = await alice.PostAsync("/portal/admin/directory", PortalClient.TokenOf(page));

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal(HttpStatusCode.Forbidden, post.StatusCode);
    }

    [Fact]
    public async Task SignIn_DirectoryDown_FailsClosedSayingSo_AndTheLocalAdminStillSignsIn()
    {
        _slapd.Stop();
        using var alice = new PortalClient(_server.BaseAddress);

        using var refused = await alice.SignInAsync("alice", "AlicePass1");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Contains("directory cannot be reached", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, (await alice.GetAsync("/portal/account")).Status);
        using var admin = await AdminAsync();
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/portal/account")).Status);
    }

    [Fact]
    public async Task ProjectPage_ListsAGroupMemberWithItsRole()
    {
        await _server.CreateProjectAsync("tools");
        using (var api = _server.Admin())
        using (var add = await api.PostAsJsonAsync(new Uri("api/v2.0/projects/tools/members", UriKind.Relative), new
        {
            role_id = 4,
            member_group = new { group_name = "ops", ldap_group_dn = "cn=Ops,ou=groups,dc=wharf,dc=test", group_type = 1 },
        }))
        {
            Assert.Equal(HttpStatusCode.Created, add.StatusCode);
        }

        using var admin = await AdminAsync();
        var (_, html) = await admin.GetAsync("/portal/projects/tools");

        Assert.Contains("group ops", html, StringComparison.Ordinal);
        Assert.Contains("cn=Ops,ou=groups,dc=wharf,dc=test</span></th><td>maintainer", html, StringComparison.Ordinal);
    }
}
