namespace Wharf.Registry.Metadata;

/// <summary>
/// The webhook tables, in the registry database next to <c>projects</c> (a policy goes with its
/// project). Created idempotently on first use by <see cref="Webhooks.WebhookStore"/>; kept together
/// here so they can join the numbered migration list as one step.
/// <code>
/// webhook_policies    Harbor's WebhookPolicy: project, name, targets and event types as JSON arrays
/// webhook_executions  one event for one policy (Harbor's execution): event type, when
/// webhook_tasks       one delivery of that event to one target (Harbor's task): the exact payload,
///                     where it goes, its state, how many attempts ran and a line per attempt (log).
///                     Tasks still Pending or Running are the persisted delivery queue.
/// </code>
/// </summary>
internal static class WebhookSchema
{
    public const string Sql = """
        CREATE TABLE IF NOT EXISTS webhook_policies (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            description TEXT,
            targets TEXT NOT NULL,
            event_types TEXT NOT NULL,
            enabled INTEGER NOT NULL,
            creator TEXT NOT NULL,
            creation_time INTEGER NOT NULL,
            update_time INTEGER NOT NULL,
            UNIQUE (project_id, name));
        CREATE TABLE IF NOT EXISTS webhook_executions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            policy_id INTEGER NOT NULL REFERENCES webhook_policies(id) ON DELETE CASCADE,
            event_type TEXT NOT NULL,
            start_time INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS webhook_executions_policy ON webhook_executions(policy_id, id);
        CREATE TABLE IF NOT EXISTS webhook_tasks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            execution_id INTEGER NOT NULL REFERENCES webhook_executions(id) ON DELETE CASCADE,
            address TEXT NOT NULL,
            auth_header TEXT,
            skip_cert_verify INTEGER NOT NULL,
            payload_format TEXT NOT NULL,
            content_type TEXT NOT NULL,
            payload BLOB NOT NULL,
            status TEXT NOT NULL,
            status_message TEXT,
            run_count INTEGER NOT NULL DEFAULT 0,
            creation_time INTEGER NOT NULL,
            start_time INTEGER,
            update_time INTEGER NOT NULL,
            end_time INTEGER,
            log TEXT NOT NULL DEFAULT '');
        CREATE INDEX IF NOT EXISTS webhook_tasks_execution ON webhook_tasks(execution_id, id);
        CREATE INDEX IF NOT EXISTS webhook_tasks_queue ON webhook_tasks(status) WHERE status IN ('Pending', 'Running');
        """;
}
