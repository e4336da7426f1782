using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Registry.Projects;
using Wharf.Registry.Tests.Proxy;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;
using static Wharf.Registry.Tests.Replication.ReplicationSetup;

namespace Wharf.Registry.Tests.Labels;

/// <summary>
/// Harbor's labels through its API: global and project labels with their permissions, labels on
/// artifacts (shown with <c>with_label=true</c>, gone with the artifact or the label), and a push
/// replication to a real docker-registry that copies only the labelled tags.
/// </summary>
public sealed class LabelTests : IAsyncLifetime
{
    private WharfServer _server = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("team");
        await _server.CreateProjectAsync("other");
        _admin = _server.Admin();
        foreach (var (user, role) in new[] { ("maint", ProjectRole.Maintainer), ("dev", ProjectRole.Developer), ("guest", ProjectRole.Guest) })
        {
            await _server.CreateUserAsync(user);
            await _server.AddMemberAsync("team", user, role);
        }

        await _server.CreateUserAsync("outsider");
    }

    public async Task DisposeAsync()
    {
        _admin?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    [Fact]
    public async Task GlobalLabels_SystemAdminsManageThem_EverySignedInAccountSeesThem()
    {
        long id = await CreateAsync(_admin, new { name = "release", color = "#00AA00", description = "shipped", scope = "g" });

        using var outsider = User("outsider");
        var listed = await ListAsync(outsider, "labels?scope=g");
        var label = Assert.Single(listed);
        Assert.Equal("release", label.GetProperty("name").GetString());
        Assert.Equal("#00AA00", label.GetProperty("color").GetString());
        Assert.Equal("g", label.GetProperty("scope").GetString());
        Assert.Equal(0, label.GetProperty("project_id").GetInt64());

        using (var refused = await outsider.PostAsJsonAsync("api/v2.0/labels", new { name = "mine", scope = "g" }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        using (var anonymous = _server.Client())
        using (var listAnonymous = await anonymous.GetAsync("api/v2.0/labels?scope=g"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, listAnonymous.StatusCode);
        }

        using (var duplicate = await _admin.PostAsJsonAsync("api/v2.0/labels", new { name = "release", scope = "g" }))
        {
            Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        }

        using (var badColor = await _admin.PostAsJsonAsync("api/v2.0/labels", new { name = "x", color = "green", scope = "g" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, badColor.StatusCode);
        }

        using (var update = await _admin.PutAsJsonAsync($"api/v2.0/labels/{id}", new { name = "released", description = "shipped to users" }))
        {
            await WharfEndpoint.ExpectAsync(update, HttpStatusCode.OK);
        }

        var changed = await GetJsonAsync(_admin, $"labels/{id}");
        Assert.Equal("released", changed.GetProperty("name").GetString());
        Assert.Equal("#00AA00", changed.GetProperty("color").GetString());
        Assert.Single(await ListAsync(_admin, "labels?scope=g&q=name%3D~leas"));
        Assert.Empty(await ListAsync(_admin, "labels?scope=g&q=name%3Drelease"));
    }

    [Fact]
    public async Task ProjectLabels_MaintainersManageThem_OthersOfTheProjectOnlySeeThem()
    {
        long project = await ProjectIdAsync("team");
        using var maint = User("maint");
        using var dev = User("dev");
        using var outsider = User("outsider");

        long id = await CreateAsync(maint, new { name = "gpu", scope = "p", project_id = project });
        using (var devCreate = await dev.PostAsJsonAsync("api/v2.0/labels", new { name = "cpu", scope = "p", project_id = project }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, devCreate.StatusCode);
        }

        Assert.Equal("gpu", Assert.Single(await ListAsync(dev, $"labels?scope=p&project_id={project}")).GetProperty("name").GetString());
        using (var hidden = await outsider.GetAsync($"api/v2.0/labels?scope=p&project_id={project}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);
        }

        using (var hiddenOne = await outsider.GetAsync($"api/v2.0/labels/{id}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, hiddenOne.StatusCode);
        }

        // The same name is free in another scope.
        await CreateAsync(_admin, new { name = "gpu", scope = "g" });
        using (var devDelete = await dev.DeleteAsync($"api/v2.0/labels/{id}"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, devDelete.StatusCode);
        }

        using (var delete = await maint.DeleteAsync($"api/v2.0/labels/{id}"))
        {
            await WharfEndpoint.ExpectAsync(delete, HttpStatusCode.OK);
        }

        Assert.Empty(await ListAsync(maint, $"labels?scope=p&project_id={project}"));
    }

    [Fact]
    public async Task ArtifactLabels_AddedByDevelopers_ShownWithLabel_GoneWithTheLabelAndTheArtifact()
    {
        long project = await ProjectIdAsync("team");
        long other = await ProjectIdAsync("other");
        var image = await Images.PushImageAsync(_admin, "team/app", "1.0", ProxySetup.RandomLayer());
        await Images.PushImageAsync(_admin, "team/app", "2.0", ProxySetup.RandomLayer());
        long global = await CreateAsync(_admin, new { name = "approved", scope = "g" });
        long own = await CreateAsync(_admin, new { name = "gpu", scope = "p", project_id = project });
        long foreign = await CreateAsync(_admin, new { name = "theirs", scope = "p", project_id = other });
        const string artifact = "api/v2.0/projects/team/repositories/app/artifacts/1.0";

        using var dev = User("dev");
        using var guest = User("guest");
        await ExpectAsync(dev.PostAsJsonAsync($"{artifact}/labels", new { id = global }), HttpStatusCode.OK);
        await ExpectAsync(dev.PostAsJsonAsync($"{artifact}/labels", new { id = own }), HttpStatusCode.OK);
        await ExpectAsync(dev.PostAsJsonAsync($"{artifact}/labels", new { id = own }), HttpStatusCode.Conflict);
        await ExpectAsync(dev.PostAsJsonAsync($"{artifact}/labels", new { id = foreign }), HttpStatusCode.BadRequest);
        await ExpectAsync(guest.PostAsJsonAsync($"{artifact}/labels", new { id = global }), HttpStatusCode.Forbidden);
        await ExpectAsync(dev.PostAsJsonAsync($"{artifact}/labels", new { id = 999_999 }), HttpStatusCode.NotFound);

        var shown = await GetJsonAsync(guest, "projects/team/repositories/app/artifacts/1.0?with_label=true");
        Assert.Equal(["approved", "gpu"], shown.GetProperty("labels").EnumerateArray().Select(l => l.GetProperty("name").GetString()));
        Assert.False((await GetJsonAsync(guest, "projects/team/repositories/app/artifacts/1.0")).TryGetProperty("labels", out _));
        var list = await ListAsync(guest, "projects/team/repositories/app/artifacts?with_label=true");
        var byDigest = list.ToDictionary(a => a.GetProperty("digest").GetString()!, a => a.GetProperty("labels").GetArrayLength());
        Assert.Equal(2, byDigest[image.Digest.ToString()]);
        Assert.Equal(1, byDigest.Values.Count(n => n == 0));

        // Taken off by hand, with the label, and with the artifact.
        await ExpectAsync(dev.DeleteAsync($"{artifact}/labels/{own}"), HttpStatusCode.OK);
        await ExpectAsync(dev.DeleteAsync($"{artifact}/labels/{own}"), HttpStatusCode.NotFound);
        await ExpectAsync(_admin.DeleteAsync($"api/v2.0/labels/{global}"), HttpStatusCode.OK);
        Assert.Empty((await GetJsonAsync(guest, "projects/team/repositories/app/artifacts/1.0?with_label=true")).GetProperty("labels").EnumerateArray());

        await ExpectAsync(dev.PostAsJsonAsync($"{artifact}/labels", new { id = own }), HttpStatusCode.OK);
        await ExpectAsync(_admin.DeleteAsync($"api/v2.0/projects/team/repositories/app/artifacts/{image.Digest}"), HttpStatusCode.OK);
        await Images.PushImageAsync(_admin, "team/app", "1.0", ProxySetup.RandomLayer());
        var repushed = await GetJsonAsync(guest, "projects/team/repositories/app/artifacts/1.0?with_label=true");
        Assert.Empty(repushed.GetProperty("labels").EnumerateArray());
    }

    [Fact]
    public async Task PushReplication_LabelFilter_CopiesOnlyTheLabelledTags()
    {
        using var registry = await DockerRegistry.StartAsync("upstream");
        using var remote = registry.Client();
        long registryId = await ProxySetup.RegisterAsync(_server, "dr", registry.Url);
        await Images.PushImageAsync(_admin, "team/app", "1.0", ProxySetup.RandomLayer());
        await Images.PushImageAsync(_admin, "team/app", "1.1", ProxySetup.RandomLayer());
        await Images.PushImageAsync(_admin, "team/app", "1.2", ProxySetup.RandomLayer());
        long release = await CreateAsync(_admin, new { name = "release", scope = "g" });
        long broken = await CreateAsync(_admin, new { name = "broken", scope = "g" });
        foreach (string tag in new[] { "1.0", "1.2" })
        {
            await ExpectAsync(_admin.PostAsJsonAsync($"api/v2.0/projects/team/repositories/app/artifacts/{tag}/labels", new { id = release }), HttpStatusCode.OK);
        }

        await ExpectAsync(_admin.PostAsJsonAsync("api/v2.0/projects/team/repositories/app/artifacts/1.2/labels", new { id = broken }), HttpStatusCode.OK);

        // A label filter on a pull-based policy has nothing to read labels from.
        using (var pull = await _admin.PostAsJsonAsync("api/v2.0/replication/policies", new
        {
            name = "from-dr", src_registry = new { id = registryId }, dest_namespace = "team",
            filters = new object[] { new { type = "label", value = new[] { "release" } } },
        }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, pull.StatusCode);
        }

        long policy = await CreatePolicyAsync(_server, new
        {
            name = "releases",
            dest_registry = new { id = registryId },
            filters = new object[]
            {
                new { type = "name", value = "team/**" },
                new { type = "label", value = new[] { "release" } },
                new { type = "label", value = new[] { "broken" }, decoration = "excludes" },
            },
        });
        var shown = await GetJsonAsync(_admin, $"replication/policies/{policy}");
        Assert.Equal(["release"], shown.GetProperty("filters")[1].GetProperty("value").EnumerateArray().Select(v => v.GetString()));

        var execution = await WaitAsync(_server, await StartAsync(_server, policy));

        await AssertSucceededAsync(_server, execution);
        Assert.Equal(["1.0"], await TagsAsync(remote, "team/app"));
    }

    private HttpClient User(string name) => _server.Client(name, WharfEndpoint.UserPassword);

    private async Task<long> ProjectIdAsync(string name) => (await GetJsonAsync(_admin, $"projects/{name}")).GetProperty("project_id").GetInt64();

    private static async Task<long> CreateAsync(HttpClient client, object label)
    {
        using var response = await client.PostAsJsonAsync("api/v2.0/labels", label);
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.Created);
        return long.Parse(response.Headers.Location!.ToString().Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<JsonElement> GetJsonAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync("api/v2.0/" + path);
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.OK);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private static async Task<JsonElement[]> ListAsync(HttpClient client, string path) => [.. (await GetJsonAsync(client, path)).EnumerateArray()];

    private static async Task ExpectAsync(Task<HttpResponseMessage> request, HttpStatusCode expected)
    {
        using var response = await request;
        await WharfEndpoint.ExpectAsync(response, expected);
    }
}
