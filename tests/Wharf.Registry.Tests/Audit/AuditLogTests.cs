using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Audit;
using Wharf.Registry.Projects;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Audit;

/// <summary>The audit log through the real registry and the management API.</summary>
public sealed class AuditLogTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        await _server.CreateProjectAsync("lab");
        await _server.CreateProjectAsync("other");
        await _server.CreateUserAsync("dev");
        await _server.CreateUserAsync("maint");
        await _server.CreateUserAsync("limited");
        await _server.AddMemberAsync("lab", "dev", ProjectRole.Developer);
        await _server.AddMemberAsync("lab", "maint", ProjectRole.Maintainer);
        await _server.AddMemberAsync("lab", "limited", ProjectRole.LimitedGuest);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task AuditLogs_PushPullDelete_RecordWhoWhatWhen()
    {
        using var dev = _server.Client("dev", "Passw0rdX");
        using var maint = _server.Client("maint", "Passw0rdX");
        var (digest, _) = await Images.PushImageAsync(dev, "lab/app", "v1", RandomNumberGenerator.GetBytes(100));
        (await dev.GetAsync("v2/lab/app/manifests/v1")).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.Accepted, (await maint.DeleteAsync($"v2/lab/app/manifests/{digest}")).StatusCode);

        var logs = await LogsAsync(_server.Admin(), "api/v2.0/audit-logs?q=resource%3D~lab/app&page_size=100");

        Assert.Contains(logs, l => l.Username == "dev" && l.Operation == "push" && l.Resource == "lab/app:v1" && l.ResourceType == "artifact" && l.OperationResult);
        Assert.Contains(logs, l => l.Username == "dev" && l.Operation == "pull" && l.Resource == "lab/app:v1");
        Assert.Contains(logs, l => l.Username == "maint" && l.Operation == "delete" && l.Resource == $"lab/app@{digest}");
        Assert.All(logs, l => Assert.True(DateTimeOffset.UtcNow - DateTimeOffset.Parse(l.OpTime, System.Globalization.CultureInfo.InvariantCulture) < TimeSpan.FromHours(1)));

        // Newest first: the delete came last.
        Assert.Equal("delete", logs[0].Operation);
    }

    [Fact]
    public async Task AuditLogs_PullWithToken_NamesTheTokensSubject()
    {
        using var dev = _server.Client("dev", "Passw0rdX");
        await Images.PushImageAsync(dev, "lab/tok", "v1", RandomNumberGenerator.GetBytes(50));
        using var bearer = _server.Bearer(await _server.TokenAsync("dev", "Passw0rdX", "repository:lab/tok:pull"));
        (await bearer.GetAsync("v2/lab/tok/manifests/v1")).EnsureSuccessStatusCode();

        var logs = await LogsAsync(_server.Admin(), "api/v2.0/audit-logs?q=operation%3Dpull,resource%3Dlab/tok:v1");

        var pull = Assert.Single(logs);
        Assert.Equal("dev", pull.Username);
    }

    [Fact]
    public async Task AuditLogs_FailedLogin_IsRecordedAsFailure()
    {
        using var response = await _server.RequestTokenAsync("dev", "wrong-password", "repository:lab/app:pull");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);

        var logs = await LogsAsync(_server.Admin(), "api/v2.0/audit-logs?q=operation%3Dlogin");

        var login = Assert.Single(logs);
        Assert.Equal("dev", login.Username);
        Assert.False(login.OperationResult);
    }

    [Fact]
    public async Task AuditLogs_MemberRobotQuotaAndProjectChanges_AreRecorded()
    {
        await _server.CreateUserAsync("newbie");
        await _server.AddMemberAsync("lab", "newbie", ProjectRole.Guest);
        var (robotId, robotName, _) = await _server.CreateRobotAsync("lab", "ci", 30, "pull");
        using var admin = _server.Admin();
        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync($"api/v2.0/robots/{robotId}")).StatusCode);
        long labId = await ProjectIdAsync("lab");
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"api/v2.0/quotas/{labId}", new { hard = new { storage = 1_000_000 } })).StatusCode);
        await _server.CreateProjectAsync("scratch");
        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync("api/v2.0/projects/scratch")).StatusCode);

        var logs = await LogsAsync(admin, "api/v2.0/audit-logs?page_size=100");

        Assert.Contains(logs, l => l.Operation == "create" && l.ResourceType == "member" && l.Resource.StartsWith("newbie", StringComparison.Ordinal));
        Assert.Contains(logs, l => l.Operation == "create" && l.ResourceType == "robot" && l.Resource == robotName);
        Assert.Contains(logs, l => l.Operation == "delete" && l.ResourceType == "robot" && l.Resource == robotName);
        Assert.Contains(logs, l => l.Operation == "update" && l.ResourceType == "quota" && l.Resource.Contains("1000000", StringComparison.Ordinal));
        Assert.Contains(logs, l => l.Operation == "create" && l.ResourceType == "project" && l.Resource == "scratch");
        Assert.Contains(logs, l => l.Operation == "delete" && l.ResourceType == "project" && l.Resource == "scratch");
        Assert.All(logs.Where(l => l.ResourceType is "robot" or "quota" or "project"), l => Assert.Equal("admin", l.Username));
    }

    [Fact]
    public async Task AuditLogs_AnyOfAndTimeRange_Filter()
    {
        using var dev = _server.Client("dev", "Passw0rdX");
        var (digest, _) = await Images.PushImageAsync(dev, "lab/f", "v1", RandomNumberGenerator.GetBytes(10));
        (await dev.GetAsync("v2/lab/f/manifests/v1")).EnsureSuccessStatusCode();
        using var maint = _server.Client("maint", "Passw0rdX");
        (await maint.DeleteAsync($"v2/lab/f/manifests/{digest}")).EnsureSuccessStatusCode();
        using var admin = _server.Admin();

        var pushOrDelete = await LogsAsync(admin, "api/v2.0/audit-logs?q=" + Uri.EscapeDataString("operation={push delete},resource=~lab/f"));
        Assert.Equal(["delete", "push"], pushOrDelete.Select(l => l.Operation).ToArray());

        string from = DateTimeOffset.UtcNow.AddHours(-1).ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
        string to = DateTimeOffset.UtcNow.AddHours(1).ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(3, (await LogsAsync(admin, "api/v2.0/audit-logs?q=" + Uri.EscapeDataString($"op_time=[{from}~{to}],resource=~lab/f"))).Count);
        string past = DateTimeOffset.UtcNow.AddDays(-2).ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Empty(await LogsAsync(admin, "api/v2.0/audit-logs?q=" + Uri.EscapeDataString($"op_time=[~{past}],resource=~lab/f")));
    }

    [Theory]
    [InlineData("q=nonsense")]
    [InlineData("q=password%3Dx")]
    [InlineData("q=op_time%3D[yesterday~today]")]
    [InlineData("q=resource%3D[a~b]")]
    [InlineData("page=0")]
    public async Task AuditLogs_BadQuery_Is400(string query)
    {
        using var admin = _server.Admin();
        using var response = await admin.GetAsync("api/v2.0/audit-logs?" + query);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task AuditLogs_Members_SeeTheirProjectsOnly_LimitedGuestsAndStrangersNothing()
    {
        using var dev = _server.Client("dev", "Passw0rdX");
        await Images.PushImageAsync(dev, "lab/seen", "v1", RandomNumberGenerator.GetBytes(10));
        using var admin = _server.Admin();
        await Images.PushImageAsync(admin, "other/hidden", "v1", RandomNumberGenerator.GetBytes(10));
        await _server.CreateUserAsync("stranger");

        var devLogs = await LogsAsync(dev, "api/v2.0/audit-logs?page_size=100");
        Assert.Contains(devLogs, l => l.Resource == "lab/seen:v1");
        Assert.DoesNotContain(devLogs, l => l.Resource.StartsWith("other/", StringComparison.Ordinal) || l.Operation == "login");

        var projectLogs = await LogsAsync(dev, "api/v2.0/projects/lab/logs?page_size=100");
        Assert.Contains(projectLogs, l => l.Resource == "lab/seen:v1");

        using var limited = _server.Client("limited", "Passw0rdX");
        Assert.Empty(await LogsAsync(limited, "api/v2.0/audit-logs"));
        Assert.Equal(HttpStatusCode.Forbidden, (await limited.GetAsync("api/v2.0/projects/lab/logs")).StatusCode);

        using var stranger = _server.Client("stranger", "Passw0rdX");
        Assert.Empty(await LogsAsync(stranger, "api/v2.0/audit-logs"));
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetAsync("api/v2.0/projects/lab/logs")).StatusCode);
        using var anonymous = _server.Client();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("api/v2.0/audit-logs")).StatusCode);
    }

    [Fact]
    public async Task AuditLogs_Paging_HasTotalAndLinks()
    {
        using var admin = _server.Admin();
        for (int i = 0; i < 3; i++)
        {
            await _server.CreateProjectAsync($"paged{i}");
        }

        using var response = await admin.GetAsync("api/v2.0/audit-logs?page=2&page_size=2&q=resource_type%3Dproject");
        response.EnsureSuccessStatusCode();
        long total = long.Parse(response.Headers.GetValues("X-Total-Count").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(5, total); // lab, other and the three above
        string link = response.Headers.GetValues("Link").Single();
        Assert.Contains("page=1&page_size=2", link, StringComparison.Ordinal);
        Assert.Contains("rel=\"prev\"", link, StringComparison.Ordinal);
        Assert.Contains("page=3&page_size=2", link, StringComparison.Ordinal);
        Assert.Contains("q=resource_type%3Dproject", link, StringComparison.Ordinal);
        Assert.Equal(2, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetArrayLength());
    }

    private async Task<long> ProjectIdAsync(string name)
    {
        using var admin = _server.Admin();
        var project = await admin.GetFromJsonAsync<JsonElement>($"api/v2.0/projects/{name}");
        return project.GetProperty("project_id").GetInt64();
    }

    internal static async Task<List<LogLine>> LogsAsync(HttpClient client, string url)
    {
        using var response = await client.GetAsync(url);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return [.. body.EnumerateArray().Select(e => new LogLine(
            e.GetProperty("id").GetInt64(), e.GetProperty("username").GetString()!, e.GetProperty("resource").GetString()!,
            e.GetProperty("resource_type").GetString()!, e.GetProperty("operation").GetString()!, e.GetProperty("op_time").GetString()!,
            e.GetProperty("operation_result").GetBoolean()))];
    }

    internal sealed record LogLine(long Id, string Username, string Resource, string ResourceType, string Operation, string OpTime, bool OperationResult);
}

/// <summary>Retention on a clock the test moves.</summary>
public sealed class AuditRetentionTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync() => _server = await WharfServer.StartAsync(new() { ["Registry:AuditRetention"] = "30.00:00:00" });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Purge_EntriesOlderThanRetention_AreDeletedNewerKept()
    {
        await _server.CreateProjectAsync("old");
        _server.Clock.Advance(TimeSpan.FromDays(31));
        await _server.CreateProjectAsync("recent");
        var purge = _server.Services.GetRequiredService<AuditPurge>();
        var schedule = await purge.CurrentScheduleAsync(default);
        Assert.Equal(30 * 24, schedule.RetentionHours); // the configured default until an admin sets one

        // The scheduled purge may already have run when the clock moved; either way the history counts the entry.
        await purge.RunAsync(AuditPurge.Schedule, false, schedule.RetentionHours, schedule.Operations, default);

        var (runs, _) = await _server.Services.GetRequiredService<AuditPurgeStore>().ListRunsAsync(1, 100, default);
        Assert.True(runs.Sum(r => r.Deleted) >= 1);
        var logs = await AuditLogTests.LogsAsync(_server.Admin(), "api/v2.0/audit-logs?q=resource_type%3Dproject");
        var only = Assert.Single(logs);
        Assert.Equal("recent", only.Resource);
    }
}

/// <summary>The audit database must never be on a pull's path.</summary>
public sealed class AuditOffThePullPathTests
{
    [Fact]
    public async Task Pull_WhileTheAuditDatabaseIsStuck_IsServedAndItsEntryWaitsInTheQueue()
    {
        var stuck = new StuckAuditStore();
        await using var server = await WharfServer.StartAsync(configureServices: s => s.AddSingleton<IAuditLogStore>(stuck));
        await server.CreateProjectAsync("lab");
        using var admin = server.Admin();
        await Images.PushImageAsync(admin, "lab/app", "v1", RandomNumberGenerator.GetBytes(10));
        await stuck.Entered.Task; // the writer now holds the push's entry and waits on the "database"

        for (int i = 0; i < 5; i++)
        {
            using var response = await admin.GetAsync("v2/lab/app/manifests/v1");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Empty(stuck.Stored);
        stuck.Release.SetResult();
        await server.Services.GetRequiredService<IAuditLog>().FlushAsync(default);
        Assert.Equal(5, stuck.Stored.Count(e => e.Operation == "pull"));
    }

    private sealed class StuckAuditStore : IAuditLogStore
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public System.Collections.Concurrent.ConcurrentQueue<AuditEntry> Stored { get; } = new();

        public async Task AppendAsync(IReadOnlyList<AuditEntry> entries, CancellationToken cancellationToken)
        {
            Entered.TrySetResult();
            await Release.Task;
            foreach (var entry in entries)
            {
                Stored.Enqueue(entry);
            }
        }

        public Task<(IReadOnlyList<AuditEntry> Entries, long Total)> QueryAsync(AuditQuery query, CancellationToken cancellationToken) =>
            Task.FromResult<(IReadOnlyList<AuditEntry>, long)>(([.. Stored], Stored.Count));

        public Task<int> PurgeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) => Task.FromResult(0);
    }
}
