using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Registry.Projects;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Policies;

/// <summary>Harbor's /immutabletagrules API: shapes, validation, who may manage rules, and what the rules refuse.</summary>
public sealed class ImmutableTagRulesApiTests : IAsyncLifetime
{
    private const string Rules = "api/v2.0/projects/imm/immutabletagrules";
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("imm");
        foreach (var (user, role) in new[] { ("lead", ProjectRole.ProjectAdmin), ("keeper", ProjectRole.Maintainer), ("dev", ProjectRole.Developer) })
        {
            await _server.CreateUserAsync(user);
            await _server.AddMemberAsync("imm", user, role);
        }
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static object Rule(string tagPattern, string repoPattern = "**", string tagDecoration = "matches", string repoDecoration = "repoMatches", bool disabled = false) => new
    {
        disabled,
        action = "immutable",
        template = "immutable_template",
        tag_selectors = new[] { new { kind = "doublestar", decoration = tagDecoration, pattern = tagPattern } },
        scope_selectors = new { repository = new[] { new { kind = "doublestar", decoration = repoDecoration, pattern = repoPattern } } },
    };

    private async Task<long> AddRuleAsync(object rule)
    {
        using var admin = _server.Admin();
        using var response = await admin.PostAsJsonAsync(Rules, rule);
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.Created);
        return long.Parse(response.Headers.Location!.OriginalString.Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<JsonElement> ListAsync()
    {
        using var admin = _server.Admin();
        using var doc = JsonDocument.Parse(await admin.GetStringAsync(Rules));
        return doc.RootElement.Clone();
    }

    [Fact]
    public async Task Crud_ProjectAdmin_CreatesListsUpdatesDeletesInHarborsShape()
    {
        using var lead = _server.Client("lead", WharfEndpoint.UserPassword);
        using var created = await lead.PostAsJsonAsync(Rules, Rule("v*", "app/**"));
        await WharfEndpoint.ExpectAsync(created, HttpStatusCode.Created);
        string location = created.Headers.Location!.OriginalString;
        Assert.Matches(@"^/api/v2\.0/projects/\d+/immutabletagrules/\d+$", location);
        long id = long.Parse(location.Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture);

        using (var list = JsonDocument.Parse(await lead.GetStringAsync(Rules)))
        {
            var rule = Assert.Single(list.RootElement.EnumerateArray());
            Assert.Equal(id, rule.GetProperty("id").GetInt64());
            Assert.True(rule.GetProperty("project_id").GetInt64() > 0);
            Assert.False(rule.GetProperty("disabled").GetBoolean());
            Assert.Equal("immutable", rule.GetProperty("action").GetString());
            Assert.Equal("immutable_template", rule.GetProperty("template").GetString());
            var tag = rule.GetProperty("tag_selectors")[0];
            Assert.Equal(("doublestar", "matches", "v*"), (tag.GetProperty("kind").GetString(), tag.GetProperty("decoration").GetString(), tag.GetProperty("pattern").GetString()));
            var repo = rule.GetProperty("scope_selectors").GetProperty("repository")[0];
            Assert.Equal(("doublestar", "repoMatches", "app/**"), (repo.GetProperty("kind").GetString(), repo.GetProperty("decoration").GetString(), repo.GetProperty("pattern").GetString()));
        }

        using (var put = await lead.PutAsJsonAsync($"{Rules}/{id}", Rule("release-*", "**", disabled: true)))
        {
            await WharfEndpoint.ExpectAsync(put, HttpStatusCode.OK);
        }

        var updated = Assert.Single((await ListAsync()).EnumerateArray());
        Assert.True(updated.GetProperty("disabled").GetBoolean());
        Assert.Equal("release-*", updated.GetProperty("tag_selectors")[0].GetProperty("pattern").GetString());

        using (var delete = await lead.DeleteAsync($"{Rules}/{id}"))
        {
            await WharfEndpoint.ExpectAsync(delete, HttpStatusCode.OK);
        }

        Assert.Equal(0, (await ListAsync()).GetArrayLength());
        using var again = await lead.DeleteAsync($"{Rules}/{id}");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        using var putMissing = await lead.PutAsJsonAsync($"{Rules}/{id}", Rule("x"));
        Assert.Equal(HttpStatusCode.NotFound, putMissing.StatusCode);
    }

    [Theory]
    [InlineData("[", "repoMatches", "matches", "doublestar")]
    [InlineData("{a,b", "repoMatches", "matches", "doublestar")]
    [InlineData("", "repoMatches", "matches", "doublestar")]
    [InlineData("v*", "matches", "matches", "doublestar")]
    [InlineData("v*", "repoMatches", "repoMatches", "doublestar")]
    [InlineData("v*", "repoMatches", "matches", "regex")]
    public async Task Create_BadSelector_400AndNothingStored(string tagPattern, string repoDecoration, string tagDecoration, string kind)
    {
        using var admin = _server.Admin();
        var body = new
        {
            action = "immutable",
            template = "immutable_template",
            tag_selectors = new[] { new { kind, decoration = tagDecoration, pattern = tagPattern } },
            scope_selectors = new { repository = new[] { new { kind = "doublestar", decoration = repoDecoration, pattern = "**" } } },
        };
        using var response = await admin.PostAsJsonAsync(Rules, body);
        await ErrorAssert.HasErrorAsync(response, HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.Equal(0, (await ListAsync()).GetArrayLength());
    }

    [Fact]
    public async Task Create_MissingSelectorsOrWrongAction_400()
    {
        using var admin = _server.Admin();
        using var noScope = await admin.PostAsJsonAsync(Rules, new { tag_selectors = new[] { new { kind = "doublestar", decoration = "matches", pattern = "**" } } });
        await ErrorAssert.HasErrorAsync(noScope, HttpStatusCode.BadRequest, "BAD_REQUEST");
        using var badPattern = await admin.PostAsJsonAsync(Rules, Rule("**", "[!]"));
        await ErrorAssert.HasErrorAsync(badPattern, HttpStatusCode.BadRequest, "BAD_REQUEST");
        using var badAction = await admin.PostAsJsonAsync(Rules, new
        {
            action = "retain",
            tag_selectors = new[] { new { kind = "doublestar", decoration = "matches", pattern = "**" } },
            scope_selectors = new { repository = new[] { new { kind = "doublestar", decoration = "repoMatches", pattern = "**" } } },
        });
        await ErrorAssert.HasErrorAsync(badAction, HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.Equal(0, (await ListAsync()).GetArrayLength());
    }

    [Fact]
    public async Task Create_SameSelectorsTwice_409()
    {
        await AddRuleAsync(Rule("v*"));
        using var admin = _server.Admin();
        using var second = await admin.PostAsJsonAsync(Rules, Rule("v*"));
        await ErrorAssert.HasErrorAsync(second, HttpStatusCode.Conflict, "CONFLICT");
        Assert.Equal(1, (await ListAsync()).GetArrayLength());
    }

    [Fact]
    public async Task Manage_NotProjectAdmin_RefusedAndNothingChanged()
    {
        long id = await AddRuleAsync(Rule("v*"));
        foreach (string user in new[] { "keeper", "dev" })
        {
            using var client = _server.Client(user, WharfEndpoint.UserPassword);
            using var list = await client.GetAsync(Rules);
            Assert.Equal(HttpStatusCode.Forbidden, list.StatusCode);
            using var post = await client.PostAsJsonAsync(Rules, Rule("x*"));
            Assert.Equal(HttpStatusCode.Forbidden, post.StatusCode);
            using var put = await client.PutAsJsonAsync($"{Rules}/{id}", Rule("y*", disabled: true));
            Assert.Equal(HttpStatusCode.Forbidden, put.StatusCode);
            using var delete = await client.DeleteAsync($"{Rules}/{id}");
            Assert.Equal(HttpStatusCode.Forbidden, delete.StatusCode);
        }

        using var anonymous = _server.Client();
        using var anonymousList = await anonymous.GetAsync(Rules);
        Assert.Equal(HttpStatusCode.NotFound, anonymousList.StatusCode); // a private project is invisible to anonymous callers

        var rule = Assert.Single((await ListAsync()).EnumerateArray());
        Assert.Equal("v*", rule.GetProperty("tag_selectors")[0].GetProperty("pattern").GetString());
        Assert.False(rule.GetProperty("disabled").GetBoolean());
    }

    [Fact]
    public async Task Push_DifferentDigestToImmutableTag_DeniedSameDigestAndOtherTagsAllowed()
    {
        var first = await _server.SeedImageAsync("imm/app", "v1");
        await _server.SeedImageAsync("imm/app", "latest");
        await AddRuleAsync(Rule("v*"));
        using var admin = _server.Admin();

        var (_, _, overwrite) = await Support.Images.TryPushImageAsync(admin, "imm/app", "v1", RegistryPush.Layer("other", 64));
        using (overwrite)
        {
            await ErrorAssert.HasErrorAsync(overwrite, HttpStatusCode.Forbidden, "DENIED");
        }

        using (var manifest = await admin.GetAsync("v2/imm/app/manifests/v1"))
        {
            Assert.Equal(first.Digest.ToString(), manifest.Headers.GetValues("Docker-Content-Digest").Single());
        }

        using (var same = await RegistryPush.PutManifestAsync(admin, "imm/app", "v1", first.Body, "application/vnd.oci.image.manifest.v1+json"))
        {
            Assert.Equal(HttpStatusCode.Created, same.StatusCode);
        }

        // Not matched by the rule: moves as before. A new matching tag may be pushed once.
        await RegistryPush.PushImageAsync(admin, "imm/app", "latest", RegistryPush.Layer("latest-2", 64));
        await RegistryPush.PushImageAsync(admin, "imm/app", "v2", RegistryPush.Layer("v2", 64));
    }

    [Fact]
    public async Task Delete_ImmutableTag_RefusedByRegistryAndApi()
    {
        var image = await _server.SeedImageAsync("imm/app", "v1");
        await AddRuleAsync(Rule("v*"));
        using var admin = _server.Admin();

        using (var byTag = await admin.DeleteAsync("v2/imm/app/manifests/v1"))
        {
            await ErrorAssert.HasErrorAsync(byTag, HttpStatusCode.Forbidden, "DENIED");
        }

        using (var byDigest = await admin.DeleteAsync($"v2/imm/app/manifests/{image.Digest}"))
        {
            await ErrorAssert.HasErrorAsync(byDigest, HttpStatusCode.Forbidden, "DENIED");
        }

        const string Artifact = "api/v2.0/projects/imm/repositories/app/artifacts";
        using (var tag = await admin.DeleteAsync($"{Artifact}/v1/tags/v1"))
        {
            await ErrorAssert.HasErrorAsync(tag, HttpStatusCode.PreconditionFailed, "PRECONDITION");
        }

        using (var artifact = await admin.DeleteAsync($"{Artifact}/{image.Digest}"))
        {
            await ErrorAssert.HasErrorAsync(artifact, HttpStatusCode.PreconditionFailed, "PRECONDITION");
        }

        using (var repository = await admin.DeleteAsync("api/v2.0/projects/imm/repositories/app"))
        {
            await ErrorAssert.HasErrorAsync(repository, HttpStatusCode.PreconditionFailed, "PRECONDITION");
        }

        using var still = await admin.GetAsync("v2/imm/app/manifests/v1");
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);
    }

    [Fact]
    public async Task Rules_ExcludesAndDisabled_LeaveTagsMutable()
    {
        await _server.SeedImageAsync("imm/app", "dev-1");
        await _server.SeedImageAsync("imm/app", "1.0");
        await _server.SeedImageAsync("imm/scratch/tool", "1.0");
        // Every tag but dev-* is immutable, in every repository but scratch/**.
        await AddRuleAsync(Rule("dev-*", "scratch/**", tagDecoration: "excludes", repoDecoration: "repoExcludes"));
        await AddRuleAsync(Rule("nightly", disabled: true));
        using var admin = _server.Admin();

        await RegistryPush.PushImageAsync(admin, "imm/app", "dev-1", RegistryPush.Layer("dev-1b", 64));
        await RegistryPush.PushImageAsync(admin, "imm/scratch/tool", "1.0", RegistryPush.Layer("tool-b", 64));
        await RegistryPush.PushImageAsync(admin, "imm/app", "nightly", RegistryPush.Layer("n1", 64));
        using (var tagDelete = await admin.DeleteAsync("v2/imm/app/manifests/dev-1"))
        {
            Assert.Equal(HttpStatusCode.Accepted, tagDelete.StatusCode);
        }

        var (_, _, refused) = await Support.Images.TryPushImageAsync(admin, "imm/app", "1.0", RegistryPush.Layer("app-b", 64));
        using (refused)
        {
            await ErrorAssert.HasErrorAsync(refused, HttpStatusCode.Forbidden, "DENIED");
        }
    }

    [Fact]
    public async Task DeleteRule_TagBecomesMutableAgain()
    {
        await _server.SeedImageAsync("imm/app", "v1");
        long id = await AddRuleAsync(Rule("v*"));
        using var admin = _server.Admin();
        using (var delete = await admin.DeleteAsync($"{Rules}/{id}"))
        {
            await WharfEndpoint.ExpectAsync(delete, HttpStatusCode.OK);
        }

        await RegistryPush.PushImageAsync(admin, "imm/app", "v1", RegistryPush.Layer("v1-b", 64));
    }

    [Fact]
    public async Task PortalDeleteArtifact_CarryingImmutableTag_RefusedWithTheReason()
    {
        var image = await _server.SeedImageAsync("imm/app", "v1");
        await AddRuleAsync(Rule("v*"));
        using var browser = new Wharf.Registry.Tests.Portal.PortalClient(_server.BaseAddress);
        using (var signIn = await browser.SignInAsync("lead", WharfEndpoint.UserPassword))
        {
            Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        }

        var (_, page) = await browser.GetAsync("/portal/projects/imm/repositories/app");
        using var response = await browser.PostAsync("/portal/projects/imm/artifacts/delete", Wharf.Registry.Tests.Portal.PortalClient.TokenOf(page),
            ("repository", "app"), ("digest", image.Digest.ToString()));

        Assert.Equal(HttpStatusCode.PreconditionFailed, response.StatusCode);
        Assert.Contains("immutable", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var admin = _server.Admin();
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"v2/imm/app/manifests/{image.Digest}")).StatusCode);
    }

    [Fact]
    public async Task DeleteProject_RulesGoWithIt_ProjectCreatedAgainHasNone()
    {
        await _server.CreateProjectAsync("gone");
        using var admin = _server.Admin();
        using (var rule = await admin.PostAsJsonAsync("api/v2.0/projects/gone/immutabletagrules", Rule("**")))
        {
            await WharfEndpoint.ExpectAsync(rule, HttpStatusCode.Created);
        }

        using (var delete = await admin.DeleteAsync("api/v2.0/projects/gone"))
        {
            await WharfEndpoint.ExpectAsync(delete, HttpStatusCode.OK);
        }

        await _server.CreateProjectAsync("gone");
        Assert.Equal("[]", await admin.GetStringAsync("api/v2.0/projects/gone/immutabletagrules"));
        await _server.SeedImageAsync("gone/app", "v1");
        await RegistryPush.PushImageAsync(admin, "gone/app", "v1", RegistryPush.Layer("again", 64));
    }
}
