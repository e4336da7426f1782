using System.Globalization;
using System.Data.Common;

namespace Wharf.Registry.Data;

/// <summary>
/// Applies <see cref="Migrations.All"/> in order. Each migration runs in its own IMMEDIATE
/// transaction together with the <c>schema_migrations</c> row that records it, so a crash leaves it
/// either applied and recorded or neither; two processes starting at once serialise on the write
/// lock and the second finds the work done. A database that records a version this wharfd does not
/// know was written by a newer one, and is refused rather than guessed at.
/// </summary>
public static class MigrationRunner
{
    public static async Task<IReadOnlyList<int>> RunAsync(DbConnection connection, IReadOnlyList<Migration> migrations, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(migrations);
        for (int i = 0; i < migrations.Count; i++)
        {
            if (migrations[i].Version != i + 1)
            {
                throw new InvalidOperationException($"migration {migrations[i].Version} ({migrations[i].Description}) is at position {i + 1}: the list must be numbered 1, 2, 3, … without gaps");
            }
        }

        // PostgreSQL: one instance migrates while others starting at the same time wait here, then
        // find the work done (SQLite gets the same from each migration's IMMEDIATE transaction).
        bool postgres = connection is PostgreSqlConnection;
        if (postgres)
        {
            await connection.ExecuteAsync("SELECT pg_advisory_lock($k);", cancellationToken, ("$k", PostgreSqlConnection.MigrationLockKey)).ConfigureAwait(false);
        }

        try
        {
            return await RunLockedAsync(connection, migrations, postgres, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (postgres)
            {
                await connection.ExecuteAsync("SELECT pg_advisory_unlock($k);", CancellationToken.None, ("$k", PostgreSqlConnection.MigrationLockKey)).ConfigureAwait(false);
            }
        }
    }

    private static async Task<IReadOnlyList<int>> RunLockedAsync(DbConnection connection, IReadOnlyList<Migration> migrations, bool postgres, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL);",
            cancellationToken).ConfigureAwait(false);

        var ran = new List<int>();
        foreach (var migration in migrations)
        {
            await using var transaction = (DbTransaction)await connection.BeginTransactionAsync(System.Data.IsolationLevel.Serializable, cancellationToken).ConfigureAwait(false);
            long newest = await connection.ScalarAsync<long>("SELECT COALESCE(MAX(version), 0) FROM schema_migrations;", cancellationToken).ConfigureAwait(false);
            if (newest > migrations.Count)
            {
                throw new InvalidOperationException(
                    $"the database is at schema version {newest}, newer than this wharfd knows ({migrations.Count}); run the wharfd that wrote it, or a newer one");
            }

            if (await connection.ScalarAsync<long>("SELECT COUNT(*) FROM schema_migrations WHERE version = $v;", cancellationToken, ("$v", migration.Version)).ConfigureAwait(false) > 0)
            {
                continue;
            }

            if (migration.Sql.Length > 0)
            {
                await connection.ExecuteAsync(migration.Sql, cancellationToken).ConfigureAwait(false);
            }

            if (migration.Code is { } code)
            {
                await code(connection, cancellationToken).ConfigureAwait(false);
            }

            await connection.ExecuteAsync(
                "INSERT INTO schema_migrations (version, description, applied_at) VALUES ($v, $d, $t);", cancellationToken,
                ("$v", migration.Version), ("$d", migration.Description), ("$t", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())).ConfigureAwait(false);

            // user_version mirrors the newest version for tools that look there (sqlite3's .dbinfo);
            // schema_migrations is what counts. Earlier wharfd versions set it to 1 or 2 for the
            // metadata tables alone; the baseline covers those databases whatever it said.
            if (!postgres)
            {
                await connection.ExecuteAsync(string.Create(CultureInfo.InvariantCulture, $"PRAGMA user_version={migration.Version};"), cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            ran.Add(migration.Version);
        }

        return ran;
    }
}
