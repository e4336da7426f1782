using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Wharf.Oci;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Gc;

/// <summary>Harbor's GC API: an admin starts a run on demand (or a dry run) and reads what it did.</summary>
public sealed class GcApiTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    // An open registry (pushes need no project); the schedule is off so only the API's runs happen.
    public async Task InitializeAsync() =>
        _server = await WharfServer.StartAsync(new Dictionary<string, string?> { ["Registry:OpenRegistry"] = "true", ["Registry:GcInterval"] = "00:00:00" });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Schedule_ManualDryRunThenRun_ReportsAndRemovesAbandonedBlobs()
    {
        using var admin = _server.Admin();
        byte[] loose = RandomNumberGenerator.GetBytes(4_096);
        var digest = await RegistryPush.PushBlobAsync(admin, "lab/a", loose);
        _server.Clock.Advance(TimeSpan.FromHours(25));

        long dry = await StartAsync(admin, dryRun: true);
        var dryRun = await WaitAsync(admin, dry);
        Assert.Equal("Success", dryRun.GetProperty("job_status").GetString());
        Assert.Equal("GARBAGE_COLLECTION", dryRun.GetProperty("job_name").GetString());
        Assert.Equal("MANUAL", dryRun.GetProperty("job_kind").GetString());
        Assert.Contains("\"dry_run\":true", dryRun.GetProperty("job_parameters").GetString(), StringComparison.Ordinal);
        string dryLog = await admin.GetStringAsync($"api/v2.0/system/gc/{dry}/log");
        Assert.Contains($"would unlink {digest} from lab/a", dryLog, StringComparison.Ordinal);
        Assert.Contains($"would remove {digest} (4096 bytes)", dryLog, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await admin.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/lab/a/blobs/{digest}"))).StatusCode);

        long real = await StartAsync(admin, dryRun: false);
        var run = await WaitAsync(admin, real);
        Assert.Equal("Success", run.GetProperty("job_status").GetString());
        Assert.Equal(4_096, run.GetProperty("bytes_freed").GetInt64());
        string log = await admin.GetStringAsync($"api/v2.0/system/gc/{real}/log");
        Assert.Contains($"remove {digest} (4096 bytes): no repository, manifest or tag refers to it", log, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/lab/a/blobs/{digest}"))).StatusCode);

        using var history = await admin.GetAsync("api/v2.0/system/gc");
        Assert.Equal(HttpStatusCode.OK, history.StatusCode);
        Assert.Equal("2", history.Headers.GetValues("X-Total-Count").Single());
        var runs = await history.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal([real, dry], runs.EnumerateArray().Select(r => r.GetProperty("id").GetInt64()));
    }

    [Fact]
    public async Task Schedule_BadInput_IsRefusedAndStartsNothing()
    {
        using var admin = _server.Admin();
        foreach (string body in new[] { "{}", "{\"schedule\":{\"type\":\"Weekly\"}}", "{\"schedule\":{\"type\":\"Manual\"},\"parameters\":{\"dry_run\":\"yes\"}}" })
        {
            using var post = await admin.PostAsync("api/v2.0/system/gc/schedule", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, post.StatusCode);
        }

        using var history = await admin.GetAsync("api/v2.0/system/gc");
        Assert.Equal("0", history.Headers.GetValues("X-Total-Count").Single());
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("api/v2.0/system/gc/99")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("api/v2.0/system/gc/99/log")).StatusCode);
    }

    [Fact]
    public async Task Gc_NonAdmin_IsForbidden_Anonymous_Unauthorized()
    {
        await _server.CreateUserAsync("dev");
        using var dev = _server.Client("dev", WharfEndpoint.UserPassword);
        using var anonymous = _server.Client();
        foreach (var client in new[] { dev, anonymous })
        {
            using var post = await client.PostAsJsonAsync("api/v2.0/system/gc/schedule", new { schedule = new { type = "Manual" } });
            Assert.True(post.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized, $"{post.StatusCode}");
            using var list = await client.GetAsync("api/v2.0/system/gc");
            Assert.True(list.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized, $"{list.StatusCode}");
        }

        using var admin = _server.Admin();
        using var history = await admin.GetAsync("api/v2.0/system/gc");
        Assert.Equal("0", history.Headers.GetValues("X-Total-Count").Single());
    }

    private static async Task<long> StartAsync(HttpClient admin, bool dryRun)
    {
        using var post = await admin.PostAsJsonAsync("api/v2.0/system/gc/schedule", new { schedule = new { type = "Manual" }, parameters = new { dry_run = dryRun } });
        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        string location = post.Headers.Location!.OriginalString;
        Assert.StartsWith("/api/v2.0/system/gc/", location, StringComparison.Ordinal);
        return long.Parse(location["/api/v2.0/system/gc/".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The run goes on in the background: poll its history entry (bounded) until it is no longer running.</summary>
    private static async Task<JsonElement> WaitAsync(HttpClient admin, long id)
    {
        for (int i = 0; i < 600; i++)
        {
            var run = await admin.GetFromJsonAsync<JsonElement>($"api/v2.0/system/gc/{id}");
            if (run.GetProperty("job_status").GetString() != "Running")
            {
                return run;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"gc {id} still running after 600 polls");
    }
}
