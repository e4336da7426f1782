using System.Data.Common;
using Wharf.Registry.Data;
using Wharf.Registry.Identity;
using Wharf.Registry.Metadata;

namespace Wharf.Registry.Audit;

/// <summary>
/// The audit log's purge schedule (Harbor's <c>/system/purgeaudit/schedule</c>): a schedule type and
/// cron, how many hours of entries to keep, and optionally which operations to purge (all when null).
/// </summary>
public sealed record AuditPurgeSchedule(string Type, string? Cron, int RetentionHours, IReadOnlyList<string>? Operations);

/// <summary>One purge: when, by what, over which window, and how many entries it deleted (or would have).</summary>
public sealed record AuditPurgeRun(
    long Id, string Trigger, bool DryRun, string Status, int RetentionHours, IReadOnlyList<string>? Operations,
    DateTimeOffset StartTime, DateTimeOffset? EndTime, long Deleted);

/// <summary>The schedule and the purge history, in the tables of Data/Migrations.cs (migration 6).</summary>
public sealed class AuditPurgeStore(RegistryDatabase database, TimeProvider time)
{
    private const string RunColumns = "id, trigger, dry_run, status, retention_hours, operations, start_time, end_time, deleted";


    /// <summary>Null when none was ever set (the configured default applies).</summary>
    public async Task<AuditPurgeSchedule?> GetScheduleAsync(CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var list = await c.QueryAsync("SELECT type, cron, retention_hours, operations FROM audit_purge_schedule WHERE id = 1;",
            r => new AuditPurgeSchedule(r.GetString(0), r.NullableString(1), r.GetInt32(2), Operations(r.NullableString(3))), cancellationToken).ConfigureAwait(false);
        return list.Count == 0 ? null : list[0];
    }

    public async Task SetScheduleAsync(AuditPurgeSchedule schedule, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await c.ExecuteAsync(
            "INSERT INTO audit_purge_schedule (id, type, cron, retention_hours, operations, update_time) VALUES (1, $t, $c, $h, $o, $u) "
            + "ON CONFLICT(id) DO UPDATE SET type = excluded.type, cron = excluded.cron, retention_hours = excluded.retention_hours, "
            + "operations = excluded.operations, update_time = excluded.update_time;", cancellationToken,
            ("$t", schedule.Type), ("$c", schedule.Cron), ("$h", schedule.RetentionHours), ("$o", Join(schedule.Operations)),
            ("$u", time.GetUtcNow().ToUnixTimeMilliseconds())).ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes (or, in a dry run, counts) the entries older than <paramref name="cutoff"/> whose
    /// operation is one of <paramref name="operations"/> (any when null), and records the run with its count.
    /// </summary>
    public async Task<AuditPurgeRun> PurgeAsync(
        string trigger, bool dryRun, int retentionHours, IReadOnlyList<string>? operations, CancellationToken cancellationToken)
    {
        var start = time.GetUtcNow();
        var cutoff = start - TimeSpan.FromHours(retentionHours);
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        string ops = Join(operations) ?? "";
        const string Where = "op_time < $t AND ($o = '' OR instr(',' || $o || ',', ',' || operation || ',') > 0)";
        (string, object?)[] args = [("$t", cutoff.ToUnixTimeMilliseconds()), ("$o", ops)];
        long deleted = dryRun
            ? await c.ScalarAsync<long>($"SELECT COUNT(*) FROM audit_log WHERE {Where};", cancellationToken, args).ConfigureAwait(false)
            : await c.ExecuteAsync($"DELETE FROM audit_log WHERE {Where};", cancellationToken, args).ConfigureAwait(false);
        string log = $"{(dryRun ? "would delete" : "deleted")} {deleted} audit log entries older than {retentionHours} hours "
            + $"(before {cutoff.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z){(ops.Length == 0 ? "" : $" with operation {ops}")}\n";
        long id = await c.ScalarAsync<long>(
            $"INSERT INTO audit_purge_runs (trigger, dry_run, status, retention_hours, operations, start_time, end_time, deleted, log) "
            + "VALUES ($tr, $d, 'Success', $h, $o, $s, $e, $n, $l) RETURNING id;", cancellationToken,
            ("$tr", trigger), ("$d", dryRun ? 1 : 0), ("$h", retentionHours), ("$o", Join(operations)), ("$s", start.ToUnixTimeMilliseconds()),
            ("$e", time.GetUtcNow().ToUnixTimeMilliseconds()), ("$n", deleted), ("$l", log)).ConfigureAwait(false);
        return new AuditPurgeRun(id, trigger, dryRun, "Success", retentionHours, operations, DateTimeOffset.FromUnixTimeMilliseconds(start.ToUnixTimeMilliseconds()), time.GetUtcNow(), deleted);
    }

    /// <summary>Newest first.</summary>
    public async Task<(IReadOnlyList<AuditPurgeRun> Runs, long Total)> ListRunsAsync(int page, int pageSize, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        long total = await c.ScalarAsync<long>("SELECT COUNT(*) FROM audit_purge_runs;", cancellationToken).ConfigureAwait(false);
        var runs = await c.QueryAsync($"SELECT {RunColumns} FROM audit_purge_runs ORDER BY id DESC LIMIT $n OFFSET $o;", ReadRun, cancellationToken,
            ("$n", pageSize), ("$o", (long)(page - 1) * pageSize)).ConfigureAwait(false);
        return (runs, total);
    }

    public async Task<AuditPurgeRun?> FindRunAsync(long id, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var list = await c.QueryAsync($"SELECT {RunColumns} FROM audit_purge_runs WHERE id = $id;", ReadRun, cancellationToken, ("$id", id)).ConfigureAwait(false);
        return list.Count == 0 ? null : list[0];
    }

    public async Task<string?> RunLogAsync(long id, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.ScalarAsync<string?>("SELECT log FROM audit_purge_runs WHERE id = $id;", cancellationToken, ("$id", id)).ConfigureAwait(false);
    }

    private static AuditPurgeRun ReadRun(DbDataReader r) => new(
        r.GetInt64(0), r.GetString(1), r.GetInt64(2) != 0, r.GetString(3), r.GetInt32(4), Operations(r.NullableString(5)),
        r.Time(6), r.IsDBNull(7) ? null : r.Time(7), r.GetInt64(8));

    private static string? Join(IReadOnlyList<string>? operations) => operations is null or { Count: 0 } ? null : string.Join(',', operations);

    private static List<string>? Operations(string? joined) => string.IsNullOrEmpty(joined) ? null : [.. joined.Split(',')];

    private Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => database.OpenAsync(cancellationToken);
}
