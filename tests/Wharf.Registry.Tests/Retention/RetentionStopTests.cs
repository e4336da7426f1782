using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Retention;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;
using static Wharf.Registry.Tests.Retention.RetentionHarness;

namespace Wharf.Registry.Tests.Retention;

/// <summary>
/// Harbor's <c>PATCH /retentions/{id}/executions/{eid}</c> <c>{"action":"stop"}</c> on a real server: a run
/// held before its third deletion (a hook in the runner, not a timing) is stopped; what it deleted stays
/// deleted, nothing more goes, and the execution and its task end Stopped.
/// </summary>
public sealed class RetentionStopTests : IAsyncLifetime
{
    private WharfServer _server = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _server = await WharfServer.StartAsync();
        _admin = _server.Admin();
        await _server.CreateProjectAsync("stop");
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
    }

    private static HttpRequestMessage Patch(string path, object body) =>
        new(HttpMethod.Patch, new Uri(path, UriKind.Relative)) { Content = JsonContent.Create(body) };

    [Fact]
    public async Task Stop_RunningExecution_EndsStopped_KeepsWhatWasDeletedAndDeletesNothingMore()
    {
        long projectId = await ProjectIdAsync(_admin, "stop");
        for (int i = 1; i <= 6; i++)
        {
            await Images.PushImageAsync(_admin, "stop/app", $"drop-{i}", RandomNumberGenerator.GetBytes(64));
            _server.Clock.Advance(TimeSpan.FromMinutes(1));
        }

        long policy = await CreatePolicyAsync(_admin, Policy(projectId, null, Rule("always", null, tagPattern: "keep-*", untagged: false)));
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int deletions = 0;
        var runner = _server.Services.GetRequiredService<RetentionRunner>();
        runner.BeforeDelete = async (_, _, _) =>
        {
            if (Interlocked.Increment(ref deletions) == 3)
            {
                reached.SetResult();
                await gate.Task;
            }
        };

        using var start = await _admin.PostAsJsonAsync(new Uri($"api/v2.0/retentions/{policy}/executions", UriKind.Relative), new { dry_run = false });
        await WharfEndpoint.ExpectAsync(start, HttpStatusCode.Created);
        string execution = start.Headers.Location!.OriginalString.TrimStart('/');
        await reached.Task.WaitAsync(TimeSpan.FromMinutes(2));

        using (var running = JsonDocument.Parse(await _admin.GetStringAsync(new Uri(execution, UriKind.Relative))))
        {
            Assert.Equal("Running", running.RootElement.GetProperty("status").GetString());
        }

        using (var wrong = await _admin.SendAsync(Patch(execution, new { action = "pause" })))
        {
            await WharfEndpoint.ExpectAsync(wrong, HttpStatusCode.BadRequest);
        }

        using (var stop = await _admin.SendAsync(Patch(execution, new { action = "stop" })))
        {
            await WharfEndpoint.ExpectAsync(stop, HttpStatusCode.OK);
        }

        gate.SetResult();
        await runner.IdleAsync().WaitAsync(TimeSpan.FromMinutes(2));

        using var done = JsonDocument.Parse(await _admin.GetStringAsync(new Uri(execution, UriKind.Relative)));
        Assert.Equal("Stopped", done.RootElement.GetProperty("status").GetString());
        Assert.Equal(2, done.RootElement.GetProperty("removed").GetInt64());
        Assert.True(done.RootElement.GetProperty("released_bytes").GetInt64() > 0);

        // Newest first: the two newest went, the four older stay.
        Assert.Equal(["drop-1", "drop-2", "drop-3", "drop-4"], await TagsAsync(_admin, "stop/app"));
        long executionId = done.RootElement.GetProperty("id").GetInt64();
        using var tasks = JsonDocument.Parse(await _admin.GetStringAsync(new Uri($"api/v2.0/retentions/{policy}/executions/{executionId}/tasks", UriKind.Relative)));
        Assert.Equal("Stopped", Assert.Single(tasks.RootElement.EnumerateArray()).GetProperty("status").GetString());
        string log = await LogsAsync(_admin, policy, executionId);
        Assert.Contains("stopped: removed 2, retained 0 of 6", log, StringComparison.Ordinal);

        // Stopping a finished execution changes nothing.
        using (var again = await _admin.SendAsync(Patch(execution, new { action = "stop" })))
        {
            await WharfEndpoint.ExpectAsync(again, HttpStatusCode.OK);
        }

        using var after = JsonDocument.Parse(await _admin.GetStringAsync(new Uri(execution, UriKind.Relative)));
        Assert.Equal("Stopped", after.RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Stop_ByDeveloper_IsForbidden_UnknownExecution_IsNotFound()
    {
        long projectId = await ProjectIdAsync(_admin, "stop");
        long policy = await CreatePolicyAsync(_admin, Policy(projectId, null, Rule("always", null)));
        var dry = await RunAsync(_admin, policy, dryRun: true);
        await _server.CreateUserAsync("dev");
        await _server.AddMemberAsync("stop", "dev", Wharf.Registry.Projects.ProjectRole.Developer);
        using var dev = _server.Client("dev", WharfEndpoint.UserPassword);

        using (var forbidden = await dev.SendAsync(Patch($"api/v2.0/retentions/{policy}/executions/{dry.GetProperty("id").GetInt64()}", new { action = "stop" })))
        {
            await WharfEndpoint.ExpectAsync(forbidden, HttpStatusCode.Forbidden);
        }

        using var unknown = await _admin.SendAsync(Patch($"api/v2.0/retentions/{policy}/executions/999999", new { action = "stop" }));
        await WharfEndpoint.ExpectAsync(unknown, HttpStatusCode.NotFound);
    }
}
