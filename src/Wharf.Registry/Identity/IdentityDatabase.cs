using Microsoft.Data.Sqlite;

namespace Wharf.Registry.Identity;

/// <summary>
/// The tables of accounts, projects, members and robots, kept in the registry's SQLite file next to the
/// metadata store's tables. The schema is created idempotently on first use; WAL lets readers run
/// while one writer commits.
/// </summary>
public sealed class IdentityDatabase
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS users (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            username TEXT NOT NULL UNIQUE,
            email TEXT,
            realname TEXT,
            comment TEXT,
            password_hash TEXT,
            sysadmin INTEGER NOT NULL DEFAULT 0,
            disabled INTEGER NOT NULL DEFAULT 0,
            token_generation INTEGER NOT NULL DEFAULT 0,
            creation_time INTEGER NOT NULL,
            update_time INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS projects (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            public INTEGER NOT NULL DEFAULT 0,
            owner_id INTEGER,
            storage_limit INTEGER,
            creation_time INTEGER NOT NULL,
            update_time INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS project_members (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            role INTEGER NOT NULL,
            creation_time INTEGER NOT NULL,
            update_time INTEGER NOT NULL,
            UNIQUE (project_id, user_id));
        CREATE INDEX IF NOT EXISTS project_members_user ON project_members(user_id);
        CREATE TABLE IF NOT EXISTS robots (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            description TEXT,
            secret_hash TEXT NOT NULL,
            access INTEGER NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            duration_days INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            token_generation INTEGER NOT NULL DEFAULT 0,
            creation_time INTEGER NOT NULL,
            update_time INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS robots_project ON robots(project_id);
        CREATE TABLE IF NOT EXISTS configurations (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS directory_users (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            dn TEXT NOT NULL,
            groups TEXT NOT NULL,
            groups_read_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS user_groups (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            group_name TEXT NOT NULL,
            group_type INTEGER NOT NULL,
            ldap_group_dn TEXT NOT NULL UNIQUE COLLATE NOCASE,
            creation_time INTEGER NOT NULL,
            update_time INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS project_member_groups (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            group_id INTEGER NOT NULL REFERENCES user_groups(id) ON DELETE CASCADE,
            role INTEGER NOT NULL,
            creation_time INTEGER NOT NULL,
            update_time INTEGER NOT NULL,
            UNIQUE (project_id, group_id));
        CREATE TABLE IF NOT EXISTS directory_user_groups (
            user_id INTEGER NOT NULL REFERENCES directory_users(user_id) ON DELETE CASCADE,
            group_dn TEXT NOT NULL COLLATE NOCASE,
            group_name TEXT NOT NULL,
            PRIMARY KEY (user_id, group_dn));
        CREATE INDEX IF NOT EXISTS directory_user_groups_dn ON directory_user_groups(group_dn);
        CREATE TABLE IF NOT EXISTS portal_sessions (
            id_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            generation INTEGER NOT NULL,
            expires_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS portal_sessions_user ON portal_sessions(user_id);
        """;

    private readonly string _connectionString;
    private readonly string _path;
    private readonly SemaphoreSlim _initLock = new(1, 1);
    private volatile bool _initialized;

    public IdentityDatabase(string path)
    {
        _path = Path.GetFullPath(path);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = _path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string FilePath => _path;

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        if (!_initialized)
        {
            await InitializeAsync(cancellationToken).ConfigureAwait(false);
        }

        return await OpenRawAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await _initLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_initialized)
            {
                return;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
            await using var connection = await OpenRawAsync(cancellationToken).ConfigureAwait(false);
            await using (var wal = connection.CreateCommand())
            {
                wal.CommandText = "PRAGMA journal_mode=WAL;";
                await wal.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await using var command = connection.CreateCommand();
            command.CommandText = Schema;
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await MigrateAsync(connection, cancellationToken).ConfigureAwait(false);

            // The file holds password hashes: only the owner reads it (SQLite gives -wal and -shm the same mode).
            if (!OperatingSystem.IsWindows())
            {
                foreach (string file in new[] { _path, _path + "-wal", _path + "-shm" }.Where(File.Exists))
                {
                    File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                }
            }

            _initialized = true;
        }
        finally
        {
            _initLock.Release();
        }
    }

    /// <summary>
    /// Brings a database of an earlier version up to this schema: the token generation counters (a
    /// refresh token names the generation it was issued in; bumping it revokes them), and names unique
    /// without regard to case. The case-blind unique indexes cannot be built while an older database
    /// holds names that differ only in case; those accounts keep working, and the stores still refuse
    /// any new such name (they check before inserting).
    /// </summary>
    private static async Task MigrateAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        foreach (string table in new[] { "users", "robots" })
        {
            var columns = await connection.QueryAsync($"PRAGMA table_info({table});", r => r.GetString(1), cancellationToken).ConfigureAwait(false);
            if (!columns.Contains("token_generation"))
            {
                await connection.ExecuteAsync($"ALTER TABLE {table} ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;", cancellationToken).ConfigureAwait(false);
            }
        }

        foreach (var (index, table, column) in new[] { ("users_username_nocase", "users", "username"), ("projects_name_nocase", "projects", "name"), ("robots_name_nocase", "robots", "name") })
        {
            try
            {
                await connection.ExecuteAsync($"CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {table}({column} COLLATE NOCASE);", cancellationToken).ConfigureAwait(false);
            }
            catch (SqliteException e) when (e.SqliteErrorCode == Sql.ConstraintViolation)
            {
                // Existing names that differ only in case: see above.
            }
        }

        await Ldap.DirectoryAccounts.MigrateGroupsColumnAsync(connection, cancellationToken).ConfigureAwait(false);
    }

    private async Task<SqliteConnection> OpenRawAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA foreign_keys=ON;";
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}

/// <summary>Small helpers so each store reads as its SQL.</summary>
internal static class Sql
{
    public const int ConstraintViolation = 19;

    public static SqliteCommand Command(this SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    public static async Task<int> ExecuteAsync(this SqliteConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = connection.Command(sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public static async Task<T?> ScalarAsync<T>(this SqliteConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = connection.Command(sql, parameters);
        object? value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return value is null or DBNull ? default : (T)Convert.ChangeType(value, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    public static async Task<List<T>> QueryAsync<T>(this SqliteConnection connection, string sql, Func<SqliteDataReader, T> read, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = connection.Command(sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<T>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(read(reader));
        }

        return list;
    }

    public static string? NullableString(this SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    public static long? NullableInt64(this SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetInt64(ordinal);

    public static DateTimeOffset Time(this SqliteDataReader reader, int ordinal) => DateTimeOffset.FromUnixTimeSeconds(reader.GetInt64(ordinal));

    /// <summary>Escapes a LIKE pattern fragment (used with <c>ESCAPE '\'</c>).</summary>
    public static string LikeContains(string value) =>
        "%" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%";
}
