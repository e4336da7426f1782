using System.Net;
using System.Text.Json;
using Npgsql;
using Wharf.Registry.Data;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Data;

/// <summary>
/// Names page in byte order on PostgreSQL whatever the database's collation, as on SQLite: a database
/// created with an English collation (ICU's en-US: this machine may have no OS locale but C) orders
/// "a" before "B" and skips punctuation, and a client paging the catalog or a tag list with last=
/// must still see every name once, in the order the spec's examples and SQLite give.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PostgreSqlByteOrderTests
{
    private static readonly string[] Repositories = ["lab/ab", "lab/a-b", "lab/a_b", "lab/a.b", "lab/a/b", "lab/z", "lab/a0"];
    private static readonly string[] Tags = ["a", "B", "_c", "Z9", "a-b", "a.b", "ab", "A_"];

    [Fact]
    public async Task Catalog_And_TagList_EnglishCollationDatabaseOfAnEarlierVersion_PageInByteOrder()
    {
        var postgres = await PostgreSqlServer.SharedAsync();
        string name = "wharf_icu_" + Guid.NewGuid().ToString("N")[..12];
        await using (var admin = new NpgsqlConnection(postgres.ConnectionString("postgres")))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand(
                $"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8';", admin);
            await create.ExecuteNonQueryAsync();
        }

        string url = postgres.Url(name);
        try
        {
            using (var database = RegistryDatabase.ForPostgreSql(url))
            {
                await using var c = await database.OpenAsync(CancellationToken.None);
                // The database itself orders as English does (else this test would prove nothing) ...
                Assert.Equal(1L, await c.ScalarAsync<long>("SELECT CASE WHEN 'a' < 'B' THEN 1 ELSE 0 END;", CancellationToken.None));
                // ... and its names are as an earlier wharfd made them: text in the database's collation, migration 11 not run.
                // Every text column back to the database's collation (keys, foreign keys and indexes among them).
                var columns = await c.QueryAsync("""
                    SELECT c.table_name, c.column_name FROM information_schema.columns c
                    JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
                    WHERE c.table_schema = current_schema() AND c.data_type = 'text'
                    """, r => (Table: r.GetString(0), Column: r.GetString(1)), CancellationToken.None);
                Assert.Contains(("tags", "name"), columns);
                foreach (var (table, column) in columns)
                {
                    await c.ExecuteAsync($"ALTER TABLE \"{table}\" ALTER COLUMN \"{column}\" TYPE text COLLATE \"default\";", CancellationToken.None);
                }

                await c.ExecuteAsync("DELETE FROM schema_migrations WHERE version = 11;", CancellationToken.None);
            }

            NpgsqlConnection.ClearAllPools();
            await using var server = await WharfServer.StartAsync(new Dictionary<string, string?>
            {
                ["Registry:OpenRegistry"] = "true",
                ["Registry:Database"] = url,
            });
            using var client = server.Client();
            foreach (string repository in Repositories)
            {
                await RegistryPush.PushImageAsync(client, repository, "v1", [1]);
            }

            foreach (string tag in Tags)
            {
                await RegistryPush.PushImageAsync(client, "lab/a", tag, [2]);
            }

            string[] repositories = [.. Repositories.Append("lab/a").Order(StringComparer.Ordinal)];
            Assert.Equal(repositories, await PagesAsync(client, "/v2/_catalog?n=2", "repositories"));
            Assert.Equal(repositories, await PagesAsync(client, "/v2/_catalog", "repositories"));
            string[] tags = [.. Tags.Order(StringComparer.Ordinal)];
            Assert.Equal(tags, await PagesAsync(client, "/v2/lab/a/tags/list?n=3", "tags"));
            Assert.Equal(tags, await PagesAsync(client, "/v2/lab/a/tags/list", "tags"));

            await using var check = new NpgsqlConnection(postgres.ConnectionString(name));
            await check.OpenAsync();
            await using var collations = new NpgsqlCommand(
                "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() AND data_type = 'text' AND collation_name IS DISTINCT FROM 'C';", check);
            Assert.Equal(0L, (long)(await collations.ExecuteScalarAsync())!);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await postgres.DropDatabaseAsync(url);
        }
    }

    // Every page of a listing, following Link headers: the names in the order they came.
    private static async Task<List<string>> PagesAsync(HttpClient client, string first, string property)
    {
        var names = new List<string>();
        string? next = first;
        for (int page = 0; next is not null; page++)
        {
            Assert.True(page < 50, "the pages never ended");
            using var response = await client.GetAsync(new Uri(next, UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            names.AddRange(doc.RootElement.GetProperty(property).EnumerateArray().Select(e => e.GetString()!));
            next = response.Headers.TryGetValues("Link", out var links) ? links.First().Split(';')[0].Trim('<', '>', ' ') : null;
        }

        return names;
    }
}
