using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Npgsql;
using SQLitePCL;

namespace Wharf.Registry.Data;

/// <summary>
/// The one way into the registry's database: every store of the registry (metadata, accounts, audit,
/// replication, proxy cache, portal sessions) opens its connections here. Two databases:
/// <list type="bullet">
/// <item>SQLite (the embedded default): <c>registry.db</c> in the data directory. Connections are
/// pooled (Microsoft.Data.Sqlite's pool); each physical connection gets its PRAGMAs once, when it is
/// first opened: foreign keys on, <c>synchronous=FULL</c> (a committed transaction survives a power
/// cut, WAL makes that one fsync per commit), a busy timeout so a writer waits for another instead of
/// failing.</item>
/// <item>PostgreSQL (<c>--database postgresql://…</c>), through Npgsql's pooled data source; the
/// stores' SQL goes through <see cref="PostgreSqlDialect"/> and their transactions serialise like
/// SQLite's (<see cref="PostgreSqlConnection.WriteLockKey"/>).</item>
/// </list>
/// On both, the schema is <see cref="Migrations.All"/>, brought up to date before the first
/// connection is handed out (<see cref="MigrationRunner"/>), and everything is async with the
/// caller's <see cref="CancellationToken"/>.
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
    private readonly NpgsqlDataSource? _postgres;
    private readonly string? _filePath;
    private volatile bool _migrated;

    /// <summary>The SQLite database at <paramref name="path"/>.</summary>
    public RegistryDatabase(string path, IReadOnlyList<Migration>? migrations = null)
    {
        _filePath = Path.GetFullPath(path);
        _migrations = migrations ?? Migrations.All;
        Dialect = SqlDialect.Sqlite;
        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = _filePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = (int)BusyTimeout.TotalSeconds,
        }.ToString();
    }

    private RegistryDatabase(NpgsqlConnectionStringBuilder postgres, IReadOnlyList<Migration>? migrations)
    {
        _migrations = migrations ?? Migrations.All;
        Dialect = PostgreSqlDialect.Instance;
        ConnectionString = postgres.ConnectionString;
        _postgres = NpgsqlDataSource.Create(postgres);
    }

    /// <summary>
    /// The database <paramref name="database"/> names: a <c>postgresql://</c> (or <c>postgres://</c>)
    /// URL, else — when it is null or empty — SQLite's <c>registry.db</c> in <paramref name="dataDirectory"/>.
    /// </summary>
    public static RegistryDatabase Create(string? database, string dataDirectory, IReadOnlyList<Migration>? migrations = null) =>
        string.IsNullOrWhiteSpace(database)
            ? new RegistryDatabase(Path.Combine(dataDirectory, "registry.db"), migrations)
            : new RegistryDatabase(PostgreSqlUrl.Parse(database), migrations);

    /// <summary>A PostgreSQL database (tests, <c>wharfd migrate</c>).</summary>
    public static RegistryDatabase ForPostgreSql(string url, IReadOnlyList<Migration>? migrations = null) =>
        new(PostgreSqlUrl.Parse(url), migrations);

    /// <summary>The SQLite file (a PostgreSQL database has none).</summary>
    public string FilePath => _filePath ?? throw new InvalidOperationException("the registry database is PostgreSQL: it has no file");

    /// <summary>What differs between the SQL of SQLite and PostgreSQL.</summary>
    public SqlDialect Dialect { get; }

    public bool IsPostgreSql => _postgres is not null;

    /// <summary>The provider's connection string (on PostgreSQL it carries the password: never log it).</summary>
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

    /// <summary>
    /// Whether a wharfd has made its schema here (a <c>schema_migrations</c> table), without creating
    /// or migrating anything: an offline command must not turn a mistyped database into a registry.
    /// </summary>
    public async Task<bool> HasSchemaAsync(CancellationToken cancellationToken)
    {
        if (_postgres is null && !File.Exists(FilePath))
        {
            return false;
        }

        await using var connection = await OpenRawAsync(cancellationToken).ConfigureAwait(false);
        long found = await connection.ScalarAsync<long>(_postgres is not null
            ? "SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = 'schema_migrations' AND schemaname = current_schema()"
            : "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'", cancellationToken).ConfigureAwait(false);
        return found > 0;
    }

    /// <summary>Creates the database if it is a new SQLite file (private to its owner) and runs the migrations it has not run yet.</summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await _migrateLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_migrated)
            {
                return;
            }

            if (_postgres is not null)
            {
                await using var connection = await OpenRawAsync(cancellationToken).ConfigureAwait(false);
                await MigrationRunner.RunAsync(connection, _migrations, cancellationToken).ConfigureAwait(false);
                _migrated = true;
                return;
            }

            string file = FilePath;
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            if (!OperatingSystem.IsWindows() && !File.Exists(file))
            {
                // The file holds password hashes: only the owner reads it (SQLite gives -wal and -shm the same mode).
                using (File.Open(file, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }))
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
                foreach (string path in new[] { file, file + "-wal", file + "-shm" }.Where(File.Exists))
                {
                    File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                }
            }

            _migrated = true;
        }
        finally
        {
            _migrateLock.Release();
        }
    }

    /// <summary>
    /// Makes the next transaction on <paramref name="connection"/> a lazy commit: written, not flushed
    /// to disk before COMMIT returns. Only for writes whose loss in a power cut is acceptable (they
    /// were never acknowledged as durable to anyone: the audit log's queued entries). A crash keeps the
    /// database consistent and loses at most the lazy commits since the last flush; the next durable
    /// commit of any connection flushes them with its own (the log is one file, written in order).
    /// On SQLite this is <c>synchronous=NORMAL</c> on the connection until the returned object is
    /// disposed (then <c>FULL</c> again, before the connection goes back to the pool); on PostgreSQL,
    /// <c>SET LOCAL synchronous_commit = off</c>, which <see cref="LazyCommit.InTransactionAsync"/>
    /// issues once the transaction has begun. Begin the transaction after this call, dispose it before
    /// the returned object.
    /// </summary>
    public async Task<LazyCommit> LazyCommitAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (_postgres is null)
        {
            await connection.ExecuteAsync("PRAGMA synchronous=NORMAL;", cancellationToken).ConfigureAwait(false);
        }

        return new LazyCommit(connection, _postgres is not null);
    }

    /// <summary>See <see cref="LazyCommitAsync"/>.</summary>
    public sealed class LazyCommit : IAsyncDisposable
    {
        private readonly DbConnection _connection;
        private readonly bool _postgres;

        internal LazyCommit(DbConnection connection, bool postgres)
        {
            _connection = connection;
            _postgres = postgres;
        }

        /// <summary>Call right after BEGIN (PostgreSQL's setting is per transaction).</summary>
        public async Task InTransactionAsync(DbConnection connection, CancellationToken cancellationToken)
        {
            if (_postgres)
            {
                await connection.ExecuteAsync("SET LOCAL synchronous_commit = off;", cancellationToken).ConfigureAwait(false);
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!_postgres)
            {
                // Back to FULL before the connection returns to the pool: the next user's commits are durable again.
                try
                {
                    await _connection.ExecuteAsync("PRAGMA synchronous=FULL;", CancellationToken.None).ConfigureAwait(false);
                }
                catch (SqliteException)
                {
                    // Never hand a lazy connection to someone else: the pool closes it instead of reusing it.
                    SqliteConnection.ClearPool((SqliteConnection)_connection);
                    throw;
                }
            }
        }
    }

    /// <summary>Closes the idle pooled connections (so a SQLite file can be moved, or its filesystem unmounted).</summary>
    public void ClearPool()
    {
        if (_postgres is not null)
        {
            _postgres.Clear();
            return;
        }

        using var connection = new SqliteConnection(ConnectionString);
        SqliteConnection.ClearPool(connection);
    }

    public void Dispose()
    {
        ClearPool();
        _postgres?.Dispose();
        _migrateLock.Dispose();
    }

    private async Task<DbConnection> OpenRawAsync(CancellationToken cancellationToken)
    {
        if (_postgres is not null)
        {
            return new PostgreSqlConnection(await _postgres.OpenConnectionAsync(cancellationToken).ConfigureAwait(false));
        }

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
