using System.Net;
using System.Security.Cryptography;
using Npgsql;
using Wharf.Oci;
using Wharf.Registry.Gc;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Gc;

/// <summary>
/// <c>wharfd gc --database</c> and <c>wharfd fsck --database</c> on a real PostgreSQL (Debian's, started
/// by <see cref="PostgreSqlServer"/>), whatever <c>WHARF_TEST_DATABASE</c> says: the blob directory and
/// a database that instances on other hosts may share. They refuse while any instance's heartbeat is
/// live, and otherwise run the same GC and checks as on SQLite.
/// </summary>
public sealed class RegistryMaintenancePostgreSqlTests : IAsyncLifetime
{
    private PostgreSqlServer _postgres = null!;
    private string _database = null!;
    private WharfServer _server = null!;

    private string Data => _server.DataDirectory;

    public async Task InitializeAsync()
    {
        _postgres = await PostgreSqlServer.SharedAsync();
        _database = await _postgres.CreateDatabaseAsync("maintenance");
        _server = await StartServerAsync();
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _postgres.DropDatabaseAsync(_database);
    }

    [Fact]
    public async Task CollectGarbage_OnPostgreSql_RemovesTheUnreferencedBlob_KeepsTheImage()
    {
        byte[] layer = RandomNumberGenerator.GetBytes(2_000);
        Digest loose;
        using (var admin = _server.Admin())
        {
            await RegistryPush.PushImageAsync(admin, "lab/a", "v1", layer);
            loose = await RegistryPush.PushBlobAsync(admin, "lab/a", RandomNumberGenerator.GetBytes(3_000));
            (await admin.DeleteAsync($"v2/lab/a/blobs/{loose}")).Dispose();
        }

        await _server.StopKeepingDataAsync();
        Assert.False(File.Exists(Path.Combine(Data, "registry.db")), "the server was to keep its metadata in PostgreSQL");

        var output = new StringWriter();
        Assert.Equal(0, await RegistryMaintenance.CollectGarbageAsync(Data, _database, dryRun: true, output, default));
        Assert.Contains($"would remove {loose} (3000 bytes)", output.ToString(), StringComparison.Ordinal);
        Assert.True(File.Exists(BlobPath(loose)));

        output = new StringWriter();
        Assert.Equal(0, await RegistryMaintenance.CollectGarbageAsync(Data, _database, dryRun: false, output, default));
        Assert.Contains($"remove {loose} (3000 bytes)", output.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(BlobPath(loose)));
        Assert.True(File.Exists(BlobPath(Digest.Compute(layer))), "a referenced layer was removed");
        Assert.Equal(0L, await ScalarAsync($"SELECT count(*) FROM blobs WHERE digest = '{loose}'"));
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM leases WHERE name = 'offline-maintenance'"));

        await _server.RestartAsync();
        using (var client = _server.Admin())
        {
            using var pulled = await client.GetAsync("v2/lab/a/manifests/v1");
            Assert.Equal(HttpStatusCode.OK, pulled.StatusCode);
            Assert.Equal(layer, await client.GetByteArrayAsync($"v2/lab/a/blobs/{Digest.Compute(layer)}"));
        }

        await _server.StopKeepingDataAsync();
        output = new StringWriter();
        Assert.Equal(0, await RegistryMaintenance.CheckAsync(Data, _database, repair: false, output, default));
        Assert.Contains("consistent", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CollectGarbage_WhileAnInstanceElsewhereServesTheDatabase_RefusesNamingItAndChangesNothing()
    {
        Digest loose;
        using (var admin = _server.Admin())
        {
            loose = await RegistryPush.PushBlobAsync(admin, "lab/a", RandomNumberGenerator.GetBytes(1_000));
            (await admin.DeleteAsync($"v2/lab/a/blobs/{loose}")).Dispose();
        }

        // Another host's view: its own copy of the blob directory, so the data-directory lock (one
        // host's flock) proves nothing; only the database's heartbeat rows can.
        using var elsewhere = new TempDirectory("wharf-gc-elsewhere");
        CopyDirectory(Path.Combine(Data, "blobs"), Path.Combine(elsewhere.Path, "blobs"));
        Directory.CreateDirectory(Path.Combine(elsewhere.Path, "uploads"));
        string copy = Path.Combine(elsewhere.Path, "blobs", loose.Algorithm, loose.Encoded[..2], loose.Encoded);
        Assert.True(File.Exists(copy));

        var output = new StringWriter();
        Assert.Equal(2, await RegistryMaintenance.CollectGarbageAsync(elsewhere.Path, _database, dryRun: false, output, default));
        string refused = output.ToString();
        Assert.Contains("in use by 1 live wharfd instance(s)", refused, StringComparison.Ordinal);
        Assert.Contains($"{Environment.MachineName} PID {Environment.ProcessId}", refused, StringComparison.Ordinal);
        Assert.True(File.Exists(copy));
        Assert.Equal(1L, await ScalarAsync($"SELECT count(*) FROM blobs WHERE digest = '{loose}'"));
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM gc_runs WHERE trigger = 'Offline'"));

        output = new StringWriter();
        Assert.Equal(2, await RegistryMaintenance.CheckAsync(elsewhere.Path, _database, repair: true, output, default));
        Assert.Contains("live wharfd instance", output.ToString(), StringComparison.Ordinal);

        // Stopped, the instance removes its row: the run goes ahead.
        await _server.StopKeepingDataAsync();
        output = new StringWriter();
        Assert.Equal(0, await RegistryMaintenance.CollectGarbageAsync(elsewhere.Path, _database, dryRun: false, output, default));
        Assert.Contains($"remove {loose}", output.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(copy));
    }

    [Fact]
    public async Task Start_WhileAnOfflineRunHoldsTheDatabase_RefusesAndLeavesNoHeartbeat()
    {
        await _server.StopKeepingDataAsync();
        long until = DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeMilliseconds();
        Assert.Equal(1L, await ExecuteAsync($"INSERT INTO leases(name, holder, expires_at) VALUES('offline-maintenance', 'node9:4242:offline', {until})"));

        using var elsewhere = new TempDirectory("wharf-start-elsewhere");
        var refused = await Assert.ThrowsAsync<Wharf.Registry.Data.DatabaseInUseException>(() => WharfServer.StartAsync(
            new Dictionary<string, string?> { ["Registry:OpenRegistry"] = "true", ["Registry:Database"] = _database }, elsewhere.Path));
        Assert.Contains("offline wharfd gc or fsck (node9:4242:offline)", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM instances"));

        // Once the run is over (its lease released or lapsed) the instance starts.
        Assert.Equal(1L, await ExecuteAsync("DELETE FROM leases WHERE name = 'offline-maintenance'"));
        await _server.RestartAsync();
        Assert.Equal(1L, await ScalarAsync("SELECT count(*) FROM instances"));
    }

    [Fact]
    public async Task Check_OnPostgreSql_ReportsABlobWhoseFileIsMissing()
    {
        Digest lost;
        using (var admin = _server.Admin())
        {
            lost = await RegistryPush.PushBlobAsync(admin, "lab/b", RandomNumberGenerator.GetBytes(500));
        }

        await _server.StopKeepingDataAsync();
        File.Delete(BlobPath(lost));

        var output = new StringWriter();
        Assert.Equal(1, await RegistryMaintenance.CheckAsync(Data, _database, repair: false, output, default));
        Assert.Contains($"found: row without file: {lost}", output.ToString(), StringComparison.Ordinal);
        Assert.Equal(1L, await ScalarAsync($"SELECT count(*) FROM blobs WHERE digest = '{lost}'"));
    }

    [Fact]
    public async Task CollectGarbage_DatabaseWithoutARegistry_RefusesAndCreatesNothing()
    {
        string empty = await _postgres.CreateDatabaseAsync("notregistry");
        using var blobs = new TempDirectory("wharf-gc-empty");
        try
        {
            var output = new StringWriter();
            Assert.Equal(2, await RegistryMaintenance.CollectGarbageAsync(blobs.Path, empty, dryRun: false, output, default));
            Assert.Contains("holds no wharfd registry", output.ToString(), StringComparison.Ordinal);
            Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'", empty));
        }
        finally
        {
            await _postgres.DropDatabaseAsync(empty);
        }
    }

    private Task<WharfServer> StartServerAsync() => WharfServer.StartAsync(
        new Dictionary<string, string?>
        {
            ["Registry:OpenRegistry"] = "true",
            ["Registry:GcInterval"] = "00:00:00",
            ["Registry:Database"] = _database,
            // The heartbeat follows the server's clock, which the test holds still: a long interval keeps
            // the row live for the whole test however slow the machine (it expires 3 intervals on).
            ["Registry:InstanceHeartbeatInterval"] = "00:10:00",
        });

    private async Task<long> ScalarAsync(string sql, string? url = null)
    {
        string name = new Uri(url ?? _database).AbsolutePath.TrimStart('/');
        await using var connection = new NpgsqlConnection(_postgres.ConnectionString(name));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<long> ExecuteAsync(string sql)
    {
        string name = new Uri(_database).AbsolutePath.TrimStart('/');
        await using var connection = new NpgsqlConnection(_postgres.ConnectionString(name));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteNonQueryAsync();
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    private string BlobPath(Digest digest) => Path.Combine(Data, "blobs", digest.Algorithm, digest.Encoded[..2], digest.Encoded);
}
