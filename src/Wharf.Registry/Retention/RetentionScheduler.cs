using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wharf.Registry.Replication;

namespace Wharf.Registry.Retention;

/// <summary>Settings under <c>Registry:Retention</c>.</summary>
public sealed class RetentionOptions
{
    /// <summary>How often scheduled policies are checked against their cron (on the registry's clock).</summary>
    public TimeSpan SchedulePollInterval { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Starts scheduled retention runs when their cron comes due, as the replication triggers do: a new or
/// changed schedule counts from now (no catch-up), and a policy whose previous run is still going skips
/// that occurrence. At start, runs cut off by the last shutdown are marked failed.
/// </summary>
public sealed partial class RetentionScheduler(
    RetentionStore store, RetentionRunner runner, RetentionOptions options, TimeProvider time, ILogger<RetentionScheduler> logger,
    Data.DatabaseLeases? leases = null) : BackgroundService
{
    private readonly CronOccurrences _schedule = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await store.FailInterruptedAsync(stoppingToken).ConfigureAwait(false);
            using var timer = new PeriodicTimer(options.SchedulePollInterval > TimeSpan.Zero ? options.SchedulePollInterval : TimeSpan.FromSeconds(10));
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await RunDueAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    Log.ScheduleFailed(logger, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RunDueAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var policies = (await store.ScheduledPoliciesAsync(ct).ConfigureAwait(false)).ToDictionary(p => p.Id);
        foreach (var (id, occurrence) in _schedule.Due(policies.Values.Select(p => (p.Id, p.Cron)), now))
        {
            // With several instances every one sees the occurrence come due; the one that claims it runs it.
            if ((leases is null || await leases.TryClaimOccurrenceAsync($"retention:{id}", occurrence, ct).ConfigureAwait(false))
                && await runner.StartAsync(policies[id], RetentionRunner.Schedule, dryRun: false, host: "", ct).ConfigureAwait(false) is null)
            {
                Log.Skipped(logger, id);
            }

            _schedule.Advance(id, now);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1702, Level = LogLevel.Warning, Message = "retention schedule check failed: {Reason}")]
        public static partial void ScheduleFailed(ILogger logger, string reason);

        [LoggerMessage(EventId = 1703, Level = LogLevel.Information, Message = "retention policy {Id}: the previous run is still going; this occurrence is skipped")]
        public static partial void Skipped(ILogger logger, long id);
    }
}
