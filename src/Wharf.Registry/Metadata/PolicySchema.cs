using Microsoft.Data.Sqlite;
using Wharf.Registry.Identity;

namespace Wharf.Registry.Metadata;

/// <summary>
/// The tables of tag retention and audit purge, in the registry's SQLite file (the same file as the
/// projects they belong to, so a project's policy goes with it). Created idempotently on first use
/// by their stores; kept together here so they can move into a numbered migration list as one step.
/// Times are Unix seconds, as in the replication tables.
/// <code>
/// retention_policies    one per project (Harbor's RetentionPolicy): algorithm, rules as JSON, cron or none
/// retention_executions  a run: trigger, dry run, status, artifacts removed, project usage released,
///                       and the GC run that followed with the bytes it freed
/// retention_tasks       one per repository a run looked at: candidates, retained, the decision log
/// audit_purge_schedule  at most one row: the audit log's purge schedule and retention window
/// audit_purge_runs      each purge: trigger, window, dry run, status, rows deleted, log
/// </code>
/// </summary>
internal static class PolicySchema
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS retention_policies (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            project_id INTEGER NOT NULL UNIQUE REFERENCES projects(id) ON DELETE CASCADE,
            algorithm TEXT NOT NULL,
            rules TEXT NOT NULL,
            cron TEXT,
            creation_time INTEGER NOT NULL,
            update_time INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS retention_executions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            policy_id INTEGER NOT NULL REFERENCES retention_policies(id) ON DELETE CASCADE,
            status TEXT NOT NULL,
            trigger TEXT NOT NULL,
            dry_run INTEGER NOT NULL,
            start_time INTEGER NOT NULL,
            end_time INTEGER,
            removed INTEGER NOT NULL DEFAULT 0,
            released_bytes INTEGER NOT NULL DEFAULT 0,
            gc_run_id INTEGER,
            gc_bytes_freed INTEGER);
        CREATE INDEX IF NOT EXISTS retention_executions_policy ON retention_executions(policy_id, id);
        CREATE TABLE IF NOT EXISTS retention_tasks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            execution_id INTEGER NOT NULL REFERENCES retention_executions(id) ON DELETE CASCADE,
            repository TEXT NOT NULL,
            status TEXT NOT NULL,
            start_time INTEGER NOT NULL,
            end_time INTEGER,
            total INTEGER NOT NULL DEFAULT 0,
            retained INTEGER NOT NULL DEFAULT 0,
            log TEXT NOT NULL DEFAULT '');
        CREATE INDEX IF NOT EXISTS retention_tasks_execution ON retention_tasks(execution_id, id);
        CREATE TABLE IF NOT EXISTS audit_purge_schedule (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            type TEXT NOT NULL,
            cron TEXT,
            retention_hours INTEGER NOT NULL,
            operations TEXT,
            update_time INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS audit_purge_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            trigger TEXT NOT NULL,
            dry_run INTEGER NOT NULL,
            status TEXT NOT NULL,
            retention_hours INTEGER NOT NULL,
            operations TEXT,
            start_time INTEGER NOT NULL,
            end_time INTEGER,
            deleted INTEGER NOT NULL DEFAULT 0,
            log TEXT NOT NULL DEFAULT '');
        """;

    /// <summary>Opens a connection to the registry database once these tables exist.</summary>
    public static async Task<SqliteConnection> OpenAsync(IdentityDatabase database, Lazy<Task> created, CancellationToken cancellationToken)
    {
        await created.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        return await database.OpenAsync(cancellationToken).ConfigureAwait(false);
    }

    public static Lazy<Task> Creator(IdentityDatabase database) => new(async () =>
    {
        await using var connection = await database.OpenAsync(CancellationToken.None).ConfigureAwait(false);
        await connection.ExecuteAsync(Schema, CancellationToken.None).ConfigureAwait(false);
    });
}
