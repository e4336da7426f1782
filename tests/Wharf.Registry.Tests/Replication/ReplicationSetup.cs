using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Wharf.Oci;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Replication;

/// <summary>Policies and executions through Harbor's replication API, as an admin's script drives it.</summary>
internal static class ReplicationSetup
{
    public static async Task<long> CreatePolicyAsync(WharfServer server, object policy)
    {
        using var admin = server.Admin();
        using var response = await admin.PostAsJsonAsync("api/v2.0/replication/policies", policy);
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.Created);
        return IdOf(response);
    }

    public static async Task<long> StartAsync(WharfServer server, long policyId)
    {
        using var admin = server.Admin();
        using var response = await admin.PostAsJsonAsync("api/v2.0/replication/executions", new { policy_id = policyId });
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.Created);
        return IdOf(response);
    }

    public static async Task<JsonElement> ExecutionAsync(WharfServer server, long id)
    {
        using var admin = server.Admin();
        using var response = await admin.GetAsync($"api/v2.0/replication/executions/{id}");
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.OK);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    public static async Task<JsonElement[]> ExecutionsAsync(WharfServer server, long policyId)
    {
        using var admin = server.Admin();
        using var response = await admin.GetAsync($"api/v2.0/replication/executions?policy_id={policyId}&page_size=100");
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.OK);
        return [.. JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.EnumerateArray().Select(e => e.Clone())];
    }

    public static async Task<JsonElement[]> TasksAsync(WharfServer server, long executionId)
    {
        using var admin = server.Admin();
        using var response = await admin.GetAsync($"api/v2.0/replication/executions/{executionId}/tasks?page_size=100");
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.OK);
        return [.. JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.EnumerateArray().Select(e => e.Clone())];
    }

    /// <summary>Asserts the execution succeeded; when it did not, the message carries every task's log.</summary>
    public static async Task AssertSucceededAsync(WharfServer server, JsonElement execution)
    {
        string? status = execution.GetProperty("status").GetString();
        if (status == "Succeed")
        {
            return;
        }

        long id = execution.GetProperty("id").GetInt64();
        using var admin = server.Admin();
        var logs = new System.Text.StringBuilder();
        foreach (var task in await TasksAsync(server, id))
        {
            using var log = await admin.GetAsync($"api/v2.0/replication/executions/{id}/tasks/{task.GetProperty("id")}/log");
            logs.Append(task).Append('\n').Append(await log.Content.ReadAsStringAsync()).Append('\n');
        }

        Assert.Fail($"execution {id} is {status}, not Succeed: {execution}\n{logs}");
    }

    /// <summary>Polls until the execution is no longer running (at most a minute); returns it.</summary>
    public static async Task<JsonElement> WaitAsync(WharfServer server, long executionId)
    {
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (true)
        {
            var execution = await ExecutionAsync(server, executionId);
            if (execution.GetProperty("status").GetString() != "InProgress")
            {
                return execution;
            }

            Assert.True(DateTime.UtcNow < deadline, $"execution {executionId} still running after a minute: {execution}");
            await Task.Delay(100);
        }
    }

    /// <summary>Polls until the policy has <paramref name="count"/> finished executions (at most a minute).</summary>
    public static async Task<JsonElement[]> WaitForExecutionsAsync(WharfServer server, long policyId, int count, Action? tick = null)
    {
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (true)
        {
            tick?.Invoke();
            var all = await ExecutionsAsync(server, policyId);
            if (all.Length >= count && all.All(e => e.GetProperty("status").GetString() != "InProgress"))
            {
                return all;
            }

            Assert.True(DateTime.UtcNow < deadline, $"policy {policyId} has {all.Length} executions, not {count} finished, after a minute");
            await Task.Delay(200);
        }
    }

    public static async Task<(Digest Digest, byte[] Body)?> FindManifestAsync(HttpClient client, string repository, string reference)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v2/{repository}/manifests/{reference}");
        request.Headers.TryAddWithoutValidation("Accept", $"{MediaTypes.OciManifest}, {MediaTypes.OciIndex}");
        using var response = await client.SendAsync(request);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {repository}:{reference}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        byte[] body = await response.Content.ReadAsByteArrayAsync();
        return (Digest.Compute(body), body);
    }

    public static async Task<string[]> TagsAsync(HttpClient client, string repository)
    {
        using var response = await client.GetAsync($"v2/{repository}/tags/list");
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return [];
        }

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"tags of {repository}: {response.StatusCode}");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.TryGetProperty("tags", out var tags) && tags.ValueKind == JsonValueKind.Array
            ? [.. tags.EnumerateArray().Select(t => t.GetString()!).Order(StringComparer.Ordinal)]
            : [];
    }

    /// <summary>An artifact manifest whose subject is <paramref name="subject"/> (a signature, an SBOM), pushed by digest.</summary>
    public static async Task<Digest> PushReferrerAsync(HttpClient client, string repository, Digest subject, long subjectSize, string subjectMediaType)
    {
        byte[] empty = Encoding.UTF8.GetBytes("{}");
        var emptyDigest = await Support.Images.PushBlobAsync(client, repository, empty);
        var layer = await Support.Images.PushBlobAsync(client, repository, Encoding.UTF8.GetBytes("signature of " + subject));
        string json = $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"artifactType\":\"application/vnd.example.signature\","
            + $"\"config\":{{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"{emptyDigest}\",\"size\":2}},"
            + $"\"layers\":[{{\"mediaType\":\"application/octet-stream\",\"digest\":\"{layer}\",\"size\":{("signature of " + subject).Length}}}],"
            + $"\"subject\":{{\"mediaType\":\"{subjectMediaType}\",\"digest\":\"{subject}\",\"size\":{subjectSize}}}}}";
        byte[] body = Encoding.UTF8.GetBytes(json);
        var digest = Digest.Compute(body);
        using var response = await RegistryPush.PutManifestAsync(client, repository, digest.ToString(), body, MediaTypes.OciManifest);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"push referrer: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return digest;
    }

    public static long IdOf(HttpResponseMessage response) =>
        long.Parse(response.Headers.Location!.ToString().Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture);
}
