using System.Text.Json;
using System.Data.Common;
using Wharf.Registry.Data;
using Wharf.Registry.Identity;
using Wharf.Registry.Metadata;

namespace Wharf.Registry.Webhooks;

/// <summary>
/// Webhook policies, executions and tasks in the registry database (tables in Data/Migrations.cs, migration 4).
/// The tasks still Pending or Running are the delivery queue: they survive a restart.
/// </summary>
public sealed class WebhookStore(RegistryDatabase database, TimeProvider time)
{
    private const string PolicyColumns = "w.id, w.project_id, w.name, w.description, w.targets, w.event_types, w.enabled, w.creator, w.creation_time, w.update_time";

    private const string ExecutionColumns = """
        e.id, e.policy_id, e.event_type, e.start_time,
        (SELECT MAX(end_time) FROM webhook_tasks t WHERE t.execution_id = e.id),
        (SELECT COUNT(*) FROM webhook_tasks t WHERE t.execution_id = e.id),
        (SELECT COUNT(*) FROM webhook_tasks t WHERE t.execution_id = e.id AND t.status = 'Success'),
        (SELECT COUNT(*) FROM webhook_tasks t WHERE t.execution_id = e.id AND t.status IN ('Error', 'Stopped')),
        (SELECT COUNT(*) FROM webhook_tasks t WHERE t.execution_id = e.id AND t.status IN ('Pending', 'Running'))
        """;

    private const string TaskColumns = "id, execution_id, address, status, status_message, run_count, creation_time, start_time, update_time, end_time";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly Lock _snapshotLock = new();
    private volatile IReadOnlyDictionary<string, IReadOnlyList<WebhookPolicy>>? _byProject;
    private long _generation;

    /// <summary>
    /// The enabled policies by project name, from memory after the first read: every pull asks whether
    /// anyone listens, and policies change only through this store.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<WebhookPolicy>>? CachedPolicies => _byProject;

    public async Task<IReadOnlyDictionary<string, IReadOnlyList<WebhookPolicy>>> EnabledPoliciesAsync(CancellationToken cancellationToken)
    {
        if (_byProject is { } cached)
        {
            return cached;
        }

        long generation = Interlocked.Read(ref _generation);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync(
            $"SELECT {PolicyColumns}, p.name FROM webhook_policies w JOIN projects p ON p.id = w.project_id WHERE w.enabled = 1 ORDER BY w.id;",
            r => (Policy: ReadPolicy(r), Project: r.GetString(10)), cancellationToken).ConfigureAwait(false);
        var read = rows.GroupBy(r => r.Project, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<WebhookPolicy>)g.Select(r => r.Policy).ToList(), StringComparer.Ordinal);
        lock (_snapshotLock)
        {
            if (_generation == generation)
            {
                _byProject = read;
            }
        }

        return read;
    }

    /// <summary>After a project is deleted (its policies go with it), or any policy change.</summary>
    public void PoliciesChanged()
    {
        lock (_snapshotLock)
        {
            _generation++;
            _byProject = null;
        }
    }

    public async Task<IReadOnlyList<WebhookPolicy>> ListPoliciesAsync(long projectId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.QueryAsync($"SELECT {PolicyColumns} FROM webhook_policies w WHERE w.project_id = $p ORDER BY w.id;", ReadPolicy, cancellationToken,
            ("$p", projectId)).ConfigureAwait(false);
    }

    public async Task<WebhookPolicy?> FindPolicyAsync(long projectId, long id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var list = await connection.QueryAsync($"SELECT {PolicyColumns} FROM webhook_policies w WHERE w.id = $id AND w.project_id = $p;", ReadPolicy, cancellationToken,
            ("$id", id), ("$p", projectId)).ConfigureAwait(false);
        return list.Count == 0 ? null : list[0];
    }

    /// <summary>Null when the project already has a policy of that name.</summary>
    public async Task<WebhookPolicy?> CreatePolicyAsync(WebhookPolicy policy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long id = await connection.ScalarAsync<long>(
                "INSERT INTO webhook_policies (project_id, name, description, targets, event_types, enabled, creator, creation_time, update_time) "
                + "VALUES ($p, $n, $d, $tg, $ev, $e, $c, $t, $t) RETURNING id;",
                cancellationToken, [.. Parameters(policy), ("$p", policy.ProjectId), ("$c", policy.Creator), ("$t", now)]).ConfigureAwait(false);
            PoliciesChanged();
            var at = DateTimeOffset.FromUnixTimeMilliseconds(now);
            return policy with { Id = id, CreatedAt = at, UpdatedAt = at };
        }
        catch (System.Data.Common.DbException e) when (Data.Sql.IsConstraintViolation(e))
        {
            return null;
        }
    }

    /// <summary>False when the policy is not the project's; null when the new name is taken.</summary>
    public async Task<bool?> UpdatePolicyAsync(WebhookPolicy policy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            bool updated = await connection.ExecuteAsync(
                "UPDATE webhook_policies SET name = $n, description = $d, targets = $tg, event_types = $ev, enabled = $e, update_time = $t "
                + "WHERE id = $id AND project_id = $p;",
                cancellationToken, [.. Parameters(policy), ("$t", time.GetUtcNow().ToUnixTimeMilliseconds()), ("$id", policy.Id), ("$p", policy.ProjectId)]).ConfigureAwait(false) == 1;
            PoliciesChanged();
            return updated;
        }
        catch (System.Data.Common.DbException e) when (Data.Sql.IsConstraintViolation(e))
        {
            return null;
        }
    }

    /// <summary>Deletes the policy with its executions and their tasks (pending deliveries are dropped).</summary>
    public async Task<bool> DeletePolicyAsync(long projectId, long id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        bool deleted = await connection.ExecuteAsync("DELETE FROM webhook_policies WHERE id = $id AND project_id = $p;", cancellationToken,
            ("$id", id), ("$p", projectId)).ConfigureAwait(false) == 1;
        PoliciesChanged();
        return deleted;
    }

    /// <summary>
    /// Records one event for one policy: an execution and a Pending task per target, in one transaction,
    /// so the deliveries are durable before anything is sent. Returns the tasks to send.
    /// </summary>
    public async Task<IReadOnlyList<WebhookDelivery>> EnqueueAsync(
        long policyId, string eventType, IReadOnlyList<(WebhookTarget Target, string ContentType, byte[] Payload)> deliveries, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deliveries);
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = (DbTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        long? executionId = await connection.ScalarAsync<long?>(
            "INSERT INTO webhook_executions (policy_id, event_type, start_time) SELECT $p, $ev, $t WHERE EXISTS (SELECT 1 FROM webhook_policies WHERE id = $p) RETURNING id;",
            cancellationToken, ("$p", policyId), ("$ev", eventType), ("$t", now)).ConfigureAwait(false);
        if (executionId is not { } execution)
        {
            return []; // the policy was deleted meanwhile
        }

        var tasks = new List<WebhookDelivery>();
        foreach (var (target, contentType, payload) in deliveries)
        {
            long id = await connection.ScalarAsync<long>(
                "INSERT INTO webhook_tasks (execution_id, address, auth_header, skip_cert_verify, payload_format, content_type, payload, status, creation_time, update_time) "
                + "VALUES ($e, $a, $h, $s, $f, $ct, $b, 'Pending', $t, $t) RETURNING id;",
                cancellationToken, ("$e", execution), ("$a", target.Address), ("$h", target.AuthHeader), ("$s", target.SkipCertVerify ? 1 : 0),
                ("$f", target.PayloadFormat), ("$ct", contentType), ("$b", payload), ("$t", now)).ConfigureAwait(false);
            tasks.Add(new WebhookDelivery(id, target.Address, target.AuthHeader, target.SkipCertVerify, contentType, payload, 0));
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return tasks;
    }

    /// <summary>
    /// At start: deliveries an earlier process left unfinished. A Running one was cut off mid-attempt;
    /// it is sent again (a receiver may see it twice, as with any retry).
    /// </summary>
    public async Task<IReadOnlyList<WebhookDelivery>> UnfinishedAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE webhook_tasks SET status = 'Pending' WHERE status = 'Running';", cancellationToken).ConfigureAwait(false);
        return await connection.QueryAsync(
            "SELECT id, address, auth_header, skip_cert_verify, content_type, payload, run_count FROM webhook_tasks WHERE status = 'Pending' ORDER BY id;",
            r => new WebhookDelivery(r.GetInt64(0), r.GetString(1), r.NullableString(2), r.GetInt64(3) != 0, r.GetString(4), (byte[])r.GetValue(5), r.GetInt32(6)),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An attempt starts: Running, one more run. False when the task is gone (its policy was deleted).</summary>
    public async Task<bool> StartAttemptAsync(long taskId, CancellationToken cancellationToken)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            "UPDATE webhook_tasks SET status = 'Running', run_count = run_count + 1, start_time = COALESCE(start_time, $t), update_time = $t WHERE id = $id;",
            cancellationToken, ("$t", now), ("$id", taskId)).ConfigureAwait(false) == 1;
    }

    /// <summary>An attempt ended: its log line, and the task's new state (Pending again while retries remain).</summary>
    public async Task FinishAttemptAsync(long taskId, string status, string? message, string logLine, CancellationToken cancellationToken)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        bool final = status is not WebhookStatus.Pending;
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "UPDATE webhook_tasks SET status = $s, status_message = $m, update_time = $t, end_time = CASE WHEN $f = 1 THEN $t ELSE NULL END, "
            + "log = log || $l || char(10) WHERE id = $id;",
            cancellationToken, ("$s", status), ("$m", message), ("$t", now), ("$f", final ? 1 : 0), ("$l", logLine), ("$id", taskId)).ConfigureAwait(false);
    }

    public async Task<(IReadOnlyList<WebhookExecution> Executions, long Total)> ListExecutionsAsync(long policyId, int page, int pageSize, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        long total = await connection.ScalarAsync<long>("SELECT COUNT(*) FROM webhook_executions WHERE policy_id = $p;", cancellationToken, ("$p", policyId)).ConfigureAwait(false);
        var list = await connection.QueryAsync(
            $"SELECT {ExecutionColumns} FROM webhook_executions e WHERE e.policy_id = $p ORDER BY e.id DESC LIMIT $n OFFSET $o;", ReadExecution, cancellationToken,
            ("$p", policyId), ("$n", pageSize), ("$o", (long)(page - 1) * pageSize)).ConfigureAwait(false);
        return (list, total);
    }

    public async Task<WebhookExecution?> FindExecutionAsync(long policyId, long id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var list = await connection.QueryAsync($"SELECT {ExecutionColumns} FROM webhook_executions e WHERE e.id = $id AND e.policy_id = $p;", ReadExecution,
            cancellationToken, ("$id", id), ("$p", policyId)).ConfigureAwait(false);
        return list.Count == 0 ? null : list[0];
    }

    public async Task<IReadOnlyList<WebhookTask>> ListTasksAsync(long executionId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.QueryAsync($"SELECT {TaskColumns} FROM webhook_tasks WHERE execution_id = $e ORDER BY id;", ReadTask, cancellationToken,
            ("$e", executionId)).ConfigureAwait(false);
    }

    /// <summary>The task's attempt log, or null when the execution has no such task.</summary>
    public async Task<string?> TaskLogAsync(long executionId, long taskId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ScalarAsync<string?>("SELECT log FROM webhook_tasks WHERE id = $id AND execution_id = $e;", cancellationToken,
            ("$id", taskId), ("$e", executionId)).ConfigureAwait(false);
    }

    /// <summary>Keeps the newest <paramref name="keep"/> executions of a policy whose tasks are all finished.</summary>
    public async Task PruneAsync(long policyId, int keep, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "DELETE FROM webhook_executions WHERE policy_id = $p AND id <= (SELECT id FROM webhook_executions WHERE policy_id = $p ORDER BY id DESC LIMIT 1 OFFSET $k) "
            + "AND NOT EXISTS (SELECT 1 FROM webhook_tasks t WHERE t.execution_id = webhook_executions.id AND t.status IN ('Pending', 'Running'));",
            cancellationToken, ("$p", policyId), ("$k", keep)).ConfigureAwait(false);
    }

    private static (string, object?)[] Parameters(WebhookPolicy p) =>
    [
        ("$n", p.Name), ("$d", p.Description), ("$tg", JsonSerializer.Serialize(p.Targets, Json)), ("$ev", JsonSerializer.Serialize(p.EventTypes, Json)),
        ("$e", p.Enabled ? 1 : 0),
    ];

    private static WebhookPolicy ReadPolicy(DbDataReader r) => new(
        r.GetInt64(0), r.GetInt64(1), r.GetString(2), r.NullableString(3),
        JsonSerializer.Deserialize<List<WebhookTarget>>(r.GetString(4), Json) ?? [], JsonSerializer.Deserialize<List<string>>(r.GetString(5), Json) ?? [],
        r.GetInt64(6) != 0, r.GetString(7), r.Time(8), r.Time(9));

    private static WebhookExecution ReadExecution(DbDataReader r)
    {
        int total = r.GetInt32(5), succeeded = r.GetInt32(6), failed = r.GetInt32(7), inProgress = r.GetInt32(8);
        string status = inProgress > 0 ? WebhookStatus.Running : failed > 0 ? WebhookStatus.Error : WebhookStatus.Success;
        return new WebhookExecution(r.GetInt64(0), r.GetInt64(1), r.GetString(2), status, r.Time(3),
            inProgress > 0 || r.IsDBNull(4) ? null : r.Time(4), total, succeeded, failed, inProgress);
    }

    private static WebhookTask ReadTask(DbDataReader r) => new(
        r.GetInt64(0), r.GetInt64(1), r.GetString(2), r.GetString(3), r.NullableString(4), r.GetInt32(5), r.Time(6),
        r.IsDBNull(7) ? null : r.Time(7), r.Time(8), r.IsDBNull(9) ? null : r.Time(9));

    private async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        return await database.OpenAsync(cancellationToken).ConfigureAwait(false);
    }
}
