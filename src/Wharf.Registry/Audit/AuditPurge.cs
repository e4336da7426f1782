using Cronos;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wharf.Registry.Identity;
using Wharf.Registry.Replication;

namespace Wharf.Registry.Audit;

/// <summary>
/// Purges old audit log entries on a schedule and on demand, recording each run. Until an admin sets a
/// schedule (<c>/system/purgeaudit/schedule</c>), the configured default applies: every hour, from start,
/// entries older than <see cref="IdentityOptions.AuditRetention"/>. Schedule type <c>None</c> turns the
/// automatic purge off.
/// </summary>
public sealed partial class AuditPurge(
    AuditPurgeStore store, IAuditLogStore log, IAuditLog audit, IdentityOptions options, TimeProvider time, ILogger<AuditPurge> logger,
    Data.DatabaseLeases? leases = null) : BackgroundService
{
    public const string Manual = "Manual";
    public const string Schedule = "Schedule";

    /// <summary>Harbor's schedule types and the crons they stand for (six fields, seconds first).</summary>
    public static readonly IReadOnlyDictionary<string, string?> Types = new Dictionary<string, string?>
    {
        ["None"] = null,
        ["Hourly"] = "0 0 * * * *",
        ["Daily"] = "0 0 0 * * *",
        ["Weekly"] = "0 0 0 * * 0",
        ["Custom"] = null,
    };

    /// <summary>The operations an audit entry can have (<see cref="AuditEntry"/>); include_operations must name these.</summary>
    public static readonly IReadOnlySet<string> KnownOperations = new HashSet<string>(StringComparer.Ordinal) { "create", "delete", "pull", "push", "update", "login" };

    private readonly SemaphoreSlim _one = new(1, 1);

    /// <summary>The schedule in force: the stored one, or the default from configuration.</summary>
    public async Task<AuditPurgeSchedule> CurrentScheduleAsync(CancellationToken cancellationToken) =>
        await store.GetScheduleAsync(cancellationToken).ConfigureAwait(false)
            ?? new AuditPurgeSchedule("Hourly", Types["Hourly"], (int)Math.Max(1, Math.Ceiling(options.AuditRetention.TotalHours)), null);

    public async Task<AuditPurgeRun> RunAsync(string trigger, bool dryRun, int retentionHours, IReadOnlyList<string>? operations, CancellationToken cancellationToken)
    {
        await _one.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // What was recorded before the run is in the table it purges; the empty purge makes sure the table exists.
            await audit.FlushAsync(cancellationToken).ConfigureAwait(false);
            await log.PurgeAsync(DateTimeOffset.MinValue, cancellationToken).ConfigureAwait(false);
            var run = await store.PurgeAsync(trigger, dryRun, retentionHours, operations, cancellationToken).ConfigureAwait(false);
            if (run.Deleted > 0 && !dryRun)
            {
                Log.Purged(logger, run.Deleted, retentionHours);
            }

            return run;
        }
        finally
        {
            _one.Release();
        }
    }

    public static bool TryParseCron(string? text, out CronExpression? cron, out string? error) => ReplicationPolicy.TryParseCron(text, out cron, out error);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        DateTimeOffset? next = null;
        string? planned = null;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    var schedule = await CurrentScheduleAsync(stoppingToken).ConfigureAwait(false);
                    var now = time.GetUtcNow();
                    if (planned is null)
                    {
                        // The configured default purges at start, as it always has; a stored schedule waits for its cron.
                        next = await store.GetScheduleAsync(stoppingToken).ConfigureAwait(false) is null ? now : NextOccurrence(schedule, now);
                    }
                    else if (planned != Key(schedule))
                    {
                        next = NextOccurrence(schedule, now); // a changed schedule counts from now
                    }

                    planned = Key(schedule);
                    if (next is { } due && due <= now && schedule.Type != "None")
                    {
                        // With several instances the one that claims the occurrence purges.
                        if (leases is null || await leases.TryClaimOccurrenceAsync("audit-purge", due, stoppingToken).ConfigureAwait(false))
                        {
                            await RunAsync(Schedule, false, schedule.RetentionHours, schedule.Operations, stoppingToken).ConfigureAwait(false);
                        }

                        next = NextOccurrence(schedule, now);
                    }
                    else if (next is null || schedule.Type == "None")
                    {
                        next = NextOccurrence(schedule, now);
                    }
                }
                catch (Exception e) when (e is System.Data.Common.DbException or IOException)
                {
                    Log.PurgeFailed(logger, e);
                }

                await Task.Delay(options.AuditPurgePollInterval > TimeSpan.Zero ? options.AuditPurgePollInterval : TimeSpan.FromSeconds(30), time, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    // The operations are a list: records compare it by reference, so schedules are compared by this.
    private static string Key(AuditPurgeSchedule s) => $"{s.Type}|{s.Cron}|{s.RetentionHours}|{string.Join(',', s.Operations ?? [])}";

    private static DateTimeOffset? NextOccurrence(AuditPurgeSchedule schedule, DateTimeOffset now) =>
        schedule.Type != "None" && TryParseCron(schedule.Cron, out var cron, out _) && cron!.GetNextOccurrence(now.UtcDateTime) is { } at
            ? new DateTimeOffset(at)
            : null;

    public override void Dispose()
    {
        _one.Dispose();
        base.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 42, Level = LogLevel.Information, Message = "purged {Count} audit entries older than {Hours} hours")]
        public static partial void Purged(ILogger logger, long count, int hours);

        [LoggerMessage(EventId = 43, Level = LogLevel.Error, Message = "purging the audit log failed")]
        public static partial void PurgeFailed(ILogger logger, Exception exception);
    }
}
