using Microsoft.Data.Sqlite;

namespace Wharf.Registry.Tests.Data;

/// <summary>
/// Builds <c>registry.db</c> files the way wharfd wrote them before the numbered migrations: each
/// store created its own tables with <c>CREATE TABLE IF NOT EXISTS</c>, the metadata tables set
/// <c>user_version</c> to 2 (immutable tag rules) or 1 (before them), and the identity, portal,
/// replication and proxy tables kept Unix seconds. The DDL below is copied from that code, so an
/// upgrade test starts from exactly what a deployed wharfd has on disk.
/// </summary>
internal static class LegacyDatabase
{
    /// <summary>Every table as the last version before the migrations left it (metadata schema version 2).</summary>
    public const string Version2Schema = """
        PRAGMA journal_mode=WAL;
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
        PRAGMA user_version=2;
            
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
    /// An older database: metadata schema version 1 (no released links, GC history or immutable rules),
    /// accounts without token generations, directory groups as text in <c>directory_users.groups</c>.
    /// </summary>
    public static string Version1Schema { get; } = Version2Schema
        .Replace("            token_generation INTEGER NOT NULL DEFAULT 0,\n", "", StringComparison.Ordinal)
        .Replace("PRAGMA user_version=2;", "PRAGMA user_version=1;", StringComparison.Ordinal)
        + "DROP TABLE immutable_tag_rules; DROP TABLE released_blob_links; DROP TABLE gc_runs; DROP TABLE directory_user_groups;";

    public static async Task CreateAsync(string path, string schema, string data)
    {
        await using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = schema + data;
        await command.ExecuteNonQueryAsync();
    }
}
