namespace Wharf.Registry.Data;

/// <summary>
/// Leases in the database (<c>leases</c>, migration 8), so a job that must run on one instance at a time
/// runs on one of several wharfd instances sharing the database: scheduled GC, and each occurrence of a
/// retention, audit purge or replication schedule. A lease is one row, taken with one conditional
/// statement: it is free when it has expired or this instance already holds it. Nobody renews or
/// releases: a lease simply covers the time its job is due for (one GC interval, one cron occurrence).
/// In the embedded mode there is one instance and every lease is this one's.
/// </summary>
public sealed class DatabaseLeases(RegistryDatabase database, TimeProvider time)
{
    /// <summary>Rows expired longer than this are removed when another lease is taken.</summary>
    private static readonly TimeSpan Keep = TimeSpan.FromDays(1);

    /// <summary>This instance, as the <c>holder</c> column names it: host, PID and a random part (a PID is reused after a restart).</summary>
    public string Holder { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Takes the lease <paramref name="name"/> for <paramref name="duration"/>; false when another instance holds it.</summary>
    public async Task<bool> TryAcquireAsync(string name, TimeSpan duration, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        long until = now + (long)Math.Min(duration.TotalMilliseconds, TimeSpan.FromDays(3650).TotalMilliseconds);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        int taken = await connection.ExecuteAsync("""
            INSERT INTO leases(name, holder, expires_at) VALUES($name, $holder, $until)
            ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
            WHERE leases.expires_at <= $now OR leases.holder = excluded.holder
            """, cancellationToken, ("$name", name), ("$holder", Holder), ("$until", until), ("$now", now)).ConfigureAwait(false);
        if (taken > 0)
        {
            await connection.ExecuteAsync("DELETE FROM leases WHERE expires_at < $old", cancellationToken,
                ("$old", now - (long)Keep.TotalMilliseconds)).ConfigureAwait(false);
        }

        return taken > 0;
    }

    /// <summary>Gives up the lease <paramref name="name"/> if this instance holds it.</summary>
    public async Task ReleaseAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync("DELETE FROM leases WHERE name = $name AND holder = $holder", cancellationToken,
            ("$name", name), ("$holder", Holder)).ConfigureAwait(false);
    }

    /// <summary>Who holds the lease <paramref name="name"/> and until when, if it is live at <paramref name="now"/>.</summary>
    public async Task<(string Holder, DateTimeOffset Until)?> HolderAsync(string name, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync("SELECT holder, expires_at FROM leases WHERE name = $name AND expires_at > $now",
            r => (r.GetString(0), r.Time(1)), cancellationToken, ("$name", name), ("$now", now.Stored())).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <summary>The lease for one occurrence of a schedule: the first instance to ask runs it, the others skip it.</summary>
    public Task<bool> TryClaimOccurrenceAsync(string schedule, DateTimeOffset occurrence, CancellationToken cancellationToken) =>
        TryAcquireAsync($"{schedule}@{occurrence.ToUnixTimeMilliseconds()}", Keep, cancellationToken);
}
