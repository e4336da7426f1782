using System.Globalization;
using System.Net;
using Microsoft.Data.Sqlite;
using Npgsql;
using Wharf.Registry.Data;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Data;

/// <summary>
/// A request the database cannot take now is a 503 with Retry-After in the path's error shape, not a
/// 500, and the registry serves again once the database does (Data/DatabaseUnavailableResponses.cs).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DatabaseUnavailableTests
{
    [Fact]
    public void IsUnavailable_TellsTryAgainFromRealErrors()
    {
        Assert.True(Sql.IsUnavailable(new SqliteException("database is locked", 5)));
        Assert.True(Sql.IsUnavailable(new SqliteException("database table is locked", 6)));
        Assert.False(Sql.IsUnavailable(new SqliteException("UNIQUE constraint failed", 19)));
        Assert.False(Sql.IsUnavailable(new SqliteException("database or disk is full", 13)));

        foreach (string state in new[] { "53300", "57P01", "57P03", "40001", "40P01", "55P03" })
        {
            Assert.True(Sql.IsUnavailable(new PostgresException("x", "FATAL", "FATAL", state)), state);
        }

        foreach (string state in new[] { "23505", "22021", "42P01", "53100" })
        {
            Assert.False(Sql.IsUnavailable(new PostgresException("x", "ERROR", "ERROR", state)), state);
        }

        // Npgsql's own: the pool exhausted within its timeout, a refused connection; not any other failure.
        Assert.True(Sql.IsUnavailable(new NpgsqlException("The connection pool has been exhausted", new TimeoutException())));
        Assert.True(Sql.IsUnavailable(new NpgsqlException("Failed to connect", new System.Net.Sockets.SocketException(111))));
        Assert.False(Sql.IsUnavailable(new NpgsqlException("Exception while reading from stream", new IOException())));
    }

    [Fact]
    public async Task PostgreSqlOutOfConnections_Answers503WithRetryAfter_ThenServesAgain()
    {
        var postgres = await PostgreSqlServer.SharedAsync();
        string role = string.Create(CultureInfo.InvariantCulture, $"limited_{Environment.ProcessId}");
        string name = role + "_db";
        await AdminAsync(postgres, $"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE); DROP ROLE IF EXISTS \"{role}\";");

        // An ordinary role: a database's connection limit binds it (a superuser's connections are exempt).
        await AdminAsync(postgres, $"CREATE ROLE \"{role}\" LOGIN; CREATE DATABASE \"{name}\" OWNER \"{role}\";");
        string url = string.Create(CultureInfo.InvariantCulture, $"postgresql://{role}@127.0.0.1:{postgres.Port}/{name}");
        try
        {
            await using (var server = await WharfServer.StartAsync(new Dictionary<string, string?> { ["Registry:Database"] = url }))
            {
                using var admin = server.Client("admin", WharfServer.AdminPassword);
                Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(new Uri("api/v2.0/projects", UriKind.Relative))).StatusCode);

                // No new connection is let in, and the pooled ones are gone.
                await AdminAsync(postgres, $"ALTER DATABASE \"{name}\" CONNECTION LIMIT 0; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';");
                NpgsqlConnection.ClearAllPools();

                using (var api = await admin.GetAsync(new Uri("api/v2.0/projects", UriKind.Relative)))
                {
                    string body = await api.Content.ReadAsStringAsync();
                    Assert.Equal(HttpStatusCode.ServiceUnavailable, api.StatusCode);
                    Assert.Equal(TimeSpan.FromSeconds(5), api.Headers.RetryAfter?.Delta);
                    Assert.Contains("SERVICE_UNAVAILABLE", body, StringComparison.Ordinal);
                    Assert.Contains("database cannot take the request now", body, StringComparison.Ordinal);
                }

                using (var v2 = await admin.GetAsync(new Uri("v2/_catalog", UriKind.Relative)))
                {
                    string body = await v2.Content.ReadAsStringAsync();
                    Assert.Equal(HttpStatusCode.ServiceUnavailable, v2.StatusCode);
                    Assert.NotNull(v2.Headers.RetryAfter);
                    Assert.Contains("\"UNAVAILABLE\"", body, StringComparison.Ordinal);
                }

                await AdminAsync(postgres, $"ALTER DATABASE \"{name}\" CONNECTION LIMIT -1;");
                Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(new Uri("api/v2.0/projects", UriKind.Relative))).StatusCode);
            }
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await AdminAsync(postgres, $"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE); DROP ROLE IF EXISTS \"{role}\";");
        }
    }

    // One statement at a time: CREATE and DROP DATABASE refuse to run in a batch.
    private static async Task AdminAsync(PostgreSqlServer postgres, string sql)
    {
        await using var connection = new NpgsqlConnection(postgres.ConnectionString("postgres"));
        await connection.OpenAsync();
        foreach (string statement in sql.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            await using var command = new NpgsqlCommand(statement, connection);
            await command.ExecuteNonQueryAsync();
        }
    }
}
