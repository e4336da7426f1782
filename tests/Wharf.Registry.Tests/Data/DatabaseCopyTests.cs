using System.Net;
using Npgsql;
using Wharf.Registry.Data;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Data;

/// <summary><c>wharfd migrate --to postgresql://…</c>: a SQLite registry copied into PostgreSQL serves the same images.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DatabaseCopyTests
{
    [Fact]
    public async Task CopyAsync_SqliteRegistry_ServesTheSameImagesFromPostgreSql()
    {
        var postgres = await PostgreSqlServer.SharedAsync();
        string url = await postgres.CreateDatabaseAsync("copy");
        var open = new Dictionary<string, string?> { ["Registry:OpenRegistry"] = "true", ["Registry:Database"] = "" };
        await using var sqlite = await WharfServer.StartAsync(open);
        PushedImage image;
        using (var client = sqlite.Client())
        {
            image = await RegistryPush.PushImageAsync(client, "lab/a", "v1", RegistryPush.Layer("one", 4096), RegistryPush.Layer("two", 2048));
        }

        await sqlite.StopKeepingDataAsync();
        try
        {
            DatabaseCopyReport report;
            using (var source = new RegistryDatabase(Path.Combine(sqlite.DataDirectory, "registry.db")))
            using (var target = RegistryDatabase.ForPostgreSql(url))
            {
                report = await DatabaseCopy.CopyAsync(source, target, null, CancellationToken.None);
                Assert.Equal(1, report.ManifestsVerified);
                Assert.Equal(1, report.Tables.Single(t => t.Table == "manifests").Rows);
                Assert.Equal(3, report.Tables.Single(t => t.Table == "blobs").Rows);
                Assert.Equal(1, report.Tables.Single(t => t.Table == "tags").Rows);

                // A second copy into the filled database is refused and changes nothing.
                await Assert.ThrowsAsync<InvalidOperationException>(() => DatabaseCopy.CopyAsync(source, target, null, CancellationToken.None));
                await using var c = await target.OpenAsync(CancellationToken.None);
                Assert.Equal(1L, await c.ScalarAsync<long>("SELECT COUNT(*) FROM manifests;", CancellationToken.None));
            }

            var onPostgres = new Dictionary<string, string?>(open) { ["Registry:Database"] = url };
            await using var server = await WharfServer.StartAsync(onPostgres, sqlite.DataDirectory);
            using var pull = server.Client();
            Assert.Equal(image.Body, await pull.GetByteArrayAsync(new Uri("v2/lab/a/manifests/v1", UriKind.Relative)));

            // New rows take ids after the copied ones.
            using var push = server.Client();
            await RegistryPush.PushImageAsync(push, "lab/b", "v1", RegistryPush.Layer("three", 1024));
            using var tags = await pull.GetAsync(new Uri("v2/lab/b/tags/list", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, tags.StatusCode);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await postgres.DropDatabaseAsync(url);
        }
    }
}
