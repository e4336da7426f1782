using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Wharf.Registry.Projects;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Management;

/// <summary>Harbor's repositories, artifacts and tags over the real registry core.</summary>
public sealed class RepositoriesApiTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
        await _server.CreateUserAsync("dev");
        await _server.CreateUserAsync("guest");
        await _server.CreateUserAsync("stranger");
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);
        await _server.AddMemberAsync("lab", "guest", ProjectRole.Guest);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task ListRepositories_ShowsArtifactAndPullCounts()
    {
        using var admin = _server.Admin();
        await Images.PushImageAsync(admin, "lab/app", "v1", RandomNumberGenerator.GetBytes(100));
        await Images.PushImageAsync(admin, "lab/app", "v2", RandomNumberGenerator.GetBytes(100));
        await Images.PushImageAsync(admin, "lab/team/tool", "v1", RandomNumberGenerator.GetBytes(100));
        for (int i = 0; i < 3; i++)
        {
            (await admin.GetAsync("v2/lab/app/manifests/v1")).EnsureSuccessStatusCode();
        }

        using var guest = _server.Client("guest", "Passw0rdX");
        using var response = await guest.GetAsync("api/v2.0/projects/lab/repositories");
        response.EnsureSuccessStatusCode();
        var list = (await response.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().ToArray();

        Assert.Equal(["lab/app", "lab/team/tool"], list.Select(r => r.GetProperty("name").GetString()!).ToArray());
        Assert.Equal(2, list[0].GetProperty("artifact_count").GetInt64());
        Assert.Equal(3, list[0].GetProperty("pull_count").GetInt64());
        Assert.Equal(0, list[1].GetProperty("pull_count").GetInt64());
        Assert.True(list[0].TryGetProperty("creation_time", out _) && list[0].TryGetProperty("update_time", out _));
        Assert.Equal("2", response.Headers.GetValues("X-Total-Count").Single());
    }

    [Fact]
    public async Task GetRepository_SlashEncodedTwiceOrOnce_FindsIt()
    {
        using var admin = _server.Admin();
        await Images.PushImageAsync(admin, "lab/team/tool", "v1", RandomNumberGenerator.GetBytes(10));

        var twice = await admin.GetFromJsonAsync<JsonElement>("api/v2.0/projects/lab/repositories/team%252Ftool");
        var once = await admin.GetFromJsonAsync<JsonElement>("api/v2.0/projects/lab/repositories/team%2Ftool");

        Assert.Equal("lab/team/tool", twice.GetProperty("name").GetString());
        Assert.Equal("lab/team/tool", once.GetProperty("name").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("api/v2.0/projects/lab/repositories/missing")).StatusCode);
    }

    [Fact]
    public async Task ListArtifacts_SizeTagsPushAndPullTimes()
    {
        using var admin = _server.Admin();
        byte[] layer = RandomNumberGenerator.GetBytes(1_000);
        var (digest, body) = await Images.PushImageAsync(admin, "lab/app", "v1", layer, layer.Reverse().ToArray());
        using (var tag = new HttpRequestMessage(HttpMethod.Put, "v2/lab/app/manifests/latest") { Content = new ByteArrayContent(body) })
        {
            tag.Content.Headers.ContentType = new(Wharf.Oci.MediaTypes.OciManifest);
            (await admin.SendAsync(tag)).EnsureSuccessStatusCode();
        }

        var before = (await admin.GetFromJsonAsync<JsonElement>("api/v2.0/projects/lab/repositories/app/artifacts"))[0];
        Assert.Equal("0001-01-01T00:00:00.000Z", before.GetProperty("pull_time").GetString());
        (await admin.GetAsync("v2/lab/app/manifests/latest")).EnsureSuccessStatusCode();

        var artifacts = await admin.GetFromJsonAsync<JsonElement>("api/v2.0/projects/lab/repositories/app/artifacts");
        var artifact = Assert.Single(artifacts.EnumerateArray());
        Assert.Equal(digest.ToString(), artifact.GetProperty("digest").GetString());
        Assert.Equal(body.Length + Images.ConfigSize + 2 * layer.Length, artifact.GetProperty("size").GetInt64());
        Assert.Equal(["latest", "v1"], artifact.GetProperty("tags").EnumerateArray().Select(t => t.GetProperty("name").GetString()!).ToArray());
        Assert.All(artifact.GetProperty("tags").EnumerateArray(), t => Assert.NotEqual("", t.GetProperty("push_time").GetString()));
        Assert.NotEqual("0001-01-01T00:00:00.000Z", artifact.GetProperty("pull_time").GetString());
        Assert.Equal("IMAGE", artifact.GetProperty("type").GetString());

        var byTag = await admin.GetFromJsonAsync<JsonElement>("api/v2.0/projects/lab/repositories/app/artifacts/v1");
        var byDigest = await admin.GetFromJsonAsync<JsonElement>($"api/v2.0/projects/lab/repositories/app/artifacts/{digest}");
        Assert.Equal(digest.ToString(), byTag.GetProperty("digest").GetString());
        Assert.Equal(digest.ToString(), byDigest.GetProperty("digest").GetString());
    }

    [Fact]
    public async Task Tags_CreateListDelete_ChangeWhatPullsResolve()
    {
        using var dev = _server.Client("dev", "Passw0rdX");
        var (digest, _) = await Images.PushImageAsync(dev, "lab/app", "v1", RandomNumberGenerator.GetBytes(10));

        using var created = await dev.PostAsJsonAsync("api/v2.0/projects/lab/repositories/app/artifacts/v1/tags", new { name = "stable" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var pulled = await dev.GetAsync("v2/lab/app/manifests/stable");
        Assert.Equal(digest.ToString(), pulled.Headers.GetValues("Docker-Content-Digest").Single());
        Assert.Equal(HttpStatusCode.Conflict, (await dev.PostAsJsonAsync("api/v2.0/projects/lab/repositories/app/artifacts/v1/tags", new { name = "stable" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await dev.PostAsJsonAsync("api/v2.0/projects/lab/repositories/app/artifacts/v1/tags", new { name = "-bad" })).StatusCode);

        var tags = await dev.GetFromJsonAsync<JsonElement>($"api/v2.0/projects/lab/repositories/app/artifacts/{digest}/tags");
        Assert.Equal(["stable", "v1"], tags.EnumerateArray().Select(t => t.GetProperty("name").GetString()!).ToArray());

        // Developers push but do not delete (Harbor); the admin may.
        Assert.Equal(HttpStatusCode.Forbidden, (await dev.DeleteAsync("api/v2.0/projects/lab/repositories/app/artifacts/v1/tags/stable")).StatusCode);
        using var admin = _server.Admin();
        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync("api/v2.0/projects/lab/repositories/app/artifacts/v1/tags/stable")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await dev.GetAsync("v2/lab/app/manifests/stable")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await dev.GetAsync("v2/lab/app/manifests/v1")).StatusCode);
    }

    [Fact]
    public async Task DeleteArtifact_ReleasesQuotaAndThePullFails()
    {
        using var admin = _server.Admin();
        await Images.PushImageAsync(admin, "lab/app", "keep", RandomNumberGenerator.GetBytes(500));
        long kept = await UsageAsync("lab");
        await Images.PushImageAsync(admin, "lab/app", "drop", RandomNumberGenerator.GetBytes(700));
        Assert.True(await UsageAsync("lab") > kept);

        using var guest = _server.Client("guest", "Passw0rdX");
        Assert.Equal(HttpStatusCode.Forbidden, (await guest.DeleteAsync("api/v2.0/projects/lab/repositories/app/artifacts/drop")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync("api/v2.0/projects/lab/repositories/app/artifacts/drop")).StatusCode);

        Assert.Equal(kept, await UsageAsync("lab"));
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("v2/lab/app/manifests/drop")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("api/v2.0/projects/lab/repositories/app/artifacts/drop")).StatusCode);
    }

    [Fact]
    public async Task DeleteRepository_RemovesItsArtifactsAndUsage()
    {
        using var admin = _server.Admin();
        byte[] shared = RandomNumberGenerator.GetBytes(800);
        await Images.PushImageAsync(admin, "lab/a", "v1", shared);
        long onlyA = await UsageAsync("lab");
        await Images.PushImageAsync(admin, "lab/b", "v1", shared, RandomNumberGenerator.GetBytes(300));

        using var dev = _server.Client("dev", "Passw0rdX");
        Assert.Equal(HttpStatusCode.Forbidden, (await dev.DeleteAsync("api/v2.0/projects/lab/repositories/b")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync("api/v2.0/projects/lab/repositories/b")).StatusCode);

        Assert.Equal(onlyA, await UsageAsync("lab"));
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("v2/lab/b/manifests/v1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("v2/lab/a/manifests/v1")).StatusCode);
        var names = (await admin.GetFromJsonAsync<JsonElement>("api/v2.0/projects/lab/repositories")).EnumerateArray().Select(r => r.GetProperty("name").GetString()!);
        Assert.Equal(["lab/a"], names.ToArray());
    }

    [Fact]
    public async Task ForceDeleteProject_ThenRecreate_IsEmpty()
    {
        using var admin = _server.Admin();
        await Images.PushImageAsync(admin, "lab/app", "v1", RandomNumberGenerator.GetBytes(400));
        (await admin.GetAsync("v2/lab/app/manifests/v1")).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await admin.DeleteAsync("api/v2.0/projects/lab")).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync("api/v2.0/projects/lab?force=true")).StatusCode);
        await _server.CreateProjectAsync("lab");

        Assert.Equal(0, await UsageAsync("lab"));
        Assert.Equal(0, (await admin.GetFromJsonAsync<JsonElement>("api/v2.0/projects/lab/repositories")).GetArrayLength());
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("v2/lab/app/manifests/v1")).StatusCode);
        var summary = await admin.GetFromJsonAsync<JsonElement>("api/v2.0/projects/lab/summary");
        Assert.Equal(0, summary.GetProperty("repo_count").GetInt64());
    }

    [Fact]
    public async Task Repositories_PrivateProjectForStranger_IsNotFound()
    {
        using var admin = _server.Admin();
        await Images.PushImageAsync(admin, "lab/app", "v1", RandomNumberGenerator.GetBytes(10));
        using var stranger = _server.Client("stranger", "Passw0rdX");

        Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetAsync("api/v2.0/projects/lab/repositories")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetAsync("api/v2.0/projects/lab/repositories/app/artifacts")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.DeleteAsync("api/v2.0/projects/lab/repositories/app")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _server.Client().GetAsync("api/v2.0/projects/lab/repositories")).StatusCode);
    }

    [Fact]
    public async Task ListRepositories_Paging_TotalAndLinkHeaders()
    {
        using var admin = _server.Admin();
        foreach (string name in new[] { "a", "b", "c" })
        {
            await Images.PushImageAsync(admin, $"lab/{name}", "v1", RandomNumberGenerator.GetBytes(10));
        }

        using var response = await admin.GetAsync("api/v2.0/projects/lab/repositories?page=2&page_size=1");
        var page = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal("lab/b", Assert.Single(page.EnumerateArray()).GetProperty("name").GetString());
        Assert.Equal("3", response.Headers.GetValues("X-Total-Count").Single());
        string link = response.Headers.GetValues("Link").Single();
        Assert.Contains("/api/v2.0/projects/lab/repositories?page=1&page_size=1>; rel=\"prev\"", link, StringComparison.Ordinal);
        Assert.Contains("/api/v2.0/projects/lab/repositories?page=3&page_size=1>; rel=\"next\"", link, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Members_ListIsPaged()
    {
        using var admin = _server.Admin();
        using var response = await admin.GetAsync("api/v2.0/projects/lab/members?page=1&page_size=2");
        var page = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(2, page.GetArrayLength());
        Assert.Equal("3", response.Headers.GetValues("X-Total-Count").Single()); // admin (creator), dev, guest
        Assert.Contains("rel=\"next\"", response.Headers.GetValues("Link").Single(), StringComparison.Ordinal);
    }

    private async Task<long> UsageAsync(string project)
    {
        using var admin = _server.Admin();
        var summary = await admin.GetFromJsonAsync<JsonElement>($"api/v2.0/projects/{project}/summary");
        return summary.GetProperty("quota").GetProperty("used").GetProperty("storage").GetInt64();
    }
}
