using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Wharf.Registry.Data;

/// <summary>
/// The one way into <c>registry.db</c>: every store of the registry (metadata, accounts, audit,
/// replication, proxy cache, portal sessions) opens its connections here.
/// <list type="bullet">
/// <item>The schema is <see cref="Migrations.All"/>, brought up to date before the first connection is
/// handed out (<see cref="MigrationRunner"/>).</item>
/// <item>Connections are pooled (Microsoft.Data.Sqlite's pool); each physical connection gets its
/// PRAGMAs once, when it is first opened: foreign keys on, <c>synchronous=FULL</c> (a committed
/// transaction survives a power cut, WAL makes that one fsync per commit), a busy timeout so a writer
/// waits for another instead of failing.</item>
/// <item>Everything is async and takes the caller's <see cref="CancellationToken"/>.</item>
/// </list>
/// A PostgreSQL provider would be a second implementation of this seam (open a connection, run the
/// same numbered list), which is why nothing outside <c>Data/</c> creates a connection.
/// </summary>
public sealed class RegistryDatabase : IDisposable
{
    /// <summary>How long a statement waits for another writer's lock before it fails with SQLITE_BUSY.</summary>
    public static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(30);

    private const string ConnectionPragmas = "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000;";

    // Physical connections (the pooled sqlite3 handles) that already have their PRAGMAs.
    private readonly ConditionalWeakTable<sqlite3, object> _prepared = [];
    private readonly SemaphoreSlim _migrateLock = new(1, 1);
    private readonly IReadOnlyList<Migration> _migrations;
    private volatile bool _migrated;

    public RegistryDatabase(string path, IReadOnlyList<Migration>? migrations = null)
    {
        FilePath = Path.GetFullPath(path);
        _migrations = migrations ?? Migrations.All;
        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = FilePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = (int)BusyTimeout.TotalSeconds,
        }.ToString();
    }

    public string FilePath { get; }

    /// <summary>What differs between the SQL of SQLite and PostgreSQL (Data/SqlDialect.cs).</summary>
    public SqlDialect Dialect { get; } = SqlDialect.Sqlite;

    public string ConnectionString { get; }

    /// <summary>An open connection, the schema up to date. Dispose it to return it to the pool.</summary>
    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        if (!_migrated)
        {
            await InitializeAsync(cancellationToken).ConfigureAwait(false);
        }

        return await OpenRawAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates the file (private to its owner) and runs the migrations it has not run yet.</summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await _migrateLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_migrated)
            {
                return;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
            if (!OperatingSystem.IsWindows() && !File.Exists(FilePath))
            {
                // The file holds password hashes: only the owner reads it (SQLite gives -wal and -shm the same mode).
                using (File.Open(FilePath, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }))
                {
                }
            }

            await using (var connection = await OpenRawAsync(cancellationToken).ConfigureAwait(false))
            {
                await connection.ExecuteAsync("PRAGMA journal_mode=WAL;", cancellationToken).ConfigureAwait(false);
                await MigrationRunner.RunAsync(connection, _migrations, cancellationToken).ConfigureAwait(false);
            }

            if (!OperatingSystem.IsWindows())
            {
                foreach (string file in new[] { FilePath, FilePath + "-wal", FilePath + "-shm" }.Where(File.Exists))
                {
                    File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                }
            }

            _migrated = true;
        }
        finally
        {
            _migrateLock.Release();
        }
    }

    /// <summary>Closes the idle pooled connections of this file (so the file can be moved, or its filesystem unmounted).</summary>
    public void ClearPool()
    {
        using var connection = new SqliteConnection(ConnectionString);
        SqliteConnection.ClearPool(connection);
    }

    public void Dispose()
    {
        ClearPool();
        _migrateLock.Dispose();
    }

    private async Task<SqliteConnection> OpenRawAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            var handle = connection.Handle!;
            if (!_prepared.TryGetValue(handle, out _))
            {
                await connection.ExecuteAsync(ConnectionPragmas, cancellationToken).ConfigureAwait(false);
                _prepared.AddOrUpdate(handle, this);
            }

            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
