using System.Data;
using System.Data.Common;
using Npgsql;
using Wharf.Registry.Data;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Data;

/// <summary>
/// <see cref="GroupCommit{TWork, TResult}"/> on real databases (a SQLite file, Debian's PostgreSQL):
/// writers queued behind a running commit share the next transaction, and each gets its own outcome.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class GroupCommitTests
{
    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task SubmitAsync_WritersQueuedBehindACommit_ShareOneTransaction_EachWithItsOwnOutcome(string backend)
    {
        await using var scratch = await ScratchDatabase.CreateAsync(backend);
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var commits = new GroupCommit<string, long>(scratch.Database.OpenAsync, BeginAsync, async (c, key, ct) =>
        {
            await c.ExecuteAsync("INSERT INTO group_commit_test(k, v) VALUES($k, 1);", ct, ("$k", key));
            if (key == "first")
            {
                first.TrySetResult();
                await release.Task; // holds the flusher: everything submitted meanwhile queues up
            }

            if (key.StartsWith("refused", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"{key} refused after writing its row");
            }

            return await c.ScalarAsync<long>("SELECT COUNT(*) FROM group_commit_test;", ct);
        });

        var firstTask = commits.SubmitAsync("first", CancellationToken.None);
        await first.Task.WaitAsync(TimeSpan.FromSeconds(30));

        using var gone = new CancellationTokenSource();
        var queued = new List<(string Key, Task<long> Task)>();
        foreach (string key in new[] { "a", "b", "refused-1", "c", "a", "d", "refused-2", "e" })
        {
            queued.Add((key, commits.SubmitAsync(key, CancellationToken.None)));
        }

        var cancelled = commits.SubmitAsync("cancelled", gone.Token);
        await gone.CancelAsync();
        release.SetResult();

        Assert.Equal(1, await firstTask);
        foreach (var (key, task) in queued.Where(q => q.Key.Length == 1).DistinctBy(q => q.Key))
        {
            Assert.True(await task > 1, $"{key} committed");
        }

        // The refusals get their own exception; the second "a" its own unique violation.
        foreach (var (key, task) in queued.Where(q => q.Key.StartsWith("refused", StringComparison.Ordinal)))
        {
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => task);
            Assert.Contains(key, e.Message, StringComparison.Ordinal);
        }

        var duplicate = queued.Where(q => q.Key == "a").Skip(1).Single().Task;
        var violation = await Assert.ThrowsAnyAsync<DbException>(() => duplicate);
        Assert.True(Sql.IsUniqueViolation(violation), violation.Message);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);

        // Two transactions: "first" alone, then the eight queued behind it (the cancelled one never ran).
        Assert.Equal(2, commits.Commits);
        Assert.Equal(6, commits.Writes);
        await using var c = await scratch.Database.OpenAsync(CancellationToken.None);
        Assert.Equal(["a", "b", "c", "d", "e", "first"], await c.QueryAsync("SELECT k FROM group_commit_test ORDER BY k;", r => r.GetString(0), CancellationToken.None));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task SubmitAsync_AloneAndRefused_CommitsNothing_NextWriterUnaffected(string backend)
    {
        await using var scratch = await ScratchDatabase.CreateAsync(backend);
        var commits = new GroupCommit<string, int>(scratch.Database.OpenAsync, BeginAsync, async (c, key, ct) =>
        {
            await c.ExecuteAsync("INSERT INTO group_commit_test(k, v) VALUES($k, 1);", ct, ("$k", key));
            return key == "refused" ? throw new InvalidOperationException("refused") : 1;
        });

        await Assert.ThrowsAsync<InvalidOperationException>(() => commits.SubmitAsync("refused", CancellationToken.None));
        Assert.Equal(1, await commits.SubmitAsync("kept", CancellationToken.None));
        var duplicate = await Assert.ThrowsAnyAsync<DbException>(() => commits.SubmitAsync("kept", CancellationToken.None));
        Assert.True(Sql.IsUniqueViolation(duplicate), duplicate.Message);

        await using var c = await scratch.Database.OpenAsync(CancellationToken.None);
        Assert.Equal(["kept"], await c.QueryAsync("SELECT k FROM group_commit_test ORDER BY k;", r => r.GetString(0), CancellationToken.None));
        Assert.Equal(1, commits.Commits);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task SubmitAsync_ManyConcurrentWriters_EveryOneCommittedOnce(string backend)
    {
        await using var scratch = await ScratchDatabase.CreateAsync(backend);
        var commits = new GroupCommit<int, int>(scratch.Database.OpenAsync, BeginAsync, async (c, i, ct) =>
        {
            await c.ExecuteAsync("INSERT INTO group_commit_test(k, v) VALUES($k, $v);", ct, ("$k", $"w{i}"), ("$v", i));
            return i;
        });

        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(() => commits.SubmitAsync(i, CancellationToken.None))));

        Assert.Equal(Enumerable.Range(0, 200), results);
        Assert.Equal(200, commits.Writes);
        Assert.InRange(commits.Commits, 1, 200);
        await using var c = await scratch.Database.OpenAsync(CancellationToken.None);
        Assert.Equal(200, await c.ScalarAsync<long>("SELECT COUNT(*) FROM group_commit_test;", CancellationToken.None));
    }

    private static async Task<DbTransaction> BeginAsync(DbConnection c, CancellationToken ct) =>
        (DbTransaction)await c.BeginTransactionAsync(IsolationLevel.Serializable, ct);

    /// <summary>A registry database of its own, SQLite in a temp directory or a new PostgreSQL database, with a scratch table.</summary>
    private sealed class ScratchDatabase : IAsyncDisposable
    {
        private readonly TempDirectory? _directory;
        private readonly string? _url;

        private ScratchDatabase(RegistryDatabase database, TempDirectory? directory, string? url)
        {
            Database = database;
            _directory = directory;
            _url = url;
        }

        public RegistryDatabase Database { get; }

        public static async Task<ScratchDatabase> CreateAsync(string backend)
        {
            ScratchDatabase scratch;
            if (backend == "postgresql")
            {
                var postgres = await PostgreSqlServer.SharedAsync();
                string url = await postgres.CreateDatabaseAsync("groupcommit");
                scratch = new ScratchDatabase(RegistryDatabase.ForPostgreSql(url), null, url);
            }
            else
            {
                var directory = new TempDirectory();
                scratch = new ScratchDatabase(new RegistryDatabase(Path.Combine(directory.Path, "registry.db")), directory, null);
            }

            await using var c = await scratch.Database.OpenAsync(CancellationToken.None);
            await c.ExecuteAsync("CREATE TABLE group_commit_test(k TEXT PRIMARY KEY, v INTEGER NOT NULL);", CancellationToken.None);
            return scratch;
        }

        public async ValueTask DisposeAsync()
        {
            Database.Dispose();
            if (_url is not null)
            {
                NpgsqlConnection.ClearAllPools();
                await (await PostgreSqlServer.SharedAsync()).DropDatabaseAsync(_url);
            }

            _directory?.Dispose();
        }
    }
}
