using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Wharf.Oci;
using Wharf.Registry.Projects;
using Wharf.Registry.Tests.Portal;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;
using static Wharf.Registry.Tests.Retention.RetentionHarness;

namespace Wharf.Registry.Tests.Webhooks;

/// <summary>
/// DELETE_ARTIFACT from every delete path that is not /v2: the management API's artifact and repository
/// deletes, the portal's delete button and a retention run, each seen by a receiver on a real socket
/// with Harbor's payload and the right operator. A tag delete is not an artifact delete and posts nothing.
/// </summary>
public sealed class WebhookDeletionTests : IAsyncLifetime
{
    private WharfServer _server = null!;
    private WebhookReceiver _receiver = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _receiver = await WebhookReceiver.StartAsync();
        _server = await WharfServer.StartAsync(new Dictionary<string, string?>
        {
            ["Webhooks:MaxConcurrentDeliveries"] = "1", // deliveries in the order of the events
        });
        _admin = _server.Admin();
        await _server.CreateProjectAsync("lab");
        await _server.CreateUserAsync("lead");
        await _server.AddMemberAsync("lab", "lead", ProjectRole.Maintainer);
        using var response = await _admin.PostAsJsonAsync(new Uri("api/v2.0/projects/lab/webhook/policies", UriKind.Relative), new
        {
            name = "deletes",
            enabled = true,
            event_types = new[] { "DELETE_ARTIFACT" },
            targets = new[] { new { type = "http", address = _receiver.Address.ToString(), auth_header = "Bearer d", skip_cert_verify = false, payload_format = "Default" } },
        });
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.Created);
        PolicyId = long.Parse(response.Headers.Location!.ToString().Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private long PolicyId { get; set; }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
        await _receiver.DisposeAsync();
    }

    private async Task<Digest> PushAsync(string repository, string tag) =>
        (await Images.PushImageAsync(_admin, repository, tag, RandomNumberGenerator.GetBytes(128))).Digest;

    private static JsonElement Resource(ReceivedWebhook webhook, out JsonElement root)
    {
        root = JsonDocument.Parse(webhook.Body).RootElement;
        Assert.Equal("DELETE_ARTIFACT", root.GetProperty("type").GetString());
        return Assert.Single(root.GetProperty("event_data").GetProperty("resources").EnumerateArray());
    }

    [Fact]
    public async Task ApiArtifactDelete_PostsDeleteArtifact_ByTheCaller_WithItsTag()
    {
        var digest = await PushAsync("lab/app/web", "v1");

        using var delete = await _admin.DeleteAsync(new Uri($"api/v2.0/projects/lab/repositories/app%252Fweb/artifacts/{digest}", UriKind.Relative));
        await WharfEndpoint.ExpectAsync(delete, HttpStatusCode.OK);

        var received = Assert.Single(await _receiver.WaitForAsync(1));
        Assert.Equal("Bearer d", received.Authorization);
        var resource = Resource(received, out var root);
        Assert.Equal("admin", root.GetProperty("operator").GetString());
        Assert.Equal(digest.ToString(), resource.GetProperty("digest").GetString());
        Assert.Equal("v1", resource.GetProperty("tag").GetString());
        Assert.Equal($"{_server.BaseAddress.Authority}/lab/app/web:v1", resource.GetProperty("resource_url").GetString());
        var repository = root.GetProperty("event_data").GetProperty("repository");
        Assert.Equal("app/web", repository.GetProperty("name").GetString());
        Assert.Equal("lab", repository.GetProperty("namespace").GetString());
        Assert.Equal("lab/app/web", repository.GetProperty("repo_full_name").GetString());
    }

    [Fact]
    public async Task ApiRepositoryDelete_PostsOneDeleteArtifactPerArtifact()
    {
        var first = await PushAsync("lab/app", "v1");
        var second = await PushAsync("lab/app", "v2");
        var untagged = await PushAsync("lab/app", "tmp");
        using (var untag = await _admin.DeleteAsync(new Uri("api/v2.0/projects/lab/repositories/app/artifacts/tmp/tags/tmp", UriKind.Relative)))
        {
            await WharfEndpoint.ExpectAsync(untag, HttpStatusCode.OK);
        }

        using var delete = await _admin.DeleteAsync(new Uri("api/v2.0/projects/lab/repositories/app", UriKind.Relative));
        await WharfEndpoint.ExpectAsync(delete, HttpStatusCode.OK);

        var received = await _receiver.WaitForAsync(3);
        var byDigest = received.Select(r => Resource(r, out _)).ToDictionary(r => r.GetProperty("digest").GetString()!, r => r);
        Assert.Equal(new[] { first, second, untagged }.Select(d => d.ToString()).Order(StringComparer.Ordinal), byDigest.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("v1", byDigest[first.ToString()].GetProperty("tag").GetString());
        Assert.False(byDigest[untagged.ToString()].TryGetProperty("tag", out _));
        Assert.Equal($"{_server.BaseAddress.Authority}/lab/app@{untagged}", byDigest[untagged.ToString()].GetProperty("resource_url").GetString());
        Assert.All(received, r => Assert.Contains("\"operator\":\"admin\"", r.Body, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ApiTagDelete_PostsNothing_TheArtifactDeleteAfterItIsTheOnlyDelivery()
    {
        var digest = await PushAsync("lab/app", "v1");
        using (var tag = await _admin.PostAsJsonAsync(new Uri($"api/v2.0/projects/lab/repositories/app/artifacts/{digest}/tags", UriKind.Relative), new { name = "v2" }))
        {
            await WharfEndpoint.ExpectAsync(tag, HttpStatusCode.Created);
        }

        using (var untag = await _admin.DeleteAsync(new Uri("api/v2.0/projects/lab/repositories/app/artifacts/v1/tags/v1", UriKind.Relative)))
        {
            await WharfEndpoint.ExpectAsync(untag, HttpStatusCode.OK);
        }

        using (var delete = await _admin.DeleteAsync(new Uri($"api/v2.0/projects/lab/repositories/app/artifacts/{digest}", UriKind.Relative)))
        {
            await WharfEndpoint.ExpectAsync(delete, HttpStatusCode.OK);
        }

        // Events are matched in order: had the tag delete made one, its execution would be there first.
        var received = Assert.Single(await _receiver.WaitForAsync(1));
        Assert.Equal("v2", Resource(received, out _).GetProperty("tag").GetString());
        Assert.Equal(1, await ExecutionCountAsync());
    }

    [Fact]
    public async Task PortalDeleteButton_PostsDeleteArtifact_ByTheSignedInUser()
    {
        var digest = await PushAsync("lab/app", "v1");
        using var lead = new PortalClient(_server.BaseAddress);
        using (var signIn = await lead.SignInAsync("lead", WharfEndpoint.UserPassword))
        {
            Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        }

        var (_, page) = await lead.GetAsync("/portal/projects/lab/repositories/app");
        using var response = await lead.PostAsync("/portal/projects/lab/artifacts/delete", PortalClient.TokenOf(page), ("repository", "app"), ("digest", digest.ToString()));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);

        var resource = Resource(Assert.Single(await _receiver.WaitForAsync(1)), out var root);
        Assert.Equal("lead", root.GetProperty("operator").GetString());
        Assert.Equal(digest.ToString(), resource.GetProperty("digest").GetString());
    }

    [Fact]
    public async Task RetentionRun_PostsDeleteArtifact_ForEachRemoved_ByTheRetentionJob_DryRunPostsNothing()
    {
        long projectId = await ProjectIdAsync(_admin, "lab");
        await PushAsync("lab/app", "keep-1");
        var drop1 = await PushAsync("lab/app", "drop-1");
        var drop2 = await PushAsync("lab/app", "drop-2");
        long policy = await CreatePolicyAsync(_admin, Policy(projectId, null, Rule("always", null, tagPattern: "keep-*", untagged: false)));

        var dry = await RunAsync(_admin, policy, dryRun: true);
        Assert.Equal(2, dry.GetProperty("removed").GetInt64());
        var sentinel = await PushAsync("lab/other", "s");

        // Events are matched and sent in order: had the dry run made any, they would arrive before this one.
        using (var delete = await _admin.DeleteAsync(new Uri($"api/v2.0/projects/lab/repositories/other/artifacts/{sentinel}", UriKind.Relative)))
        {
            await WharfEndpoint.ExpectAsync(delete, HttpStatusCode.OK);
        }

        Assert.Equal(sentinel.ToString(), Resource(Assert.Single(await _receiver.WaitForAsync(1)), out _).GetProperty("digest").GetString());

        var real = await RunAsync(_admin, policy, dryRun: false);
        Assert.Equal("Success", real.GetProperty("status").GetString());

        var received = (await _receiver.WaitForAsync(3)).Skip(1).ToList();
        Assert.Equal(2, received.Count);
        var resources = new List<JsonElement>();
        foreach (var r in received)
        {
            resources.Add(Resource(r, out var root));
            Assert.Equal("retention", root.GetProperty("operator").GetString());
        }

        Assert.Equal(new[] { drop1.ToString(), drop2.ToString() }.Order(StringComparer.Ordinal), resources.Select(r => r.GetProperty("digest").GetString()!).Order(StringComparer.Ordinal));
        Assert.Equal(new[] { "drop-1", "drop-2" }, resources.Select(r => r.GetProperty("tag").GetString()!).Order(StringComparer.Ordinal));
        Assert.All(resources, r => Assert.StartsWith($"{_server.BaseAddress.Authority}/lab/app:drop-", r.GetProperty("resource_url").GetString(), StringComparison.Ordinal));
        Assert.Equal(3, await ExecutionCountAsync());
    }

    /// <summary>The policy's executions once every delivery so far has finished.</summary>
    private async Task<int> ExecutionCountAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            using var executions = JsonDocument.Parse(await _admin.GetStringAsync(new Uri($"api/v2.0/projects/lab/webhook/policies/{PolicyId}/executions", UriKind.Relative)));
            var list = executions.RootElement.EnumerateArray().ToList();
            if (list.All(e => e.GetProperty("status").GetString() == "Success"))
            {
                return list.Count;
            }

            Assert.True(DateTime.UtcNow < deadline, "webhook executions still running");
            await Task.Delay(50);
        }
    }
}
