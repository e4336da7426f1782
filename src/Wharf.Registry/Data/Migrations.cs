using System.Data.Common;

namespace Wharf.Registry.Data;

/// <summary>
/// One schema step: applied once, in its own transaction, recorded in <c>schema_migrations</c>.
/// <see cref="Sql"/> runs first, then <see cref="Code"/> for what SQL alone cannot say.
/// </summary>
public sealed record Migration(int Version, string Description, string Sql, Func<DbConnection, CancellationToken, Task>? Code = null);

/// <summary>
/// Every table of <c>registry.db</c>, as one numbered list. A new table or column is a new entry at
/// the end with the next number; an entry that has shipped is never edited (a database that ran it
/// will not run it again). Times are Unix milliseconds in INTEGER columns, everywhere.
/// <code>
/// repositories        one row per repository (name, project = first path component)
/// blobs               every committed blob's digest and size (content lives in the blob store)
/// repository_blobs    which repository may serve which blob (upload, mount, manifest push)
/// manifests           manifest bytes exactly as pushed, media type, artifactType, subject
/// manifest_references parent manifest → child blob or manifest, for deletes and GC
/// tags                repository, tag → manifest digest
/// uploads             upload sessions: repository, bytes acknowledged, last activity (the bytes are in uploads/)
/// released_blob_links links whose quota charge a manifest delete released
/// gc_runs             garbage collection runs: when, dry run or not, status, what was removed (log)
/// immutable_tag_rules a project's immutable tag rules (Policies/ImmutableTagRule.cs)
/// artifact_pulls      pull counts and last pull per manifest (written in batches)
/// users, projects, project_members, robots, configurations          accounts and Harbor's projects
/// directory_users, user_groups, project_member_groups, directory_user_groups   LDAP login and groups
/// portal_sessions     the portal's cookie sessions (hashed ids)
/// retention_policies    one per project (Harbor's RetentionPolicy): algorithm, rules as JSON, cron or none
/// retention_executions  a run: trigger, dry run, status, artifacts removed, project usage released,
///                       and the GC run that followed with the bytes it freed
/// retention_tasks       one per repository a run looked at: candidates, retained, the decision log
/// audit_purge_schedule  at most one row: the audit log's purge schedule and retention window
/// audit_purge_runs      each purge: trigger, window, dry run, status, rows deleted, log
/// webhook_policies    Harbor's WebhookPolicy: project, name, targets and event types as JSON arrays
/// webhook_executions  one event for one policy (Harbor's execution): event type, when
/// webhook_tasks       one delivery of that event to one target (Harbor's task): the exact payload, its
///                     state, attempts and a line per attempt; Pending/Running tasks are the delivery queue
/// labels, artifact_labels  Harbor's labels (global or per project) and the artifacts that carry them
/// audit_log           Harbor's audit log
/// replication_policies, replication_executions, replication_tasks   replication
/// proxy_registries, proxy_projects, proxy_pulls                     proxy-cache projects
/// leases              singleton jobs (scheduled GC, retention, audit purge): which instance runs them, until when
/// blob_pins           an upload commit about to link a blob (GC keeps the blob while a live pin exists)
/// blob_deletions      GC deleting a blob's file (a commit waits for it instead of trusting the file)
/// shared_store_projects  projects whose pushed images wharfd publishes into the shared image store
/// shared_store_images    each name wharfd published there (or failed to): tag, digest, state, error
/// instances           each wharfd serving a PostgreSQL database: host, PID, last heartbeat, until when it counts as live
/// project_blobs, project_usage   (unused since quotas are computed; kept for databases that have them)
/// </code>
/// </summary>
public static class Migrations
{
    public static IReadOnlyList<Migration> All { get; } =
    [
        // 1: the tables as wharfd created them before this list existed, every statement idempotent, so
        // a database made by an earlier wharfd (metadata schema version 1 or 2, identity tables with or
        // without their later columns) comes out the same as a new one.
        new(1, "baseline: every table as of the first numbered schema", BaselineSql, BaselineFixupsAsync),

        // 2: one time unit. The identity, portal, replication and proxy tables kept Unix seconds; the
        // metadata and audit tables milliseconds. Now everything is milliseconds (a robot's
        // expires_at too; -1 still means never).
        new(2, "timestamps in Unix milliseconds", """
            UPDATE users SET creation_time = creation_time * 1000, update_time = update_time * 1000;
            UPDATE projects SET creation_time = creation_time * 1000, update_time = update_time * 1000;
            UPDATE project_members SET creation_time = creation_time * 1000, update_time = update_time * 1000;
            UPDATE robots SET creation_time = creation_time * 1000, update_time = update_time * 1000,
                expires_at = CASE WHEN expires_at < 0 THEN expires_at ELSE expires_at * 1000 END;
            UPDATE directory_users SET groups_read_at = groups_read_at * 1000;
            UPDATE user_groups SET creation_time = creation_time * 1000, update_time = update_time * 1000;
            UPDATE project_member_groups SET creation_time = creation_time * 1000, update_time = update_time * 1000;
            UPDATE portal_sessions SET expires_at = expires_at * 1000;
            UPDATE replication_policies SET creation_time = creation_time * 1000, update_time = update_time * 1000;
            UPDATE replication_executions SET start_time = start_time * 1000, end_time = end_time * 1000;
            UPDATE replication_tasks SET start_time = start_time * 1000, end_time = end_time * 1000;
            UPDATE proxy_registries SET creation_time = creation_time * 1000, update_time = update_time * 1000;
            UPDATE proxy_pulls SET last_pull = last_pull * 1000;
            """),

        // 3: an upload session's state is its row: the bytes acknowledged so far (NULL for sessions
        // an earlier wharfd opened: their data file's length) and the last activity, by which an
        // abandoned session expires.
        new(3, "upload sessions keep their size and last activity", """
            ALTER TABLE uploads ADD COLUMN size INTEGER;
            ALTER TABLE uploads ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
            UPDATE uploads SET updated_at = created_at;
            CREATE INDEX ix_uploads_updated_at ON uploads(updated_at);
            """),

        // 4: webhooks (Webhooks/, docs/policies.md): policies per project, one execution per event and
        // policy, one task per delivery to a target (the persisted delivery queue).
        new(4, "webhook policies, executions and delivery tasks", """
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
            """),

        // 5: an upstream endpoint may name the CA its TLS certificate must chain to (PEM).
        new(5, "proxy and replication endpoints: a CA certificate each", """
            ALTER TABLE proxy_registries ADD COLUMN ca_certificate TEXT;
            """),

        // 6: tag retention (Retention/) and the audit log's purge schedule and history (Audit/AuditPurge*).
        new(6, "retention policies, runs and tasks; audit purge schedule and runs", """
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
            """),

        // 7: Harbor's labels (Labels/, docs/registry.md "Labels"): global (scope g, no project) and
        // project labels (scope p), and which artifact carries which. An artifact's labels go with
        // its manifest row (a foreign key), a label's with the label.
        new(7, "labels and artifact labels", """
            CREATE TABLE IF NOT EXISTS labels (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL,
                description TEXT NOT NULL DEFAULT '',
                color TEXT NOT NULL DEFAULT '',
                scope TEXT NOT NULL,
                project_id INTEGER REFERENCES projects(id) ON DELETE CASCADE,
                creation_time INTEGER NOT NULL,
                update_time INTEGER NOT NULL);
            CREATE UNIQUE INDEX IF NOT EXISTS labels_scope_name ON labels(scope, COALESCE(project_id, 0), name);
            CREATE TABLE IF NOT EXISTS artifact_labels (
                label_id INTEGER NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
                repository_id INTEGER NOT NULL,
                digest TEXT NOT NULL,
                creation_time INTEGER NOT NULL,
                PRIMARY KEY (label_id, repository_id, digest),
                FOREIGN KEY (repository_id, digest) REFERENCES manifests(repository_id, digest) ON DELETE CASCADE);
            CREATE INDEX IF NOT EXISTS artifact_labels_artifact ON artifact_labels(repository_id, digest);
            """),

        // 8: what several wharfd instances sharing one database coordinate through (docs/registry.md,
        // "Several instances"). A lease names the instance that runs a singleton job until it expires;
        // a pin says an upload is about to link a blob, a deletion mark that GC is about to delete one.
        new(8, "leases for singleton jobs; blob pins and deletion marks between upload commits and GC", """
            CREATE TABLE IF NOT EXISTS leases (
                name TEXT PRIMARY KEY,
                holder TEXT NOT NULL,
                expires_at INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS blob_pins (
                digest TEXT NOT NULL,
                holder TEXT NOT NULL,
                expires_at INTEGER NOT NULL,
                PRIMARY KEY (digest, holder));
            CREATE TABLE IF NOT EXISTS blob_deletions (
                digest TEXT PRIMARY KEY,
                started_at INTEGER NOT NULL);
            """),

        // 9: the registry as the gateway into a shared image store (docs/shared-store.md, "Publishing
        // from the registry"): which projects publish, and one row per name wharfd published or tried to.
        new(9, "projects that publish to the shared image store; the names published there", """
            CREATE TABLE IF NOT EXISTS shared_store_projects (
                project_id INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE);
            CREATE TABLE IF NOT EXISTS shared_store_images (
                name TEXT PRIMARY KEY,
                repository TEXT NOT NULL,
                tag TEXT NOT NULL,
                digest TEXT NOT NULL,
                state TEXT NOT NULL,
                error TEXT,
                update_time INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS ix_shared_store_images_repository ON shared_store_images(repository, tag);
            """),
        // 10: SQLite compares the columns declared COLLATE NOCASE without regard to case, in their
        // UNIQUE constraints too; PostgreSqlDialect drops a column's collation, so on PostgreSQL an
        // LDAP group's DN and a replication policy's name get the case-blind unique index (on lower())
        // their SQLite column already has. The stores compare those columns with an explicit
        // COLLATE NOCASE, which both databases read the same way.
        new(10, "PostgreSQL: case-blind unique LDAP group DNs and replication policy names, as SQLite's NOCASE columns", "", CaseBlindColumnsAsync),
        new(11, "PostgreSQL: every text column compares and sorts in byte order (COLLATE \"C\"), as SQLite's BINARY columns", "", ByteOrderTextAsync),

        // 12: system admin through the directory's admin group (ldap_group_admin_dn) is kept apart from the
        // local flag: directory_users.group_admin says what the person's groups said when last read, and is
        // evaluated again at each read. Earlier versions set users.sysadmin for such members, for good;
        // those grants move over (Identity/Ldap/DirectoryAccounts.cs), so leaving the group now takes them back.
        new(12, "directory accounts: admin through the directory's admin group, apart from the local sysadmin flag", """
            ALTER TABLE directory_users ADD COLUMN group_admin INTEGER NOT NULL DEFAULT 0;
            """, (connection, cancellationToken) => Identity.Ldap.DirectoryAccounts.SeparateGroupAdminsAsync(connection, cancellationToken)),

        // 13: "is this manifest a child of an index?" (the artifact list's top-level test, run once per manifest
        // of a repository) names repository, child and kind. SQLite, without statistics, answered it from the
        // primary key's repository prefix, reading every reference of the repository once per manifest: a
        // repository of 10,000 artifacts took minutes to count. An index with all three columns covers it.
        new(13, "manifest references: an index covering repository, child and kind (the artifact list's top-level test)", """
            CREATE INDEX IF NOT EXISTS ix_manifest_references_child_kind ON manifest_references(repository_id, child, child_is_manifest);
            DROP INDEX IF EXISTS ix_manifest_references_child;
            """),

        // 14: the instances serving a shared (PostgreSQL) database, each with a heartbeat, so an offline
        // gc or fsck can prove that none is live before it drops GC's grace (Data/InstanceHeartbeat.cs).
        new(14, "instances serving the database, with a heartbeat (offline gc/fsck refuse while one is live)", """
            CREATE TABLE IF NOT EXISTS instances (
                id TEXT PRIMARY KEY,
                host TEXT NOT NULL,
                pid INTEGER NOT NULL,
                started_at INTEGER NOT NULL,
                seen_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL);
            """),
    ];

    private const string BaselineSql = """
        CREATE TABLE IF NOT EXISTS repositories(
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            project TEXT NOT NULL,
            created_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_repositories_project ON repositories(project, name);
        CREATE TABLE IF NOT EXISTS blobs(
            digest TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            created_at INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS repository_blobs(
            repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
            digest TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY(repository_id, digest)) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS ix_repository_blobs_digest ON repository_blobs(digest);
        CREATE TABLE IF NOT EXISTS manifests(
            repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
            digest TEXT NOT NULL,
            media_type TEXT NOT NULL,
            artifact_type TEXT,
            size INTEGER NOT NULL,
            content BLOB NOT NULL,
            subject TEXT,
            annotations TEXT,
            created_at INTEGER NOT NULL,
            PRIMARY KEY(repository_id, digest)) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS ix_manifests_subject ON manifests(repository_id, subject) WHERE subject IS NOT NULL;
        CREATE TABLE IF NOT EXISTS manifest_references(
            repository_id INTEGER NOT NULL,
            parent TEXT NOT NULL,
            child TEXT NOT NULL,
            child_is_manifest INTEGER NOT NULL,
            PRIMARY KEY(repository_id, parent, child)) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS ix_manifest_references_child ON manifest_references(repository_id, child);
        CREATE TABLE IF NOT EXISTS tags(
            repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            digest TEXT NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY(repository_id, name)) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS ix_tags_digest ON tags(repository_id, digest);
        CREATE TABLE IF NOT EXISTS uploads(
            id TEXT PRIMARY KEY,
            repository TEXT NOT NULL,
            created_at INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS project_blobs(
            project TEXT NOT NULL,
            digest TEXT NOT NULL,
            size INTEGER NOT NULL,
            refs INTEGER NOT NULL,
            PRIMARY KEY(project, digest)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS project_usage(
            project TEXT PRIMARY KEY,
            bytes INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS released_blob_links(
            repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
            digest TEXT NOT NULL,
            PRIMARY KEY(repository_id, digest)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS gc_runs(
            id INTEGER PRIMARY KEY,
            dry_run INTEGER NOT NULL,
            status TEXT NOT NULL,
            trigger TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            blobs_removed INTEGER NOT NULL DEFAULT 0,
            bytes_freed INTEGER NOT NULL DEFAULT 0,
            log TEXT NOT NULL DEFAULT '');
        CREATE TABLE IF NOT EXISTS immutable_tag_rules(
            id INTEGER PRIMARY KEY,
            project TEXT NOT NULL,
            project_id INTEGER NOT NULL,
            priority INTEGER NOT NULL DEFAULT 0,
            disabled INTEGER NOT NULL DEFAULT 0,
            tag_pattern TEXT NOT NULL,
            tag_excludes INTEGER NOT NULL DEFAULT 0,
            repo_pattern TEXT NOT NULL,
            repo_excludes INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_immutable_tag_rules_project ON immutable_tag_rules(project);
        CREATE INDEX IF NOT EXISTS ix_immutable_tag_rules_project_id ON immutable_tag_rules(project_id);
        CREATE TABLE IF NOT EXISTS artifact_pulls(
            repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
            digest TEXT NOT NULL,
            pull_count INTEGER NOT NULL,
            last_pull INTEGER NOT NULL,
            PRIMARY KEY(repository_id, digest)) WITHOUT ROWID;

        CREATE TABLE IF NOT EXISTS users (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            username TEXT NOT NULL UNIQUE,
            email TEXT,
            realname TEXT,
            comment TEXT,
            password_hash TEXT,
            sysadmin INTEGER NOT NULL DEFAULT 0,
            disabled INTEGER NOT NULL DEFAULT 0,
            token_generation INTEGER NOT NULL DEFAULT 0,
            creation_time INTEGER NOT NULL,
            update_time INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS projects (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            public INTEGER NOT NULL DEFAULT 0,
            owner_id INTEGER,
            storage_limit INTEGER,
            creation_time INTEGER NOT NULL,
            update_time INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS project_members (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            role INTEGER NOT NULL,
            creation_time INTEGER NOT NULL,
            update_time INTEGER NOT NULL,
            UNIQUE (project_id, user_id));
        CREATE INDEX IF NOT EXISTS project_members_user ON project_members(user_id);
        CREATE TABLE IF NOT EXISTS robots (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            description TEXT,
            secret_hash TEXT NOT NULL,
            access INTEGER NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            duration_days INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            token_generation INTEGER NOT NULL DEFAULT 0,
            creation_time INTEGER NOT NULL,
            update_time INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS robots_project ON robots(project_id);
        CREATE TABLE IF NOT EXISTS configurations (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS directory_users (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            dn TEXT NOT NULL,
            groups TEXT NOT NULL,
            groups_read_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS user_groups (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            group_name TEXT NOT NULL,
            group_type INTEGER NOT NULL,
            ldap_group_dn TEXT NOT NULL UNIQUE COLLATE NOCASE,
            creation_time INTEGER NOT NULL,
            update_time INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS project_member_groups (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            group_id INTEGER NOT NULL REFERENCES user_groups(id) ON DELETE CASCADE,
            role INTEGER NOT NULL,
            creation_time INTEGER NOT NULL,
            update_time INTEGER NOT NULL,
            UNIQUE (project_id, group_id));
        CREATE TABLE IF NOT EXISTS directory_user_groups (
            user_id INTEGER NOT NULL REFERENCES directory_users(user_id) ON DELETE CASCADE,
            group_dn TEXT NOT NULL COLLATE NOCASE,
            group_name TEXT NOT NULL,
            PRIMARY KEY (user_id, group_dn));
        CREATE INDEX IF NOT EXISTS directory_user_groups_dn ON directory_user_groups(group_dn);
        CREATE TABLE IF NOT EXISTS portal_sessions (
            id_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            generation INTEGER NOT NULL,
            expires_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS portal_sessions_user ON portal_sessions(user_id);

        CREATE TABLE IF NOT EXISTS audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            op_time INTEGER NOT NULL,
            username TEXT NOT NULL,
            operation TEXT NOT NULL,
            resource_type TEXT NOT NULL,
            resource TEXT NOT NULL,
            project TEXT,
            success INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS audit_log_time ON audit_log(op_time);
        CREATE INDEX IF NOT EXISTS audit_log_project_time ON audit_log(project, op_time);

        CREATE TABLE IF NOT EXISTS replication_policies (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            description TEXT,
            src_registry_id INTEGER,
            dest_registry_id INTEGER,
            dest_namespace TEXT,
            dest_namespace_replace_count INTEGER NOT NULL DEFAULT -1,
            trigger_type TEXT NOT NULL,
            cron TEXT,
            filters TEXT NOT NULL,
            deletion INTEGER NOT NULL,
            override INTEGER NOT NULL,
            enabled INTEGER NOT NULL,
            speed INTEGER NOT NULL DEFAULT -1,
            copy_by_chunk INTEGER NOT NULL DEFAULT 0,
            creation_time INTEGER NOT NULL,
            update_time INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS replication_executions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            policy_id INTEGER NOT NULL REFERENCES replication_policies(id) ON DELETE CASCADE,
            status TEXT NOT NULL,
            status_text TEXT,
            trigger TEXT NOT NULL,
            start_time INTEGER NOT NULL,
            end_time INTEGER);
        CREATE INDEX IF NOT EXISTS replication_executions_policy ON replication_executions(policy_id, id);
        CREATE TABLE IF NOT EXISTS replication_tasks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            execution_id INTEGER NOT NULL REFERENCES replication_executions(id) ON DELETE CASCADE,
            src_resource TEXT NOT NULL,
            dst_resource TEXT NOT NULL,
            operation TEXT NOT NULL,
            status TEXT NOT NULL,
            start_time INTEGER NOT NULL,
            end_time INTEGER,
            bytes INTEGER NOT NULL DEFAULT 0,
            blobs_copied INTEGER NOT NULL DEFAULT 0,
            blobs_skipped INTEGER NOT NULL DEFAULT 0,
            log TEXT NOT NULL DEFAULT '');
        CREATE INDEX IF NOT EXISTS replication_tasks_execution ON replication_tasks(execution_id, id);

        CREATE TABLE IF NOT EXISTS proxy_registries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            url TEXT NOT NULL,
            description TEXT,
            insecure INTEGER NOT NULL DEFAULT 0,
            access_key TEXT,
            access_secret TEXT,
            creation_time INTEGER NOT NULL,
            update_time INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS proxy_projects (
            project_id INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
            registry_id INTEGER NOT NULL REFERENCES proxy_registries(id));
        CREATE TABLE IF NOT EXISTS proxy_pulls (
            repository TEXT NOT NULL,
            digest TEXT NOT NULL,
            is_index INTEGER NOT NULL,
            last_pull INTEGER NOT NULL,
            PRIMARY KEY (repository, digest));
        """;

    /// <summary>
    /// What databases of earlier versions may lack: the token generation counters (a refresh token
    /// names the generation it was issued in), names unique without regard to case, and directory
    /// groups as rows instead of one text column. The case-blind unique indexes cannot be built while
    /// an older database holds names that differ only in case; those accounts keep working, and the
    /// stores still refuse any new such name (they check before inserting).
    /// </summary>
    private static async Task CaseBlindColumnsAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        if (connection is not PostgreSqlConnection)
        {
            return; // the columns' own COLLATE NOCASE does it
        }

        foreach (var (index, table, column) in new[] { ("user_groups_dn_nocase", "user_groups", "ldap_group_dn"), ("replication_policies_name_nocase", "replication_policies", "name") })
        {
            await connection.ExecuteAsync($"CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {table}({column} COLLATE NOCASE);", cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// SQLite compares text byte by byte (BINARY); PostgreSQL by the database's collation, which for a
    /// database created under a locale such as en_US.UTF-8 puts "B" after "a" and skips punctuation:
    /// the catalog's and tag list's pages (<c>ORDER BY name</c>, <c>name &gt; last</c>) then came out
    /// in another order, and a client paging with <c>last=</c> skipped or repeated names. Every text
    /// column gets the "C" collation (byte order of UTF-8, which is code point order), whatever the
    /// database's default; new columns get it from <see cref="PostgreSqlDialect"/>. The type stays
    /// text, so no table is rewritten; the indexes on these columns are rebuilt.
    /// </summary>
    private static async Task ByteOrderTextAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        if (connection is not PostgreSqlConnection)
        {
            return; // SQLite's columns are BINARY (or NOCASE, which is BINARY after ASCII case folding)
        }

        var columns = await connection.QueryAsync("""
            SELECT c.table_name, c.column_name FROM information_schema.columns c
            JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
            WHERE c.table_schema = current_schema() AND c.data_type = 'text' AND (c.collation_name IS NULL OR c.collation_name <> 'C')
            ORDER BY c.table_name, c.ordinal_position
            """, r => (Table: r.GetString(0), Column: r.GetString(1)), cancellationToken).ConfigureAwait(false);
        foreach (var group in columns.GroupBy(c => c.Table))
        {
            string alterations = string.Join(", ", group.Select(c => $"ALTER COLUMN \"{c.Column}\" TYPE text COLLATE \"C\""));
            await connection.ExecuteAsync($"ALTER TABLE \"{group.Key}\" {alterations};", cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task BaselineFixupsAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        if (connection is PostgreSqlConnection)
        {
            // A PostgreSQL database starts at this baseline: nothing older to repair, only the
            // case-blind unique indexes to build (on lower(name), PostgreSqlDialect).
            foreach (var (index, table, column) in new[] { ("users_username_nocase", "users", "username"), ("projects_name_nocase", "projects", "name"), ("robots_name_nocase", "robots", "name") })
            {
                await connection.ExecuteAsync($"CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {table}({column} COLLATE NOCASE);", cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        foreach (string table in new[] { "users", "robots" })
        {
            var columns = await connection.QueryAsync($"PRAGMA table_info({table});", r => r.GetString(1), cancellationToken).ConfigureAwait(false);
            if (!columns.Contains("token_generation"))
            {
                await connection.ExecuteAsync($"ALTER TABLE {table} ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;", cancellationToken).ConfigureAwait(false);
            }
        }

        foreach (var (index, table, column) in new[] { ("users_username_nocase", "users", "username"), ("projects_name_nocase", "projects", "name"), ("robots_name_nocase", "robots", "name") })
        {
            try
            {
                await connection.ExecuteAsync($"CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {table}({column} COLLATE NOCASE);", cancellationToken).ConfigureAwait(false);
            }
            catch (System.Data.Common.DbException e) when (Data.Sql.IsConstraintViolation(e))
            {
                // Existing names that differ only in case: see above.
            }
        }

        await Identity.Ldap.DirectoryAccounts.MigrateGroupsColumnAsync(connection, cancellationToken).ConfigureAwait(false);
    }
}
