using System.Text.Json;
using System.Data.Common;
using Wharf.Registry.Data;
using Wharf.Registry.Identity;
using Wharf.Registry.Metadata;

namespace Wharf.Registry.Retention;

/// <summary>Harbor's execution and task states for retention (its task manager's words).</summary>
public static class RetentionStatus
{
    public const string Running = "Running";
    public const string Success = "Success";
    public const string Error = "Error";
    public const string Stopped = "Stopped";
}

/// <summary>One run of a policy: what it removed, the project usage that released, and the GC run that followed.</summary>
public sealed record RetentionExecution(
    long Id, long PolicyId, string Status, string Trigger, bool DryRun, DateTimeOffset StartTime, DateTimeOffset? EndTime,
    long Removed, long ReleasedBytes, long? GcRunId, long? GcBytesFreed);

/// <summary>One repository of a run: how many artifacts were weighed, how many kept.</summary>
public sealed record RetentionTask(
    long Id, long ExecutionId, string Repository, string Status, DateTimeOffset StartTime, DateTimeOffset? EndTime, int Total, int Retained);

/// <summary>Policies, executions and tasks in the tables of Data/Migrations.cs (migration 6).</summary>
public sealed class RetentionStore(RegistryDatabase database, TimeProvider time)
{
    private const string PolicyColumns = "id, project_id, algorithm, rules, cron, creation_time, update_time";
    private const string ExecutionColumns = "id, policy_id, status, trigger, dry_run, start_time, end_time, removed, released_bytes, gc_run_id, gc_bytes_freed";
    private const string TaskColumns = "id, execution_id, repository, status, start_time, end_time, total, retained";

    private static readonly JsonSerializerOptions RuleJson = new(JsonSerializerDefaults.Web);


    private long Now => time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Null when the project already has a policy (Harbor keeps one per project).</summary>
    public async Task<RetentionPolicy?> CreatePolicyAsync(RetentionPolicy policy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long now = Now;
            long id = await c.ScalarAsync<long>(
                "INSERT INTO retention_policies (project_id, algorithm, rules, cron, creation_time, update_time) VALUES ($p, $a, $r, $c, $t, $t) RETURNING id;",
                cancellationToken, ("$p", policy.ProjectId), ("$a", policy.Algorithm), ("$r", Serialize(policy.Rules)), ("$c", policy.Cron), ("$t", now)).ConfigureAwait(false);
            return policy with { Id = id, CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(now), UpdatedAt = DateTimeOffset.FromUnixTimeMilliseconds(now) };
        }
        catch (System.Data.Common.DbException e) when (Data.Sql.IsConstraintViolation(e))
        {
            return null;
        }
    }

    public async Task<bool> UpdatePolicyAsync(RetentionPolicy policy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.ExecuteAsync("UPDATE retention_policies SET algorithm = $a, rules = $r, cron = $c, update_time = $t WHERE id = $id;", cancellationToken,
            ("$a", policy.Algorithm), ("$r", Serialize(policy.Rules)), ("$c", policy.Cron), ("$t", Now), ("$id", policy.Id)).ConfigureAwait(false) == 1;
    }

    public async Task<bool> DeletePolicyAsync(long id, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.ExecuteAsync("DELETE FROM retention_policies WHERE id = $id;", cancellationToken, ("$id", id)).ConfigureAwait(false) == 1;
    }

    public async Task<RetentionPolicy?> FindPolicyAsync(long id, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var list = await c.QueryAsync($"SELECT {PolicyColumns} FROM retention_policies WHERE id = $id;", ReadPolicy, cancellationToken, ("$id", id)).ConfigureAwait(false);
        return list.Count == 0 ? null : list[0];
    }

    public async Task<long?> PolicyIdOfProjectAsync(long projectId, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.ScalarAsync<long?>("SELECT id FROM retention_policies WHERE project_id = $p;", cancellationToken, ("$p", projectId)).ConfigureAwait(false);
    }

    /// <summary>Policies with a schedule, for the scheduler.</summary>
    public async Task<IReadOnlyList<RetentionPolicy>> ScheduledPoliciesAsync(CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.QueryAsync($"SELECT {PolicyColumns} FROM retention_policies WHERE cron IS NOT NULL AND cron <> '' ORDER BY id;", ReadPolicy, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Null when the policy already has a run going (one at a time per policy).</summary>
    public async Task<long?> CreateExecutionAsync(long policyId, string trigger, bool dryRun, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = (DbTransaction)await c.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var running = c.Command("SELECT COUNT(*) FROM retention_executions WHERE policy_id = $p AND status = 'Running';", ("$p", policyId));
        running.Transaction = tx;
        if ((long)(await running.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! > 0)
        {
            return null;
        }

        await using var insert = c.Command(
            "INSERT INTO retention_executions (policy_id, status, trigger, dry_run, start_time) VALUES ($p, 'Running', $tr, $d, $t) RETURNING id;",
            ("$p", policyId), ("$tr", trigger), ("$d", dryRun ? 1 : 0), ("$t", Now));
        insert.Transaction = tx;
        long id = (long)(await insert.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return id;
    }

    public async Task FinishExecutionAsync(long id, string status, long removed, long releasedBytes, long? gcRunId, long? gcBytesFreed, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await c.ExecuteAsync(
            "UPDATE retention_executions SET status = $s, end_time = $t, removed = $n, released_bytes = $b, gc_run_id = $g, gc_bytes_freed = $f WHERE id = $id;",
            cancellationToken, ("$s", status), ("$t", Now), ("$n", removed), ("$b", releasedBytes), ("$g", gcRunId), ("$f", gcBytesFreed), ("$id", id)).ConfigureAwait(false);
    }

    public async Task<RetentionExecution?> FindExecutionAsync(long policyId, long id, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var list = await c.QueryAsync($"SELECT {ExecutionColumns} FROM retention_executions WHERE id = $id AND policy_id = $p;", ReadExecution, cancellationToken,
            ("$id", id), ("$p", policyId)).ConfigureAwait(false);
        return list.Count == 0 ? null : list[0];
    }

    /// <summary>Newest first.</summary>
    public async Task<(IReadOnlyList<RetentionExecution> Executions, long Total)> ListExecutionsAsync(long policyId, int page, int pageSize, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        long total = await c.ScalarAsync<long>("SELECT COUNT(*) FROM retention_executions WHERE policy_id = $p;", cancellationToken, ("$p", policyId)).ConfigureAwait(false);
        var list = await c.QueryAsync($"SELECT {ExecutionColumns} FROM retention_executions WHERE policy_id = $p ORDER BY id DESC LIMIT $n OFFSET $o;",
            ReadExecution, cancellationToken, ("$p", policyId), ("$n", pageSize), ("$o", (long)(page - 1) * pageSize)).ConfigureAwait(false);
        return (list, total);
    }

    public async Task<long> CreateTaskAsync(long executionId, string repository, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.ScalarAsync<long>("INSERT INTO retention_tasks (execution_id, repository, status, start_time) VALUES ($e, $r, 'Running', $t) RETURNING id;",
            cancellationToken, ("$e", executionId), ("$r", repository), ("$t", Now)).ConfigureAwait(false);
    }

    public async Task FinishTaskAsync(long id, string status, int total, int retained, string log, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await c.ExecuteAsync("UPDATE retention_tasks SET status = $s, end_time = $t, total = $n, retained = $k, log = $l WHERE id = $id;", cancellationToken,
            ("$s", status), ("$t", Now), ("$n", total), ("$k", retained), ("$l", log), ("$id", id)).ConfigureAwait(false);
    }

    public async Task<(IReadOnlyList<RetentionTask> Tasks, long Total)> ListTasksAsync(long executionId, int page, int pageSize, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        long total = await c.ScalarAsync<long>("SELECT COUNT(*) FROM retention_tasks WHERE execution_id = $e;", cancellationToken, ("$e", executionId)).ConfigureAwait(false);
        var list = await c.QueryAsync($"SELECT {TaskColumns} FROM retention_tasks WHERE execution_id = $e ORDER BY id LIMIT $n OFFSET $o;", ReadTask, cancellationToken,
            ("$e", executionId), ("$n", pageSize), ("$o", (long)(page - 1) * pageSize)).ConfigureAwait(false);
        return (list, total);
    }

    public async Task<string?> TaskLogAsync(long executionId, long taskId, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await c.ScalarAsync<string?>("SELECT log FROM retention_tasks WHERE id = $id AND execution_id = $e;", cancellationToken,
            ("$id", taskId), ("$e", executionId)).ConfigureAwait(false);
    }

    /// <summary>At start: a run still marked running was cut off when the last process stopped.</summary>
    public async Task FailInterruptedAsync(CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await c.ExecuteAsync("UPDATE retention_tasks SET status = 'Error', end_time = $t, log = log || 'interrupted: wharfd stopped during the task' || char(10) "
            + "WHERE status = 'Running';", cancellationToken, ("$t", Now)).ConfigureAwait(false);
        await c.ExecuteAsync("UPDATE retention_executions SET status = 'Error', end_time = $t WHERE status = 'Running';", cancellationToken, ("$t", Now)).ConfigureAwait(false);
    }

    private static string Serialize(IReadOnlyList<RetentionRule> rules) => JsonSerializer.Serialize(rules, RuleJson);

    private static RetentionPolicy ReadPolicy(DbDataReader r) => new(
        r.GetInt64(0), r.GetInt64(1), r.GetString(2), JsonSerializer.Deserialize<List<RetentionRule>>(r.GetString(3), RuleJson) ?? [],
        r.NullableString(4), r.Time(5), r.Time(6));

    private static RetentionExecution ReadExecution(DbDataReader r) => new(
        r.GetInt64(0), r.GetInt64(1), r.GetString(2), r.GetString(3), r.GetInt64(4) != 0, r.Time(5), r.IsDBNull(6) ? null : r.Time(6),
        r.GetInt64(7), r.GetInt64(8), r.NullableInt64(9), r.NullableInt64(10));

    private static RetentionTask ReadTask(DbDataReader r) => new(
        r.GetInt64(0), r.GetInt64(1), r.GetString(2), r.GetString(3), r.Time(4), r.IsDBNull(5) ? null : r.Time(5), r.GetInt32(6), r.GetInt32(7));

    private Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => database.OpenAsync(cancellationToken);
}
