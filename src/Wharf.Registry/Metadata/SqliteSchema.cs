using Microsoft.Data.Sqlite;

namespace Wharf.Registry.Metadata;

/// <summary>
/// The registry's tables. Applied idempotently at start; <c>user_version</c> records the version
/// so later changes can migrate.
/// <code>
/// repositories        one row per repository (name, project = first path component)
/// blobs               every committed blob's digest and size (content lives in the blob store)
/// repository_blobs    which repository may serve which blob (upload, mount, manifest push)
/// manifests           manifest bytes exactly as pushed, media type, artifactType, subject
/// manifest_references parent manifest → child blob or manifest, for deletes and GC
/// tags                repository, tag → manifest digest
/// uploads             upload sessions (the bytes are in the blob store's uploads/)
/// project_blobs       (version 1, no longer written) running per-project reference counts;
/// project_usage       usage is now computed from the content tables (SqliteMetadataStore.Quotas.cs)
/// released_blob_links links whose quota charge a manifest delete released (Harbor frees an
///                     artifact's blobs at once; the link itself stays until GC unlinks it)
/// gc_runs             garbage collection runs: when, dry run or not, status, what was removed (log)
/// immutable_tag_rules (version 2) a project's immutable tag rules (Policies/ImmutableTagRule.cs),
///                     by project name for the tag writes' checks, by project id for the API
/// </code>
/// </summary>
internal static class SqliteSchema
{
    public const int Version = 2;

    public static void Apply(SqliteConnection connection)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = """
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
            """;
        cmd.ExecuteNonQuery();
    }
}
