using Npgsql;
using Wharf.Registry.Data;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Data;

/// <summary>
/// The write locks on PostgreSQL (docs/registry.md "PostgreSQL"): a write of one project's content
/// waits only for writes of the same project and for whole-registry writes; a whole-registry write
/// waits for every project write. Waiting is observed in pg_stat_activity, never by timing.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PostgreSqlLockTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task BeginProjectWrite_OtherProjectGoesOn_SameProjectAndWholeRegistryWait()
    {
        var ct = CancellationToken.None;
        var postgres = await PostgreSqlServer.SharedAsync();
        string url = await postgres.CreateDatabaseAsync("locks");
        try
        {
            using var database = RegistryDatabase.ForPostgreSql(url);
            await using var observer = await database.OpenAsync(ct);

            await using var alpha = (PostgreSqlConnection)await database.OpenAsync(ct);
            await using var alphaWrite = await alpha.BeginProjectWriteAsync(["alpha"], ct);
            await alpha.ExecuteAsync("SELECT 1;", ct); // the locks go with the first statement

            // Another project's write is not held up by alpha's (it would wait here forever otherwise).
            await using (var beta = (PostgreSqlConnection)await database.OpenAsync(ct))
            {
                await using var betaWrite = await beta.BeginProjectWriteAsync(["beta"], ct);
                await beta.ExecuteAsync("INSERT INTO repositories(name, project, created_at) VALUES('beta/x', 'beta', 1);", ct).WaitAsync(Patience, ct);
                await betaWrite.CommitAsync(ct);
            }

            // A write naming alpha among its projects waits for alpha's lock ...
            await using var both = (PostgreSqlConnection)await database.OpenAsync(ct);
            await using var bothWrite = await both.BeginProjectWriteAsync(["gamma", "alpha"], ct);
            var bothStatement = both.ExecuteAsync("SELECT 1;", ct);
            await WaitUntilWaitingForLockAsync(observer, both.Inner.ProcessID);

            // ... and so does a whole-registry write (an ordinary transaction).
            await using var whole = (PostgreSqlConnection)await database.OpenAsync(ct);
            await using var wholeWrite = await whole.BeginTransactionAsync(ct);
            var wholeStatement = whole.ExecuteAsync("SELECT 1;", ct);
            await WaitUntilWaitingForLockAsync(observer, whole.Inner.ProcessID);
            Assert.False(bothStatement.IsCompleted);
            Assert.False(wholeStatement.IsCompleted);

            await alphaWrite.CommitAsync(ct);
            await bothStatement.WaitAsync(Patience, ct);
            await WaitUntilWaitingForLockAsync(observer, whole.Inner.ProcessID); // still: "both" holds its share
            Assert.False(wholeStatement.IsCompleted);
            await bothWrite.CommitAsync(ct);
            await wholeStatement.WaitAsync(Patience, ct);
            await wholeWrite.CommitAsync(ct);

            Assert.Equal(1L, await observer.ScalarAsync<long>("SELECT COUNT(*) FROM repositories WHERE name = 'beta/x';", ct));
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await postgres.DropDatabaseAsync(url);
        }
    }

    [Fact]
    public async Task BeginProjectWrite_WhileWholeRegistryWriteHolds_Waits()
    {
        var ct = CancellationToken.None;
        var postgres = await PostgreSqlServer.SharedAsync();
        string url = await postgres.CreateDatabaseAsync("locks");
        try
        {
            using var database = RegistryDatabase.ForPostgreSql(url);
            await using var observer = await database.OpenAsync(ct);
            await using var whole = (PostgreSqlConnection)await database.OpenAsync(ct);
            await using var wholeWrite = await whole.BeginTransactionAsync(ct);
            await whole.ExecuteAsync("SELECT 1;", ct);

            await using var project = (PostgreSqlConnection)await database.OpenAsync(ct);
            await using var projectWrite = await project.BeginProjectWriteAsync(["alpha"], ct);
            var statement = project.ExecuteAsync("SELECT 1;", ct);
            await WaitUntilWaitingForLockAsync(observer, project.Inner.ProcessID);
            Assert.False(statement.IsCompleted);

            await wholeWrite.CommitAsync(ct);
            await statement.WaitAsync(Patience, ct);
            await projectWrite.CommitAsync(ct);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await postgres.DropDatabaseAsync(url);
        }
    }

    // Until the backend of pid waits on a lock (an advisory lock: the only locks these statements take).
    private static async Task WaitUntilWaitingForLockAsync(System.Data.Common.DbConnection observer, int pid)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            string? waitingOn = await observer.ScalarAsync<string>(
                "SELECT l.locktype FROM pg_locks l WHERE l.pid = $p AND NOT l.granted LIMIT 1;", CancellationToken.None, ("$p", (long)pid));
            if (waitingOn == "advisory")
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"backend {pid} never waited for an advisory lock");
            await Task.Delay(50);
        }
    }
}
