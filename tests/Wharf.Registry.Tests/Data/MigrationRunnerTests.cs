using Microsoft.Data.Sqlite;
using Wharf.Registry.Data;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Data;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class MigrationRunnerTests
{
    private static readonly Migration[] TwoSteps =
    [
        new(1, "a table", "CREATE TABLE a (x INTEGER NOT NULL);"),
        new(2, "a row", "INSERT INTO a (x) VALUES (1);"),
    ];

    [Fact]
    public void All_IsNumberedFromOneWithoutGaps()
    {
        Assert.Equal(Enumerable.Range(1, Migrations.All.Count), Migrations.All.Select(m => m.Version));
    }

    [Fact]
    public async Task RunAsync_Twice_AppliesEachMigrationOnce()
    {
        using var directory = new TempDirectory();
        await using var c = await OpenAsync(directory);

        Assert.Equal([1, 2], await MigrationRunner.RunAsync(c, TwoSteps, CancellationToken.None));
        Assert.Empty(await MigrationRunner.RunAsync(c, TwoSteps, CancellationToken.None));

        Assert.Equal(1L, await c.ScalarAsync<long>("SELECT COUNT(*) FROM a;", CancellationToken.None));
        Assert.Equal(2L, await c.ScalarAsync<long>("PRAGMA user_version;", CancellationToken.None));
    }

    [Fact]
    public async Task RunAsync_AppendedMigration_RunsOnlyTheNewOne()
    {
        using var directory = new TempDirectory();
        await using var c = await OpenAsync(directory);
        await MigrationRunner.RunAsync(c, TwoSteps, CancellationToken.None);

        Migration[] three = [.. TwoSteps, new(3, "a column", "ALTER TABLE a ADD COLUMN y TEXT;")];
        Assert.Equal([3], await MigrationRunner.RunAsync(c, three, CancellationToken.None));
        Assert.Equal(1L, await c.ScalarAsync<long>("SELECT COUNT(*) FROM a;", CancellationToken.None));
    }

    [Fact]
    public async Task RunAsync_FailingMigration_LeavesNothingOfItAndKeepsEarlierOnes()
    {
        using var directory = new TempDirectory();
        await using var c = await OpenAsync(directory);
        Migration[] failing = [TwoSteps[0], new(2, "half done", "INSERT INTO a (x) VALUES (1); INSERT INTO a (x) VALUES (NULL);")];

        await Assert.ThrowsAsync<SqliteException>(() => MigrationRunner.RunAsync(c, failing, CancellationToken.None));

        Assert.Equal(0L, await c.ScalarAsync<long>("SELECT COUNT(*) FROM a;", CancellationToken.None));
        Assert.Equal([1L], await c.QueryAsync("SELECT version FROM schema_migrations;", r => r.GetInt64(0), CancellationToken.None));
        Assert.Equal([2], await MigrationRunner.RunAsync(c, TwoSteps, CancellationToken.None));
    }

    [Fact]
    public async Task RunAsync_DatabaseOfNewerWharfd_IsRefusedAndLeftAsItIs()
    {
        using var directory = new TempDirectory();
        await using var c = await OpenAsync(directory);
        await MigrationRunner.RunAsync(c, [.. TwoSteps, new(3, "newer", "CREATE TABLE b (y INTEGER);")], CancellationToken.None);

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => MigrationRunner.RunAsync(c, TwoSteps, CancellationToken.None));

        Assert.Contains("schema version 3, newer than this wharfd knows (2)", e.Message, StringComparison.Ordinal);
        Assert.Equal(3L, await c.ScalarAsync<long>("SELECT MAX(version) FROM schema_migrations;", CancellationToken.None));
    }

    [Fact]
    public async Task RunAsync_ListWithAGap_IsRefusedBeforeAnythingRuns()
    {
        using var directory = new TempDirectory();
        await using var c = await OpenAsync(directory);

        await Assert.ThrowsAsync<InvalidOperationException>(() => MigrationRunner.RunAsync(c, [TwoSteps[0], new(3, "skipped 2", "SELECT 1;")], CancellationToken.None));

        Assert.Equal(0L, await c.ScalarAsync<long>("SELECT COUNT(*) FROM sqlite_master WHERE name = 'a';", CancellationToken.None));
    }

    [Fact]
    public async Task OpenAsync_PooledConnections_CarryTheirPragmas()
    {
        using var directory = new TempDirectory();
        using var database = new RegistryDatabase(Path.Combine(directory.Path, "registry.db"));
        for (int i = 0; i < 3; i++)
        {
            // The second and third opens reuse the pooled connection, which keeps what the first set.
            await using var c = await database.OpenAsync(CancellationToken.None);
            Assert.Equal(1L, await c.ScalarAsync<long>("PRAGMA foreign_keys;", CancellationToken.None));
            Assert.Equal(2L, await c.ScalarAsync<long>("PRAGMA synchronous;", CancellationToken.None)); // FULL
            Assert.Equal(30000L, await c.ScalarAsync<long>("PRAGMA busy_timeout;", CancellationToken.None));
            Assert.Equal("wal", await c.ScalarAsync<string>("PRAGMA journal_mode;", CancellationToken.None));
        }

        Assert.Equal(PrivateModes, File.GetUnixFileMode(database.FilePath));
    }

    [Fact]
    public async Task OpenAsync_CancelledToken_Throws()
    {
        using var directory = new TempDirectory();
        using var database = new RegistryDatabase(Path.Combine(directory.Path, "registry.db"));
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => database.OpenAsync(cancelled.Token));
    }

    private const UnixFileMode PrivateModes = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private static async Task<SqliteConnection> OpenAsync(TempDirectory directory)
    {
        var c = new SqliteConnection($"Data Source={Path.Combine(directory.Path, "m.db")};Pooling=False");
        await c.OpenAsync();
        return c;
    }
}
