using System.Data.Common;
using Npgsql;
using Wharf.Registry.Data;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Data;

/// <summary>The registry database on a real PostgreSQL (Debian's, started by <see cref="PostgreSqlServer"/>).</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PostgreSqlDatabaseTests
{
    [Fact]
    public async Task InitializeAsync_NewDatabase_RunsEveryMigrationOnce()
    {
        var postgres = await PostgreSqlServer.SharedAsync();
        string url = await postgres.CreateDatabaseAsync("migrate");
        try
        {
            using (var database = RegistryDatabase.ForPostgreSql(url))
            {
                await using var c = await database.OpenAsync(CancellationToken.None);
                Assert.IsType<PostgreSqlConnection>(c);
                Assert.Equal(Migrations.All.Select(m => (long)m.Version), await c.QueryAsync("SELECT version FROM schema_migrations ORDER BY version;", r => r.GetInt64(0), CancellationToken.None));
                // INTEGER is 64-bit, as on SQLite; ids come from identity columns.
                Assert.Equal("bigint", await c.ScalarAsync<string>("SELECT data_type FROM information_schema.columns WHERE table_name = 'blobs' AND column_name = 'size';", CancellationToken.None));
                Assert.Equal("bytea", await c.ScalarAsync<string>("SELECT data_type FROM information_schema.columns WHERE table_name = 'manifests' AND column_name = 'content';", CancellationToken.None));
            }

            using var again = RegistryDatabase.ForPostgreSql(url);
            await again.InitializeAsync(CancellationToken.None);
            await using var c2 = await again.OpenAsync(CancellationToken.None);
            Assert.Equal(Migrations.All.Count, await c2.ScalarAsync<long>("SELECT COUNT(*) FROM schema_migrations;", CancellationToken.None));
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await postgres.DropDatabaseAsync(url);
        }
    }

    [Fact]
    public async Task InitializeAsync_FourInstancesAtOnce_OneMigratesTheOthersFindItDone()
    {
        var postgres = await PostgreSqlServer.SharedAsync();
        string url = await postgres.CreateDatabaseAsync("race");
        var databases = Enumerable.Range(0, 4).Select(_ => RegistryDatabase.ForPostgreSql(url)).ToList();
        try
        {
            await Task.WhenAll(databases.Select(d => d.InitializeAsync(CancellationToken.None)));

            await using var c = await databases[0].OpenAsync(CancellationToken.None);
            Assert.Equal(Migrations.All.Select(m => (long)m.Version), await c.QueryAsync("SELECT version FROM schema_migrations ORDER BY version;", r => r.GetInt64(0), CancellationToken.None));
        }
        finally
        {
            databases.ForEach(d => d.Dispose());
            await postgres.DropDatabaseAsync(url);
        }
    }

    [Fact]
    public async Task Errors_AreClassifiedAsOnSqlite()
    {
        var postgres = await PostgreSqlServer.SharedAsync();
        string url = await postgres.CreateDatabaseAsync("errors");
        try
        {
            using var database = RegistryDatabase.ForPostgreSql(url);
            await using var c = await database.OpenAsync(CancellationToken.None);
            await c.ExecuteAsync("INSERT INTO users (username, creation_time, update_time) VALUES ($u, 1, 1);", CancellationToken.None, ("$u", "Alice"));

            // The case-blind unique index (users_username_nocase on lower(username)).
            var duplicate = await Assert.ThrowsAnyAsync<DbException>(() =>
                c.ExecuteAsync("INSERT INTO users (username, creation_time, update_time) VALUES ($u, 1, 1);", CancellationToken.None, ("$u", "alice")));
            Assert.True(Sql.IsUniqueViolation(duplicate));
            Assert.True(Sql.IsConstraintViolation(duplicate));

            var foreignKey = await Assert.ThrowsAnyAsync<DbException>(() =>
                c.ExecuteAsync("INSERT INTO project_members (project_id, user_id, role, creation_time, update_time) VALUES (999, 999, 1, 1, 1);", CancellationToken.None));
            Assert.True(Sql.IsConstraintViolation(foreignKey));
            Assert.False(Sql.IsUniqueViolation(foreignKey));

            // SQLite's comparisons, as the stores write them.
            Assert.Equal(1L, await c.ScalarAsync<long>("SELECT COUNT(*) FROM users WHERE username = $u COLLATE NOCASE;", CancellationToken.None, ("$u", "ALICE")));
            Assert.Equal(1L, await c.ScalarAsync<long>("SELECT COUNT(*) FROM users WHERE username LIKE $q ESCAPE '\\';", CancellationToken.None, ("$q", Sql.LikeContains("LIC"))));
            Assert.Equal(7L, await c.ScalarAsync<long>("SELECT MAX(3, 7);", CancellationToken.None));
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await postgres.DropDatabaseAsync(url);
        }
    }

    [Fact]
    public async Task OpenAsync_Unreachable_Fails()
    {
        using var database = RegistryDatabase.ForPostgreSql($"postgresql://wharf@127.0.0.1:{LoopbackPort.Free()}/nothing");
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => database.OpenAsync(CancellationToken.None));
    }

    [Theory]
    [InlineData("postgresql://u:p%40ss@db.example:6543/registry", "db.example", 6543, "registry", "u", "p@ss")]
    [InlineData("postgres://u@127.0.0.1/reg", "127.0.0.1", 5432, "reg", "u", null)]
    public void PostgreSqlUrl_Parse_ReadsEveryPart(string url, string host, int port, string database, string user, string? password)
    {
        var builder = PostgreSqlUrl.Parse(url);
        Assert.Equal((host, port, database, user, password), (builder.Host, builder.Port, builder.Database, builder.Username, builder.Password));
    }

    [Theory]
    [InlineData("mysql://u@h/db")]
    [InlineData("postgresql://u@h/")]
    [InlineData("postgresql://u@h/db?nosuchsetting=1")]
    public void PostgreSqlUrl_Parse_BadUrl_Throws(string url)
    {
        Assert.Throws<FormatException>(() => PostgreSqlUrl.Parse(url));
    }

    [Theory]
    [InlineData("SELECT a FROM t WHERE x = $x AND y = $y2;", "SELECT a FROM t WHERE x = @x AND y = @y2;")]
    [InlineData("id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER, b BLOB", "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT, b BYTEA")]
    [InlineData("SELECT MAX(a, COALESCE((SELECT MAX(b) FROM t), 0))", "SELECT GREATEST(a, COALESCE((SELECT MAX(b) FROM t), 0))")]
    [InlineData("INSERT OR IGNORE INTO g (a) VALUES ($a);", "INSERT INTO g (a) VALUES (@a) ON CONFLICT DO NOTHING;")]
    [InlineData("CREATE UNIQUE INDEX i ON users(username COLLATE NOCASE);", "CREATE UNIQUE INDEX i ON users(lower(username));")]
    [InlineData("WHERE instr(name, $q) > 0", "WHERE strpos(name, @q) > 0")]
    public void PostgreSqlDialect_Translate(string sqlite, string postgres)
    {
        Assert.Equal(postgres, PostgreSqlDialect.Instance.Translate(sqlite));
    }
}
