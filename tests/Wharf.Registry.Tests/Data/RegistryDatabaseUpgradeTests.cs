using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Wharf.Oci;
using Wharf.Registry.Data;
using Wharf.Registry.Identity.Ldap;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Data;

/// <summary>
/// A <c>registry.db</c> written by the wharfd before the numbered migrations is upgraded in place:
/// every row kept, times in seconds turned into milliseconds, and the API answering as it did.
/// </summary>
[Trait("Database", "sqlite-only")] // registry.db files of earlier versions; PostgreSQL never held them
public sealed class RegistryDatabaseUpgradeTests
{
    private const string Config = """{"architecture":"amd64","os":"linux"}""";

    private static readonly string ConfigDigest = Digest.Compute(Encoding.UTF8.GetBytes(Config)).ToString();

    private static readonly byte[] Manifest = Encoding.UTF8.GetBytes(
        $$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{ConfigDigest}}","size":{{Config.Length}}},"layers":[]}""");

    private static readonly string ManifestDigest = Digest.Compute(Manifest).ToString();

    // Recent, so the janitor does not expire the session when the server starts.
    private static readonly long UploadStartedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    // Seconds where the old code kept seconds, milliseconds where it kept milliseconds.
    private static readonly string Rows = $"""
        INSERT INTO users (id, username, email, realname, comment, sysadmin, creation_time, update_time) VALUES (10, 'alice', 'alice@lab.test', 'Alice', '', 0, 1700000000, 1700000100);
        INSERT INTO projects (id, name, public, owner_id, storage_limit, creation_time, update_time) VALUES (5, 'lab', 1, 10, -1, 1700000200, 1700000300);
        INSERT INTO project_members (project_id, user_id, role, creation_time, update_time) VALUES (5, 10, 1, 1700000200, 1700000200);
        INSERT INTO robots (id, name, project_id, description, secret_hash, access, disabled, duration_days, expires_at, creation_time, update_time)
            VALUES (7, 'robot$lab+ci', 5, '', 'x', 1, 0, 30, 1702592000, 1700000400, 1700000400);
        INSERT INTO robots (id, name, project_id, description, secret_hash, access, disabled, duration_days, expires_at, creation_time, update_time)
            VALUES (8, 'robot$lab+forever', 5, '', 'x', 1, 0, -1, -1, 1700000400, 1700000400);
        INSERT INTO directory_users (user_id, dn, groups, groups_read_at) VALUES (10, 'uid=alice,ou=people,dc=wharf,dc=test', '', 1700000450);
        INSERT INTO portal_sessions (id_hash, user_id, generation, expires_at) VALUES ('h', 10, 0, 1700028800);
        INSERT INTO audit_log (op_time, username, operation, resource_type, resource, project, success) VALUES (1700000500123, 'alice', 'create', 'artifact', 'lab/app:v1', 'lab', 1);
        INSERT INTO repositories (id, name, project, created_at) VALUES (1, 'lab/app', 'lab', 1700000600123);
        INSERT INTO blobs (digest, size, created_at) VALUES ('{ConfigDigest}', {Config.Length}, 1700000600123);
        INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (1, '{ConfigDigest}', 1700000600123);
        INSERT INTO manifests (repository_id, digest, media_type, size, content, created_at)
            VALUES (1, '{ManifestDigest}', 'application/vnd.oci.image.manifest.v1+json', {Manifest.Length}, X'{Convert.ToHexString(Manifest)}', 1700000600456);
        INSERT INTO manifest_references (repository_id, parent, child, child_is_manifest) VALUES (1, '{ManifestDigest}', '{ConfigDigest}', 0);
        INSERT INTO tags (repository_id, name, digest, updated_at) VALUES (1, 'v1', '{ManifestDigest}', 1700000600789);
        INSERT INTO artifact_pulls (repository_id, digest, pull_count, last_pull) VALUES (1, '{ManifestDigest}', 3, 1700000650000);
        INSERT INTO replication_policies (id, name, trigger_type, filters, deletion, override, enabled, creation_time, update_time)
            VALUES (1, 'nightly', 'manual', '[]', 0, 1, 1, 1700000700, 1700000700);
        INSERT INTO replication_executions (id, policy_id, status, trigger, start_time, end_time) VALUES (1, 1, 'Succeed', 'manual', 1700000710, 1700000720);
        INSERT INTO replication_tasks (execution_id, src_resource, dst_resource, operation, status, start_time, end_time) VALUES (1, 'lab/app:v1', 'lab/app:v1', 'copy', 'Succeed', 1700000711, NULL);
        INSERT INTO proxy_registries (id, name, type, url, creation_time, update_time) VALUES (1, 'hub', 'docker-registry', 'http://127.0.0.1:1', 1700000800, 1700000800);
        INSERT INTO proxy_pulls (repository, digest, is_index, last_pull) VALUES ('lab/app', '{ManifestDigest}', 0, 1700000900);
        INSERT INTO uploads (id, repository, created_at) VALUES ('{UploadId}', 'lab/app', {UploadStartedAt});
        """;

    private const string UploadId = "0123456789abcdef0123456789abcdef";


    private static string ImmutableRule => "INSERT INTO immutable_tag_rules (project, project_id, tag_pattern, repo_pattern, created_at) VALUES ('lab', 5, 'v*', '**', 1700001000123);";

    [Fact]
    public async Task OpenAsync_DatabaseOfLastVersion_UpgradesInPlaceKeepingEveryRow()
    {
        using var directory = new TempDirectory();
        string path = Path.Combine(directory.Path, "registry.db");
        await LegacyDatabase.CreateAsync(path, LegacyDatabase.Version2Schema, Rows + ImmutableRule);

        using var database = new RegistryDatabase(path);
        await using var c = await database.OpenAsync(CancellationToken.None);

        Assert.Equal(Migrations.All.Select(m => (long)m.Version), await c.QueryAsync("SELECT version FROM schema_migrations ORDER BY version;", r => r.GetInt64(0), CancellationToken.None));
        Assert.Equal(Migrations.All.Count, await c.ScalarAsync<long>("PRAGMA user_version;", CancellationToken.None));

        // Seconds became milliseconds.
        Assert.Equal((1700000000000L, 1700000100000L), await Row2(c, "SELECT creation_time, update_time FROM users WHERE id = 10"));
        Assert.Equal((1700000200000L, 1700000300000L), await Row2(c, "SELECT creation_time, update_time FROM projects WHERE id = 5"));
        Assert.Equal((1700000200000L, 1700000200000L), await Row2(c, "SELECT creation_time, update_time FROM project_members"));
        Assert.Equal((1702592000000L, 1700000400000L), await Row2(c, "SELECT expires_at, creation_time FROM robots WHERE id = 7"));
        Assert.Equal((-1L, 1700000400000L), await Row2(c, "SELECT expires_at, creation_time FROM robots WHERE id = 8"));
        Assert.Equal(1700000450000L, await c.ScalarAsync<long>("SELECT groups_read_at FROM directory_users", CancellationToken.None));
        Assert.Equal(1700028800000L, await c.ScalarAsync<long>("SELECT expires_at FROM portal_sessions", CancellationToken.None));
        Assert.Equal((1700000710000L, 1700000720000L), await Row2(c, "SELECT start_time, end_time FROM replication_executions"));
        Assert.Equal(1700000711000L, await c.ScalarAsync<long>("SELECT start_time FROM replication_tasks", CancellationToken.None));
        Assert.Equal(0L, await c.ScalarAsync<long>("SELECT COUNT(*) FROM replication_tasks WHERE end_time IS NOT NULL", CancellationToken.None));
        Assert.Equal(1700000700000L, await c.ScalarAsync<long>("SELECT creation_time FROM replication_policies", CancellationToken.None));
        Assert.Equal(1700000800000L, await c.ScalarAsync<long>("SELECT creation_time FROM proxy_registries", CancellationToken.None));
        Assert.Equal(1700000900000L, await c.ScalarAsync<long>("SELECT last_pull FROM proxy_pulls", CancellationToken.None));

        // Milliseconds stayed as they were.
        Assert.Equal(1700000500123L, await c.ScalarAsync<long>("SELECT op_time FROM audit_log", CancellationToken.None));
        Assert.Equal(1700000600123L, await c.ScalarAsync<long>("SELECT created_at FROM repositories", CancellationToken.None));
        Assert.Equal(1700000600789L, await c.ScalarAsync<long>("SELECT updated_at FROM tags", CancellationToken.None));
        Assert.Equal(1700000650000L, await c.ScalarAsync<long>("SELECT last_pull FROM artifact_pulls", CancellationToken.None));
        Assert.Equal(1700001000123L, await c.ScalarAsync<long>("SELECT created_at FROM immutable_tag_rules", CancellationToken.None));

        // An upload session of the earlier wharfd: its size is its file's, its last activity its start.
        Assert.Equal((1L, UploadStartedAt), await Row2(c, "SELECT size IS NULL, updated_at FROM uploads"));

        // Content untouched.
        Assert.Equal(Manifest, await c.ScalarAsync<byte[]>("SELECT content FROM manifests", CancellationToken.None));
        Assert.Equal(0L, await c.ScalarAsync<long>("SELECT COUNT(*) FROM pragma_foreign_key_check", CancellationToken.None));
        Assert.Equal("ok", await c.ScalarAsync<string>("PRAGMA integrity_check;", CancellationToken.None));
    }

    [Fact]
    public async Task OpenAsync_Version1DatabaseWithLegacyColumns_GetsTheirSuccessors()
    {
        using var directory = new TempDirectory();
        string path = Path.Combine(directory.Path, "registry.db");
        // The first directory-login version kept groups as text: a DN and a name per line, tab between.
        await LegacyDatabase.CreateAsync(path, LegacyDatabase.Version1Schema, Rows.Replace(
            "'uid=alice,ou=people,dc=wharf,dc=test', ''",
            "'uid=alice,ou=people,dc=wharf,dc=test', 'cn=Lab, ou=groups,dc=wharf,dc=test' || char(9) || 'Lab' || char(10) || 'cn=Ops,ou=groups,dc=wharf,dc=test' || char(9) || 'Ops'",
            StringComparison.Ordinal));

        using var database = new RegistryDatabase(path);
        var account = await new DirectoryAccounts(database).FindAsync(10, CancellationToken.None);

        Assert.NotNull(account);
        Assert.Equal(["cn=Lab,ou=groups,dc=wharf,dc=test", "cn=Ops,ou=groups,dc=wharf,dc=test"], account.Groups.Select(g => g.Dn));
        Assert.Equal(["Lab", "Ops"], account.Groups.Select(g => g.Name));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1700000450), account.GroupsReadAt);
        await using var c = await database.OpenAsync(CancellationToken.None);
        Assert.Equal("", await c.ScalarAsync<string>("SELECT groups FROM directory_users;", CancellationToken.None));
        Assert.Equal(0L, await c.ScalarAsync<long>("SELECT token_generation FROM users WHERE id = 10;", CancellationToken.None));
        Assert.Equal(0L, await c.ScalarAsync<long>("SELECT COUNT(*) FROM immutable_tag_rules;", CancellationToken.None));
        Assert.Equal(0L, await c.ScalarAsync<long>("SELECT COUNT(*) FROM gc_runs;", CancellationToken.None));
        Assert.Equal(1L, await c.ScalarAsync<long>("SELECT COUNT(*) FROM sqlite_master WHERE name = 'users_username_nocase';", CancellationToken.None));
    }

    [Fact]
    public async Task Start_OnDatabaseOfLastVersion_ApiAnswersAsBefore()
    {
        string data = Directory.CreateTempSubdirectory("wharf-upgrade-").FullName;
        await LegacyDatabase.CreateAsync(Path.Combine(data, "registry.db"), LegacyDatabase.Version2Schema, Rows + ImmutableRule);
        Directory.CreateDirectory(Path.Combine(data, "uploads"));
        await File.WriteAllBytesAsync(Path.Combine(data, "uploads", UploadId), [1, 2, 3, 4, 5]);
        await using var server = await WharfServer.StartAsync(dataDirectory: data);
        using var admin = server.Admin();

        // The times the API showed before: whole seconds, now read from milliseconds.
        using (var user = JsonDocument.Parse(await admin.GetStringAsync("api/v2.0/users/10")))
        {
            Assert.Equal("2023-11-14T22:13:20.000Z", user.RootElement.GetProperty("creation_time").GetString());
            Assert.Equal("2023-11-14T22:15:00.000Z", user.RootElement.GetProperty("update_time").GetString());
        }

        using (var robots = JsonDocument.Parse(await admin.GetStringAsync("api/v2.0/projects/lab/robots")))
        {
            var byName = robots.RootElement.EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!, r => r.GetProperty("expires_at").GetInt64());
            Assert.Equal(1702592000L, byName["robot$lab+ci"]);
            Assert.Equal(-1L, byName["robot$lab+forever"]);
        }

        using (var project = JsonDocument.Parse(await admin.GetStringAsync("api/v2.0/projects/lab")))
        {
            Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1700000200).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
                project.RootElement.GetProperty("creation_time").GetString());
        }

        // The manifest and its tag still serve; the immutable rule still protects the tag.
        string token = await server.TokenAsync("admin", WharfServer.AdminPassword, "repository:lab/app:pull,push,delete");
        using var registry = server.Client();
        registry.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using (var get = new HttpRequestMessage(HttpMethod.Get, "v2/lab/app/manifests/v1"))
        {
            get.Headers.Accept.ParseAdd("application/vnd.oci.image.manifest.v1+json");
            using var response = await registry.SendAsync(get);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Manifest, await response.Content.ReadAsByteArrayAsync());
        }

        using (var delete = await registry.DeleteAsync("v2/lab/app/manifests/v1"))
        {
            Assert.False(delete.IsSuccessStatusCode, $"an immutable tag was deleted: {delete.StatusCode}");
        }

        Assert.Contains("\"v1\"", await registry.GetStringAsync("v2/lab/app/tags/list"), StringComparison.Ordinal);

        // The upload session it had open continues where its data ends.
        using (var status = await registry.GetAsync($"v2/lab/app/blobs/uploads/{UploadId}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, status.StatusCode);
            Assert.Equal("0-4", status.Headers.GetValues("Range").Single());
        }
    }

    private static async Task<(long, long)> Row2(System.Data.Common.DbConnection c, string sql)
    {
        var rows = await c.QueryAsync(sql, r => (r.GetInt64(0), r.GetInt64(1)), CancellationToken.None);
        return Assert.Single(rows);
    }
}
