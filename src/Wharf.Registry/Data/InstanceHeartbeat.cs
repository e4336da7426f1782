using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Wharf.Registry.Data;

/// <summary>One live wharfd instance, as its heartbeat row says.</summary>
public sealed record LiveInstance(string Id, string Host, long Pid, DateTimeOffset StartedAt, DateTimeOffset SeenAt, DateTimeOffset ExpiresAt);

/// <summary>
/// Each wharfd serving a PostgreSQL database writes a row of <c>instances</c> (migration 14) when it
/// starts and renews it every <see cref="RegistryOptions.InstanceHeartbeatInterval"/>; the row counts as
/// live until three intervals after the last beat, and is removed when the instance stops. Instances on
/// other hosts share no data-directory lock, so this is what the offline <c>wharfd gc</c> and
/// <c>wharfd fsck</c> read to prove that nothing serves the database (<see cref="LiveAsync"/>) before
/// they drop GC's grace. A killed instance stays "live" until its row expires: the offline command
/// then says when to try again. On SQLite the data-directory lock proves the same, and no row is written.
/// </summary>
public sealed partial class InstanceHeartbeat(RegistryDatabase database, DatabaseLeases leases, RegistryOptions options, TimeProvider time, ILogger<InstanceHeartbeat> logger)
    : BackgroundService
{
    /// <summary>A row is live for this many intervals after its last beat (one or two missed beats are not death).</summary>
    public const int ExpiryIntervals = 3;

    /// <summary>
    /// The lease an offline gc/fsck holds on a shared database while it runs (renewed, so it lapses soon
    /// after a killed run); an instance does not start while it is live.
    /// </summary>
    public const string OfflineMaintenanceLease = "offline-maintenance";

    private readonly DateTimeOffset _started = time.GetUtcNow();

    /// <summary>
    /// The first beat is written before the host reports started, so a test or an operator never sees
    /// a running instance without its row. Then the instance refuses to start while an offline gc/fsck
    /// holds the database: the run takes its lease before it reads the heartbeats and the instance
    /// writes its row before it reads the lease, so of the two that race, at least one sees the other.
    /// </summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await BeatAsync(cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow();
        if (await leases.HolderAsync(OfflineMaintenanceLease, now, cancellationToken).ConfigureAwait(false) is (string holder, DateTimeOffset until))
        {
            await RemoveRowAsync(cancellationToken).ConfigureAwait(false);
            throw new DatabaseInUseException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"an offline wharfd gc or fsck ({holder}) is working on the database (its lease runs until {until.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC unless renewed); start wharfd when it has finished"));
        }

        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await RemoveRowAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or OperationCanceledException or TimeoutException)
        {
            // The row expires on its own.
            LogRemoveFailed(logger, e.Message);
        }
    }

    /// <summary>The instances whose heartbeat has not expired at <paramref name="now"/>, oldest first.</summary>
    public static async Task<IReadOnlyList<LiveInstance>> LiveAsync(RegistryDatabase database, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.QueryAsync(
            "SELECT id, host, pid, started_at, seen_at, expires_at FROM instances WHERE expires_at > $now ORDER BY started_at, id",
            r => new LiveInstance(r.GetString(0), r.GetString(1), r.GetInt64(2), r.Time(3), r.Time(4), r.Time(5)),
            cancellationToken, ("$now", now.Stored())).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.InstanceHeartbeatInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await BeatAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is System.Data.Common.DbException or TimeoutException or InvalidOperationException)
                {
                    LogBeatFailed(logger, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RemoveRowAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync("DELETE FROM instances WHERE id = $id", cancellationToken, ("$id", leases.Holder)).ConfigureAwait(false);
    }

    private async Task BeatAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var expires = now + (options.InstanceHeartbeatInterval * ExpiryIntervals);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync("""
            INSERT INTO instances(id, host, pid, started_at, seen_at, expires_at) VALUES($id, $host, $pid, $started, $now, $expires)
            ON CONFLICT(id) DO UPDATE SET seen_at = excluded.seen_at, expires_at = excluded.expires_at
            """, cancellationToken, ("$id", leases.Holder), ("$host", Environment.MachineName), ("$pid", (long)Environment.ProcessId),
            ("$started", _started.Stored()), ("$now", now.Stored()), ("$expires", expires.Stored())).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 9401, Level = LogLevel.Warning, Message = "instance heartbeat not written: {Reason}")]
    private static partial void LogBeatFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 9402, Level = LogLevel.Warning, Message = "instance heartbeat row not removed at shutdown (it expires on its own): {Reason}")]
    private static partial void LogRemoveFailed(ILogger logger, string reason);
}

/// <summary>The database is being worked on by an offline command: this wharfd does not start.</summary>
public sealed class DatabaseInUseException(string message) : IOException(message);
