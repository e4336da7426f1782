using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Registry.Projects;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Webhooks;

/// <summary>
/// Webhooks end to end: a policy made through Harbor's API, a real push through /v2 (and one by
/// skopeo), and a receiver on a real socket that sees Harbor's payload, the auth header, retries
/// after a 500, and whose slowness never reaches the push.
/// </summary>
public sealed class WebhookDeliveryTests : IAsyncLifetime
{
    private WharfServer _server = null!;
    private WebhookReceiver _receiver = null!;

    public async Task InitializeAsync()
    {
        _receiver = await WebhookReceiver.StartAsync();
        _server = await WharfServer.StartAsync(new Dictionary<string, string?>
        {
            ["Webhooks:RetryDelay"] = "00:00:00.050", // retries come quickly; the backoff still doubles
            ["Webhooks:MaxAttempts"] = "3",
        });
        await _server.CreateProjectAsync("lab");
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _receiver.DisposeAsync();
    }

    [Fact]
    public async Task Push_DeliversHarborPayload_WithAuthHeader()
    {
        long policy = await CreatePolicyAsync("ci", [WebhookEventTypesForTest.Push], "Bearer s3cret");

        var pushed = await _server.SeedImageAsync("lab/app/web", "v1");

        var received = Assert.Single(await _receiver.WaitForAsync(1));
        Assert.Equal("Bearer s3cret", received.Authorization);
        Assert.Equal("application/json", received.ContentType);
        using var payload = JsonDocument.Parse(received.Body);
        var root = payload.RootElement;
        Assert.Equal("PUSH_ARTIFACT", root.GetProperty("type").GetString());
        Assert.Equal("admin", root.GetProperty("operator").GetString());
        Assert.True(root.GetProperty("occur_at").GetInt64() > 0);
        var resource = Assert.Single(root.GetProperty("event_data").GetProperty("resources").EnumerateArray());
        Assert.Equal(pushed.Digest.ToString(), resource.GetProperty("digest").GetString());
        Assert.Equal("v1", resource.GetProperty("tag").GetString());
        Assert.Equal($"{_server.BaseAddress.Authority}/lab/app/web:v1", resource.GetProperty("resource_url").GetString());
        var repository = root.GetProperty("event_data").GetProperty("repository");
        Assert.Equal("app/web", repository.GetProperty("name").GetString());
        Assert.Equal("lab", repository.GetProperty("namespace").GetString());
        Assert.Equal("lab/app/web", repository.GetProperty("repo_full_name").GetString());
        Assert.Equal("private", repository.GetProperty("repo_type").GetString());

        var execution = await WaitForExecutionAsync(policy, "Success");
        Assert.Equal("PUSH_ARTIFACT", execution.GetProperty("extra_attrs").GetProperty("event_type").GetString());
    }

    [Fact]
    public async Task FailingReceiver_IsRetried_EveryAttemptInTheLog()
    {
        _receiver.Answers.Enqueue(500);
        long policy = await CreatePolicyAsync("retry", [WebhookEventTypesForTest.Push], null);

        await _server.SeedImageAsync("lab/app", "v1");

        var received = await _receiver.WaitForAsync(2);
        Assert.Equal(received[0].Body, received[1].Body); // the same event, sent again
        var execution = await WaitForExecutionAsync(policy, "Success");
        using var admin = _server.Admin();
        string executions = $"api/v2.0/projects/lab/webhook/policies/{policy}/executions/{execution.GetProperty("id").GetInt64()}";
        using var tasks = JsonDocument.Parse(await admin.GetStringAsync(new Uri(executions + "/tasks", UriKind.Relative)));
        var task = Assert.Single(tasks.RootElement.EnumerateArray());
        Assert.Equal("Success", task.GetProperty("status").GetString());
        Assert.Equal(2, task.GetProperty("run_count").GetInt32());
        Assert.Equal(_receiver.Address.ToString(), task.GetProperty("extra_attrs").GetProperty("address").GetString());

        string log = await admin.GetStringAsync(new Uri($"{executions}/tasks/{task.GetProperty("id").GetInt64()}/log", UriKind.Relative));
        string[] lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Contains("attempt 1: POST " + _receiver.Address, lines[0], StringComparison.Ordinal);
        Assert.Contains("-> 500 in ", lines[0], StringComparison.Ordinal);
        Assert.Contains("retry in 50 ms", lines[0], StringComparison.Ordinal);
        Assert.Contains("attempt 2:", lines[1], StringComparison.Ordinal);
        Assert.Contains("-> 200 in ", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReceiverThatNeverSucceeds_GivesUpAfterMaxAttempts()
    {
        for (int i = 0; i < 3; i++)
        {
            _receiver.Answers.Enqueue(503);
        }

        long policy = await CreatePolicyAsync("down", [WebhookEventTypesForTest.Push], null);
        await _server.SeedImageAsync("lab/app", "v1");

        await _receiver.WaitForAsync(3);
        var execution = await WaitForExecutionAsync(policy, "Error");
        Assert.Equal(1, execution.GetProperty("metrics").GetProperty("error_task_count").GetInt32());
    }

    [Fact]
    public async Task SlowReceiver_DoesNotHoldThePush()
    {
        await CreatePolicyAsync("slow", [WebhookEventTypesForTest.Push, WebhookEventTypesForTest.Pull], null);
        _receiver.Close();

        // The receiver answers nothing until released, yet the push (and a pull after it) complete.
        var pushed = await _server.SeedImageAsync("lab/app", "v1");
        using (var admin = _server.Admin())
        {
            using var pull = await admin.GetAsync(new Uri("v2/lab/app/manifests/v1", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
        }

        await _receiver.WaitForAsync(1);
        _receiver.Release();
        var all = await _receiver.WaitForAsync(2);
        Assert.Contains(all, r => r.Body.Contains("\"PULL_ARTIFACT\"", StringComparison.Ordinal) && r.Body.Contains(pushed.Digest.ToString(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task SkopeoPush_IsDelivered_InCloudEventsFormat()
    {
        Assert.True(Skopeo.IsInstalled, "skopeo is not installed (test.sh installs it when run as root)");
        await CreatePolicyAsync("ce", [WebhookEventTypesForTest.Push], null, "CloudEvents");
        using var skopeo = new Skopeo();
        string layout = Path.Combine(skopeo.Scratch, "layout");
        await Images.WriteOciLayoutAsync(layout, "v1", "webhook\n");
        string auth = await skopeo.LoginAsync(_server.BaseAddress.Authority, "admin", WharfServer.AdminPassword);
        var copied = await skopeo.RunAsync(auth, "copy", "--dest-tls-verify=false", $"oci:{layout}:v1", $"docker://{_server.BaseAddress.Authority}/lab/sk:v1");
        Assert.True(copied.ExitCode == 0, copied.ToString());

        var received = Assert.Single(await _receiver.WaitForAsync(1));
        Assert.Equal("application/cloudevents+json", received.ContentType);
        using var cloudEvent = JsonDocument.Parse(received.Body);
        Assert.Equal("1.0", cloudEvent.RootElement.GetProperty("specversion").GetString());
        Assert.Equal("harbor.artifact.pushed", cloudEvent.RootElement.GetProperty("type").GetString());
        var resource = cloudEvent.RootElement.GetProperty("data").GetProperty("resources")[0];
        Assert.Equal("v1", resource.GetProperty("tag").GetString());
        Assert.Equal("lab/sk", cloudEvent.RootElement.GetProperty("data").GetProperty("repository").GetProperty("repo_full_name").GetString());
    }

    [Fact]
    public async Task QuotaExceeded_IsDelivered()
    {
        await CreatePolicyAsync("quota", [WebhookEventTypesForTest.QuotaExceed], null);
        using (var admin = _server.Admin())
        {
            await _server.SeedImageAsync("lab/app", "v1", layerSize: 64);
            long id = await ProjectIdAsync(); // Harbor's quota of a project; here its id is the project's
            using var put = await admin.PutAsJsonAsync(new Uri($"api/v2.0/quotas/{id}", UriKind.Relative), new { hard = new { storage = 10 } });
            await WharfEndpoint.ExpectAsync(put, HttpStatusCode.OK);
            await Assert.ThrowsAnyAsync<Exception>(() => RegistryPush.PushImageAsync(admin, "lab/app", "v2", RegistryPush.Layer("big", 4096)));
        }

        var received = await _receiver.WaitForAsync(1);
        using var payload = JsonDocument.Parse(received[0].Body);
        Assert.Equal("QUOTA_EXCEED", payload.RootElement.GetProperty("type").GetString());
        Assert.Contains("quota exceeded", payload.RootElement.GetProperty("event_data").GetProperty("custom_attributes").GetProperty("Details").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PendingDelivery_SurvivesRestart()
    {
        // Nothing answers at first: a closed port, and a long backoff so the retry is still waiting at the restart.
        int closed = LoopbackPort.Free();
        await _server.DisposeAsync();
        _server = await WharfServer.StartAsync(new Dictionary<string, string?> { ["Webhooks:RetryDelay"] = "01:00:00" });
        await _server.CreateProjectAsync("lab");
        long policy = await CreatePolicyAsync("later", [WebhookEventTypesForTest.Push], null, address: $"http://127.0.0.1:{closed}/hook");
        await _server.SeedImageAsync("lab/app", "v1");
        await WaitForTaskAsync(policy, t => t.GetProperty("run_count").GetInt32() == 1 && t.GetProperty("status").GetString() == "Pending");

        // The receiver moves to where the policy points: the next wharfd sends the pending delivery at start.
        await _server.StopKeepingDataAsync();
        await using var receiverAtPort = await PortReceiver.StartAsync(closed);
        await _server.RestartAsync();
        var received = await receiverAtPort.Receiver.WaitForAsync(1);
        Assert.Contains("\"PUSH_ARTIFACT\"", received[0].Body, StringComparison.Ordinal);
        await WaitForTaskAsync(policy, t => t.GetProperty("status").GetString() == "Success" && t.GetProperty("run_count").GetInt32() == 2);
    }

    private async Task<long> ProjectIdAsync()
    {
        using var admin = _server.Admin();
        using var project = JsonDocument.Parse(await admin.GetStringAsync(new Uri("api/v2.0/projects/lab", UriKind.Relative)));
        return project.RootElement.GetProperty("project_id").GetInt64();
    }

    private async Task<long> CreatePolicyAsync(string name, string[] events, string? authHeader, string format = "Default", string? address = null)
    {
        using var admin = _server.Admin();
        using var response = await admin.PostAsJsonAsync(new Uri("api/v2.0/projects/lab/webhook/policies", UriKind.Relative), new
        {
            name,
            enabled = true,
            event_types = events,
            targets = new[] { new { type = "http", address = address ?? _receiver.Address.ToString(), auth_header = authHeader, skip_cert_verify = false, payload_format = format } },
        });
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.Created);
        return long.Parse(response.Headers.Location!.ToString().Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<JsonElement> WaitForExecutionAsync(long policy, string status)
    {
        using var admin = _server.Admin();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            last = await admin.GetStringAsync(new Uri($"api/v2.0/projects/lab/webhook/policies/{policy}/executions", UriKind.Relative));
            using var executions = JsonDocument.Parse(last);
            foreach (var e in executions.RootElement.EnumerateArray())
            {
                if (e.GetProperty("status").GetString() == status)
                {
                    return e.Clone();
                }
            }

            await Task.Delay(50);
        }

        Assert.Fail($"no execution reached {status}: {last}");
        return default;
    }

    private async Task WaitForTaskAsync(long policy, Func<JsonElement, bool> done)
    {
        using var admin = _server.Admin();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            using var executions = JsonDocument.Parse(await admin.GetStringAsync(new Uri($"api/v2.0/projects/lab/webhook/policies/{policy}/executions", UriKind.Relative)));
            foreach (var e in executions.RootElement.EnumerateArray())
            {
                last = await admin.GetStringAsync(new Uri($"api/v2.0/projects/lab/webhook/policies/{policy}/executions/{e.GetProperty("id").GetInt64()}/tasks", UriKind.Relative));
                using var tasks = JsonDocument.Parse(last);
                if (tasks.RootElement.EnumerateArray().Any(done))
                {
                    return;
                }
            }

            await Task.Delay(50);
        }

        Assert.Fail($"no task reached the expected state: {last}");
    }

    /// <summary>A receiver on a chosen port (the one a policy already names).</summary>
    private sealed class PortReceiver : IAsyncDisposable
    {
        private PortReceiver(WebhookReceiver receiver) => Receiver = receiver;

        public WebhookReceiver Receiver { get; }

        public static async Task<PortReceiver> StartAsync(int port) => new(await WebhookReceiver.StartAsync(port));

        public ValueTask DisposeAsync() => Receiver.DisposeAsync();
    }
}

internal static class WebhookEventTypesForTest
{
    public const string Push = "PUSH_ARTIFACT";
    public const string Pull = "PULL_ARTIFACT";
    public const string QuotaExceed = "QUOTA_EXCEED";
}
