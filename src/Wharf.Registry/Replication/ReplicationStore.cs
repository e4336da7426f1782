using System.Text.Json;
using System.Data.Common;
using Wharf.Registry.Identity;
using Wharf.Registry.Data;

namespace Wharf.Registry.Replication;

/// <summary>Harbor's execution and task states, as its API spells them (a running one is "InProgress").</summary>
public static class ReplicationStatus
{
    public const string Pending = "Pending";
    public const string InProgress = "InProgress";
    public const string Succeed = "Succeed";
    public const string Failed = "Failed";
    public const string Stopped = "Stopped";
}

/// <summary>One run of a policy; the counts are its tasks' states.</summary>
public sealed record ReplicationExecution(
    long Id, long PolicyId, string Status, string? StatusText, string Trigger, DateTimeOffset StartTime, DateTimeOffset? EndTime,
    int Total, int Failed, int Succeed, int InProgress, int Stopped, long Bytes);

/// <summary>One artifact (repository:tag) copied or deleted by an execution, with what it moved and its log.</summary>
public sealed record ReplicationTask(
    long Id, long ExecutionId, string SourceResource, string DestinationResource, string Operation, string Status,
    DateTimeOffset StartTime, DateTimeOffset? EndTime, long Bytes, int BlobsCopied, int BlobsSkipped);

/// <summary>
/// Policies, executions and tasks in the registry's SQLite file, next to the endpoints they name.
/// <code>
/// replication_policies    one row per rule; filters as Harbor's JSON array
/// replication_executions  policy, trigger, status, start/end (counts come from the tasks)
/// replication_tasks       execution, source and destination artifact, operation, status, bytes, log
/// </code>
/// </summary>
public sealed class ReplicationStore(RegistryDatabase database, TimeProvider time)
{
    private const string PolicyColumns = "id, name, description, src_registry_id, dest_registry_id, dest_namespace, dest_namespace_replace_count, "
        + "trigger_type, cron, filters, deletion, override, enabled, speed, copy_by_chunk, creation_time, update_time";

    private const string ExecutionColumns = """
        e.id, e.policy_id, e.status, e.status_text, e.trigger, e.start_time, e.end_time,
        (SELECT COUNT(*) FROM replication_tasks t WHERE t.execution_id = e.id),
        (SELECT COUNT(*) FROM replication_tasks t WHERE t.execution_id = e.id AND t.status = 'Failed'),
        (SELECT COUNT(*) FROM replication_tasks t WHERE t.execution_id = e.id AND t.status = 'Succeed'),
        (SELECT COUNT(*) FROM replication_tasks t WHERE t.execution_id = e.id AND t.status IN ('Pending', 'InProgress')),
        (SELECT COUNT(*) FROM replication_tasks t WHERE t.execution_id = e.id AND t.status = 'Stopped'),
        (SELECT COALESCE(SUM(bytes), 0) FROM replication_tasks t WHERE t.execution_id = e.id)
        """;

    private const string TaskColumns = "id, execution_id, src_resource, dst_resource, operation, status, start_time, end_time, bytes, blobs_copied, blobs_skipped";

    private static readonly JsonSerializerOptions FilterJson = new(JsonSerializerDefaults.Web);

    private readonly Lock _policiesLock = new();
    private volatile IReadOnlyList<ReplicationPolicy>? _policies;
    private long _generation;

    /// <summary>
    /// Every policy, from memory after the first read: the triggers ask on every push and every schedule
    /// tick, and policies change only through this store (one process owns the database).
    /// </summary>
    public async Task<IReadOnlyList<ReplicationPolicy>> AllPoliciesAsync(CancellationToken cancellationToken)
    {
        if (_policies is { } cached)
        {
            return cached;
        }

        long generation = Interlocked.Read(ref _generation);
        var read = await ListPoliciesAsync(null, cancellationToken).ConfigureAwait(false);
        lock (_policiesLock)
        {
            // Kept only if no change landed while it was read.
            if (_generation == generation)
            {
                _policies = read;
            }
        }

        return read;
    }

    private void PoliciesChanged()
    {
        lock (_policiesLock)
        {
            _generation++;
            _policies = null;
        }
    }

    /// <summary>Null when the name is taken.</summary>
    public async Task<ReplicationPolicy?> CreatePolicyAsync(ReplicationPolicy policy, CancellationToken cancellationToken)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long id = await connection.ScalarAsync<long>(
                $"INSERT INTO replication_policies ({PolicyColumns[4..]}) VALUES ($n, $d, $s, $ds, $ns, $rc, $tt, $c, $f, $del, $o, $e, $sp, $cc, $t, $t) RETURNING id;",
                cancellationToken, Parameters(policy, now)).ConfigureAwait(false);
            var at = DateTimeOffset.FromUnixTimeMilliseconds(now);
            PoliciesChanged();
            return policy with { Id = id, CreatedAt = at, UpdatedAt = at };
        }
        catch (System.Data.Common.DbException e) when (Data.Sql.IsConstraintViolation(e))
        {
            return null;
        }
    }

    /// <summary>False when unknown; null when the new name is taken.</summary>
    public async Task<bool?> UpdatePolicyAsync(ReplicationPolicy policy, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            bool updated = await connection.ExecuteAsync(
                "UPDATE replication_policies SET name = $n, description = $d, src_registry_id = $s, dest_registry_id = $ds, dest_namespace = $ns, "
                + "dest_namespace_replace_count = $rc, trigger_type = $tt, cron = $c, filters = $f, deletion = $del, override = $o, enabled = $e, "
                + "speed = $sp, copy_by_chunk = $cc, update_time = $t WHERE id = $id;",
                cancellationToken, [.. Parameters(policy, time.GetUtcNow().ToUnixTimeMilliseconds()), ("$id", policy.Id)]).ConfigureAwait(false) == 1;
            PoliciesChanged();
            return updated;
        }
        catch (System.Data.Common.DbException e) when (Data.Sql.IsConstraintViolation(e))
        {
            return null;
        }
    }

    public async Task<bool> DeletePolicyAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        bool deleted = await connection.ExecuteAsync("DELETE FROM replication_policies WHERE id = $id;", cancellationToken, ("$id", id)).ConfigureAwait(false) == 1;
        PoliciesChanged();
        return deleted;
    }

    public async Task<ReplicationPolicy?> FindPolicyAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var list = await connection.QueryAsync($"SELECT {PolicyColumns} FROM replication_policies WHERE id = $id;", ReadPolicy, cancellationToken, ("$id", id)).ConfigureAwait(false);
        return list.Count == 0 ? null : list[0];
    }

    public async Task<IReadOnlyList<ReplicationPolicy>> ListPoliciesAsync(string? nameContains, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.QueryAsync(
            $"SELECT {PolicyColumns} FROM replication_policies WHERE $q IS NULL OR name LIKE $q ESCAPE '\\' ORDER BY id;", ReadPolicy, cancellationToken,
            ("$q", string.IsNullOrEmpty(nameContains) ? null : Sql.LikeContains(nameContains))).ConfigureAwait(false);
    }

    /// <summary>How many policies name the registered endpoint as their source or destination.</summary>
    public async Task<long> PoliciesUsingAsync(long registryId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ScalarAsync<long>(
            "SELECT COUNT(*) FROM replication_policies WHERE src_registry_id = $r OR dest_registry_id = $r;", cancellationToken, ("$r", registryId)).ConfigureAwait(false);
    }

    public async Task<long> CreateExecutionAsync(long policyId, string trigger, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ScalarAsync<long>(
            "INSERT INTO replication_executions (policy_id, status, trigger, start_time) VALUES ($p, 'InProgress', $tr, $t) RETURNING id;",
            cancellationToken, ("$p", policyId), ("$tr", trigger), ("$t", time.GetUtcNow().ToUnixTimeMilliseconds())).ConfigureAwait(false);
    }

    public async Task FinishExecutionAsync(long id, string status, string? statusText, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "UPDATE replication_executions SET status = $s, status_text = $st, end_time = $t WHERE id = $id;", cancellationToken,
            ("$s", status), ("$st", statusText), ("$t", time.GetUtcNow().ToUnixTimeMilliseconds()), ("$id", id)).ConfigureAwait(false);
    }

    public async Task<ReplicationExecution?> FindExecutionAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var list = await connection.QueryAsync($"SELECT {ExecutionColumns} FROM replication_executions e WHERE e.id = $id;", ReadExecution, cancellationToken, ("$id", id)).ConfigureAwait(false);
        return list.Count == 0 ? null : list[0];
    }

    /// <summary>Newest first, optionally of one policy, status or trigger.</summary>
    public async Task<IReadOnlyList<ReplicationExecution>> ListExecutionsAsync(long? policyId, string? status, string? trigger, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.QueryAsync(
            $"SELECT {ExecutionColumns} FROM replication_executions e WHERE ($p IS NULL OR e.policy_id = $p) AND ($s IS NULL OR e.status = $s) "
            + "AND ($tr IS NULL OR e.trigger = $tr) ORDER BY e.id DESC;",
            ReadExecution, cancellationToken, ("$p", policyId), ("$s", status), ("$tr", trigger)).ConfigureAwait(false);
    }

    public async Task<bool> PolicyHasRunningExecutionAsync(long policyId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ScalarAsync<long>(
            "SELECT COUNT(*) FROM replication_executions WHERE policy_id = $p AND status = 'InProgress';", cancellationToken, ("$p", policyId)).ConfigureAwait(false) > 0;
    }

    public async Task<long> CreateTaskAsync(long executionId, string source, string destination, string operation, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ScalarAsync<long>(
            "INSERT INTO replication_tasks (execution_id, src_resource, dst_resource, operation, status, start_time) VALUES ($e, $s, $d, $o, 'Pending', $t) RETURNING id;",
            cancellationToken, ("$e", executionId), ("$s", source), ("$d", destination), ("$o", operation), ("$t", time.GetUtcNow().ToUnixTimeMilliseconds())).ConfigureAwait(false);
    }

    public async Task StartTaskAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE replication_tasks SET status = 'InProgress', start_time = $t WHERE id = $id;", cancellationToken,
            ("$t", time.GetUtcNow().ToUnixTimeMilliseconds()), ("$id", id)).ConfigureAwait(false);
    }

    public async Task FinishTaskAsync(long id, string status, long bytes, int copied, int skipped, string log, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "UPDATE replication_tasks SET status = $s, end_time = $t, bytes = $b, blobs_copied = $c, blobs_skipped = $k, log = $l WHERE id = $id;", cancellationToken,
            ("$s", status), ("$t", time.GetUtcNow().ToUnixTimeMilliseconds()), ("$b", bytes), ("$c", copied), ("$k", skipped), ("$l", log), ("$id", id)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<ReplicationTask>> ListTasksAsync(long executionId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.QueryAsync($"SELECT {TaskColumns} FROM replication_tasks WHERE execution_id = $e ORDER BY id;", ReadTask, cancellationToken, ("$e", executionId)).ConfigureAwait(false);
    }

    /// <summary>The task's log, or null when the execution has no such task.</summary>
    public async Task<string?> TaskLogAsync(long executionId, long taskId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ScalarAsync<string?>("SELECT log FROM replication_tasks WHERE id = $id AND execution_id = $e;", cancellationToken,
            ("$id", taskId), ("$e", executionId)).ConfigureAwait(false);
    }

    /// <summary>
    /// At start: an execution still marked running was cut off when the last process stopped. It and its
    /// unfinished tasks are failed, so a new run (which skips what is already there) finishes the job.
    /// </summary>
    public async Task<int> FailInterruptedAsync(CancellationToken cancellationToken)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "UPDATE replication_tasks SET status = 'Failed', end_time = $t, log = log || 'interrupted: wharfd stopped during the task' || char(10) "
            + "WHERE status IN ('Pending', 'InProgress');", cancellationToken, ("$t", now)).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            "UPDATE replication_executions SET status = 'Failed', status_text = 'interrupted: wharfd stopped during the execution', end_time = $t "
            + "WHERE status IN ('Pending', 'InProgress');", cancellationToken, ("$t", now)).ConfigureAwait(false);
    }

    private static (string, object?)[] Parameters(ReplicationPolicy p, long now) =>
    [
        ("$n", p.Name), ("$d", p.Description), ("$s", p.SourceRegistryId), ("$ds", p.DestinationRegistryId), ("$ns", p.DestinationNamespace),
        ("$rc", p.DestinationNamespaceReplaceCount), ("$tt", p.TriggerType), ("$c", p.Cron), ("$f", JsonSerializer.Serialize(p.Filters, FilterJson)),
        ("$del", p.Deletion ? 1 : 0), ("$o", p.Override ? 1 : 0), ("$e", p.Enabled ? 1 : 0), ("$sp", p.Speed), ("$cc", p.CopyByChunk ? 1 : 0), ("$t", now),
    ];

    private static ReplicationPolicy ReadPolicy(DbDataReader r) => new(
        r.GetInt64(0), r.GetString(1), r.NullableString(2), r.NullableInt64(3), r.NullableInt64(4), r.NullableString(5), r.GetInt32(6),
        r.GetString(7), r.NullableString(8), JsonSerializer.Deserialize<List<ReplicationFilter>>(r.GetString(9), FilterJson) ?? [],
        r.GetInt64(10) != 0, r.GetInt64(11) != 0, r.GetInt64(12) != 0, r.GetInt32(13), r.GetInt64(14) != 0, r.Time(15), r.Time(16));

    private static ReplicationExecution ReadExecution(DbDataReader r) => new(
        r.GetInt64(0), r.GetInt64(1), r.GetString(2), r.NullableString(3), r.GetString(4), r.Time(5), r.IsDBNull(6) ? null : r.Time(6),
        r.GetInt32(7), r.GetInt32(8), r.GetInt32(9), r.GetInt32(10), r.GetInt32(11), r.GetInt64(12));

    private static ReplicationTask ReadTask(DbDataReader r) => new(
        r.GetInt64(0), r.GetInt64(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5), r.Time(6), r.IsDBNull(7) ? null : r.Time(7),
        r.GetInt64(8), r.GetInt32(9), r.GetInt32(10));

    private Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => database.OpenAsync(cancellationToken);
}
