using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Audit;

/// <summary>Harbor's /system/purgeaudit: a manual purge removes only entries past the window and records how many; the schedule is validated.</summary>
public sealed class AuditPurgeApiTests : IAsyncLifetime
{
    private WharfServer _server = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        // The purge loop polls the schedule on a real timer; a short poll lets the moved clock be seen at once.
        _server = await WharfServer.StartAsync(new() { ["Registry:AuditPurgePollInterval"] = "00:00:00.100" });
        _admin = _server.Admin();
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
    }

    private static object Schedule(string type, int? hours, string? cron = null, string? operations = null, bool dryRun = false) => new
    {
        schedule = new { type, cron },
        parameters = hours is null
            ? new Dictionary<string, object?> { ["dry_run"] = dryRun }
            : new Dictionary<string, object?> { ["audit_retention_hour"] = hours, ["include_operations"] = operations, ["dry_run"] = dryRun },
    };

    private async Task<JsonElement> PurgeNowAsync(int hours, string? operations = null, bool dryRun = false)
    {
        using var response = await _admin.PostAsJsonAsync("api/v2.0/system/purgeaudit/schedule", Schedule("Manual", hours, operations: operations, dryRun: dryRun));
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.Created);
        string location = response.Headers.Location!.OriginalString;
        Assert.Matches(@"^/api/v2\.0/system/purgeaudit/\d+$", location);
        using var doc = JsonDocument.Parse(await _admin.GetStringAsync(location.TrimStart('/')));
        return doc.RootElement.Clone();
    }

    private async Task<string[]> ProjectEntriesAsync()
    {
        using var doc = JsonDocument.Parse(await _admin.GetStringAsync("api/v2.0/audit-logs?q=resource_type%3Dproject&page_size=100"));
        return [.. doc.RootElement.EnumerateArray().Select(e => e.GetProperty("resource").GetString()!).Order(StringComparer.Ordinal)];
    }

    [Fact]
    public async Task ManualPurge_RemovesOnlyEntriesOlderThanTheWindow_AndRecordsHowMany()
    {
        await _server.CreateProjectAsync("old1");
        await _server.CreateProjectAsync("old2");
        _server.Clock.Advance(TimeSpan.FromHours(50));
        await _server.CreateProjectAsync("recent");

        var dry = await PurgeNowAsync(24, dryRun: true);
        Assert.True(dry.GetProperty("purged_count").GetInt64() >= 2, dry.ToString());
        Assert.Equal(["old1", "old2", "recent"], await ProjectEntriesAsync()); // a dry run deletes nothing

        var run = await PurgeNowAsync(24);
        Assert.Equal(dry.GetProperty("purged_count").GetInt64(), run.GetProperty("purged_count").GetInt64());
        Assert.Equal("Success", run.GetProperty("job_status").GetString());
        Assert.Equal("MANUAL", run.GetProperty("job_kind").GetString());
        Assert.Equal(["recent"], await ProjectEntriesAsync());
        string log = await _admin.GetStringAsync($"api/v2.0/system/purgeaudit/{run.GetProperty("id").GetInt64()}/log");
        Assert.Contains($"deleted {run.GetProperty("purged_count").GetInt64()} audit log entries older than 24 hours", log, StringComparison.Ordinal);

        using var history = await _admin.GetAsync("api/v2.0/system/purgeaudit");
        Assert.True(int.Parse(history.Headers.GetValues("X-Total-Count").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 2);
    }

    [Fact]
    public async Task ManualPurge_IncludeOperations_RemovesOnlyThoseOperations()
    {
        await _server.CreateProjectAsync("lab");
        using (var update = await _admin.PutAsJsonAsync("api/v2.0/projects/lab", new { storage_limit = 1 << 30 }))
        {
            await WharfEndpoint.ExpectAsync(update, HttpStatusCode.OK);
        }

        _server.Clock.Advance(TimeSpan.FromHours(5));
        var run = await PurgeNowAsync(1, operations: "update");

        Assert.True(run.GetProperty("purged_count").GetInt64() >= 1);
        Assert.Equal(["lab"], await ProjectEntriesAsync()); // the create stays: only updates were purged
        using var doc = JsonDocument.Parse(await _admin.GetStringAsync("api/v2.0/audit-logs?q=operation%3Dupdate"));
        Assert.Equal(0, doc.RootElement.GetArrayLength());
    }

    [Fact]
    public async Task Schedule_SetAndRead_BadOnesRefusedWithNothingChanged()
    {
        using (var get = JsonDocument.Parse(await _admin.GetStringAsync("api/v2.0/system/purgeaudit/schedule")))
        {
            Assert.Equal("Hourly", get.RootElement.GetProperty("schedule").GetProperty("type").GetString());
            Assert.Equal(180 * 24, get.RootElement.GetProperty("parameters").GetProperty("audit_retention_hour").GetInt32());
        }

        using (var put = await _admin.PutAsJsonAsync("api/v2.0/system/purgeaudit/schedule", Schedule("Custom", 72, cron: "0 30 2 * * *", operations: "pull,create")))
        {
            await WharfEndpoint.ExpectAsync(put, HttpStatusCode.OK);
        }

        foreach (var bad in new[]
        {
            Schedule("Sometimes", 24),
            Schedule("Custom", 24, cron: "61 * * * *"),
            Schedule("Custom", 24, cron: null),
            Schedule("Daily", null),
            Schedule("Daily", 0),
            Schedule("Daily", 24, operations: "pull,explode"),
        })
        {
            using var response = await _admin.PutAsJsonAsync("api/v2.0/system/purgeaudit/schedule", bad);
            await ErrorAssert.HasErrorAsync(response, HttpStatusCode.BadRequest, "BAD_REQUEST");
        }

        using (var get = JsonDocument.Parse(await _admin.GetStringAsync("api/v2.0/system/purgeaudit/schedule")))
        {
            Assert.Equal(("Custom", "0 30 2 * * *"), (get.RootElement.GetProperty("schedule").GetProperty("type").GetString(), get.RootElement.GetProperty("schedule").GetProperty("cron").GetString()));
            Assert.Equal(72, get.RootElement.GetProperty("parameters").GetProperty("audit_retention_hour").GetInt32());
            Assert.Equal("pull,create", get.RootElement.GetProperty("parameters").GetProperty("include_operations").GetString());
        }

        await _server.CreateUserAsync("someone");
        using var user = _server.Client("someone", WharfEndpoint.UserPassword);
        using var forbidden = await user.PostAsJsonAsync("api/v2.0/system/purgeaudit/schedule", Schedule("Manual", 1));
        await ErrorAssert.HasErrorAsync(forbidden, HttpStatusCode.Forbidden, "FORBIDDEN");
        using var anonymous = _server.Client();
        using var unauthorized = await anonymous.GetAsync("api/v2.0/system/purgeaudit");
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
    }
    [Fact]
    public async Task Schedule_WhenItsCronComesDue_PurgesAndRecordsAScheduledRun()
    {
        await _server.CreateProjectAsync("aged");
        using (var put = await _admin.PutAsJsonAsync("api/v2.0/system/purgeaudit/schedule", Schedule("Custom", 1, cron: "0 0 * * * *", operations: "create")))
        {
            await WharfEndpoint.ExpectAsync(put, HttpStatusCode.OK);
        }

        // The purge loop wakes on the registry's clock: move it on in steps until the hourly run has happened.
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (true)
        {
            _server.Clock.Advance(TimeSpan.FromMinutes(10));
            await Task.Delay(100);
            using var doc = JsonDocument.Parse(await _admin.GetStringAsync("api/v2.0/system/purgeaudit?page_size=100"));
            var scheduled = doc.RootElement.EnumerateArray().Where(r => r.GetProperty("job_kind").GetString() == "SCHEDULE" && r.GetProperty("purged_count").GetInt64() > 0).ToList();
            if (scheduled.Count > 0)
            {
                Assert.Contains("\"audit_retention_hour\":1", scheduled[0].GetProperty("job_parameters").GetString(), StringComparison.Ordinal);
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, "no scheduled purge ran");
        }

        Assert.DoesNotContain("aged", await ProjectEntriesAsync());
    }
}
