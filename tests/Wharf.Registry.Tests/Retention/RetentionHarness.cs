using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Wharf.Oci;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Retention;

/// <summary>Policies in Harbor's JSON, runs started and awaited through the API, and what a repository holds after.</summary>
internal static class RetentionHarness
{
    public static object Rule(string template, int? n, string tagPattern = "**", bool untagged = true, string repoPattern = "**",
        string tagDecoration = "matches", string repoDecoration = "repoMatches", bool disabled = false) => new
    {
        disabled,
        action = "retain",
        template,
        @params = n is { } value ? new Dictionary<string, object> { [template] = value } : new Dictionary<string, object>(),
        tag_selectors = new[] { new { kind = "doublestar", decoration = tagDecoration, pattern = tagPattern, extras = untagged ? "{\"untagged\":true}" : "{\"untagged\":false}" } },
        scope_selectors = new { repository = new[] { new { kind = "doublestar", decoration = repoDecoration, pattern = repoPattern } } },
    };

    public static object Policy(long projectId, string? cron, params object[] rules) => new
    {
        algorithm = "or",
        rules,
        trigger = new { kind = "Schedule", settings = new { cron = cron ?? "" } },
        scope = new { level = "project", @ref = projectId },
    };

    public static async Task<long> ProjectIdAsync(HttpClient admin, string project)
    {
        using var doc = JsonDocument.Parse(await admin.GetStringAsync($"api/v2.0/projects/{project}"));
        return doc.RootElement.GetProperty("project_id").GetInt64();
    }

    public static async Task<long> CreatePolicyAsync(HttpClient client, object policy)
    {
        using var response = await client.PostAsJsonAsync("api/v2.0/retentions", policy);
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.Created);
        string location = response.Headers.Location!.OriginalString;
        Assert.Matches(@"^/api/v2\.0/retentions/\d+$", location);
        return long.Parse(location.Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Starts a run and waits for it to end; the execution's JSON.</summary>
    public static async Task<JsonElement> RunAsync(HttpClient client, long policyId, bool dryRun)
    {
        using var response = await client.PostAsJsonAsync($"api/v2.0/retentions/{policyId}/executions", new { dry_run = dryRun });
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.Created);
        string location = response.Headers.Location!.OriginalString;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (true)
        {
            using var doc = JsonDocument.Parse(await client.GetStringAsync(location.TrimStart('/')));
            if (doc.RootElement.GetProperty("status").GetString() != "Running")
            {
                return doc.RootElement.Clone();
            }

            Assert.True(DateTime.UtcNow < deadline, $"execution {location} still running");
            await Task.Delay(50);
        }
    }

    /// <summary>Every task's log of the execution, joined.</summary>
    public static async Task<string> LogsAsync(HttpClient client, long policyId, long executionId)
    {
        using var tasks = JsonDocument.Parse(await client.GetStringAsync($"api/v2.0/retentions/{policyId}/executions/{executionId}/tasks?page_size=100"));
        var log = new StringBuilder();
        foreach (var task in tasks.RootElement.EnumerateArray())
        {
            log.Append(await client.GetStringAsync($"api/v2.0/retentions/{policyId}/executions/{executionId}/tasks/{task.GetProperty("id").GetInt64()}"));
        }

        return log.ToString();
    }

    public static async Task<string[]> TagsAsync(HttpClient client, string repository)
    {
        using var response = await client.GetAsync($"v2/{repository}/tags/list?n=1000");
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return [];
        }

        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.OK);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("tags") is { ValueKind: JsonValueKind.Array } tags ? [.. tags.EnumerateArray().Select(t => t.GetString()!).Order(StringComparer.Ordinal)] : [];
    }

    public static async Task<HttpStatusCode> ManifestStatusAsync(HttpClient client, string repository, Digest digest)
    {
        using var response = await client.GetAsync($"v2/{repository}/manifests/{digest}");
        return response.StatusCode;
    }

    /// <summary>A signature-like referrer of <paramref name="subject"/>, pushed by digest (untagged).</summary>
    public static async Task<Digest> PushReferrerAsync(HttpClient client, string repository, Digest subject, int subjectSize)
    {
        var empty = await Images.PushBlobAsync(client, repository, Encoding.UTF8.GetBytes("{}"));
        byte[] layer = RandomNumberGenerator.GetBytes(48);
        var layerDigest = await Images.PushBlobAsync(client, repository, layer);
        byte[] body = Encoding.UTF8.GetBytes(
            $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"artifactType\":\"application/vnd.example.sig\",\"config\":{{\"mediaType\":\"{MediaTypes.OciEmpty}\",\"digest\":\"{empty}\",\"size\":2}},"
            + $"\"layers\":[{{\"mediaType\":\"application/octet-stream\",\"digest\":\"{layerDigest}\",\"size\":{layer.Length}}}],"
            + $"\"subject\":{{\"mediaType\":\"{MediaTypes.OciManifest}\",\"digest\":\"{subject}\",\"size\":{subjectSize}}}}}");
        var digest = Digest.Compute(body);
        using var put = await RegistryPush.PutManifestAsync(client, repository, digest.ToString(), body, MediaTypes.OciManifest);
        await WharfEndpoint.ExpectAsync(put, HttpStatusCode.Created);
        return digest;
    }

    /// <summary>An image index over one new image (untagged), tagged <paramref name="tag"/>; the index and its child.</summary>
    public static async Task<(Digest Index, Digest Child)> PushIndexAsync(HttpClient client, string repository, string tag)
    {
        var (child, childBody) = await Images.PushImageAsync(client, repository, "child-tmp", RandomNumberGenerator.GetBytes(64));
        byte[] body = Encoding.UTF8.GetBytes(
            $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciIndex}\",\"manifests\":[{{\"mediaType\":\"{MediaTypes.OciManifest}\",\"digest\":\"{child}\",\"size\":{childBody.Length},\"platform\":{{\"architecture\":\"amd64\",\"os\":\"linux\"}}}}]}}");
        using (var put = await RegistryPush.PutManifestAsync(client, repository, tag, body, MediaTypes.OciIndex))
        {
            await WharfEndpoint.ExpectAsync(put, HttpStatusCode.Created);
        }

        // The child stays only as the index's: its temporary tag goes.
        using (var delete = await client.DeleteAsync($"v2/{repository}/manifests/child-tmp"))
        {
            await WharfEndpoint.ExpectAsync(delete, HttpStatusCode.Accepted);
        }

        return (Digest.Compute(body), child);
    }
}
