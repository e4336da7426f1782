using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Wharf.Registry.Data;

/// <summary>Small helpers so each store reads as its SQL.</summary>
public static class Sql
{
    /// <summary>SQLite's primary result code for a violated constraint (UNIQUE, FOREIGN KEY, NOT NULL, CHECK).</summary>
    public const int SqliteConstraint = 19;

    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;
    private const int SqliteFull = 13;
    private const int SqliteConstraintPrimaryKey = 1555;
    private const int SqliteConstraintUnique = 2067;

    public static DbCommand Command(this DbConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.AddParameter(name, value);
        }

        return command;
    }

    /// <summary>Binds <paramref name="value"/> (null as SQL NULL) to the parameter <paramref name="name"/> (written <c>$name</c> in the SQL).</summary>
    public static DbParameter AddParameter(this DbCommand command, string name, object? value)
    {
        ArgumentNullException.ThrowIfNull(command);
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
        return parameter;
    }

    // ---- errors, classified once for both databases ------------------------------------------

    /// <summary>Any integrity constraint: SQLite's SQLITE_CONSTRAINT, PostgreSQL's class 23.</summary>
    public static bool IsConstraintViolation(DbException exception) => exception switch
    {
        SqliteException sqlite => sqlite.SqliteErrorCode == SqliteConstraint,
        _ => exception?.SqlState?.StartsWith("23", StringComparison.Ordinal) == true,
    };

    /// <summary>A UNIQUE or PRIMARY KEY constraint: SQLite's extended codes 2067/1555, PostgreSQL's 23505.</summary>
    public static bool IsUniqueViolation(DbException exception) => exception switch
    {
        SqliteException sqlite => sqlite.SqliteExtendedErrorCode is SqliteConstraintUnique or SqliteConstraintPrimaryKey,
        _ => exception?.SqlState == "23505",
    };

    /// <summary>
    /// Another writer held the lock too long (SQLite's BUSY/LOCKED after the busy timeout), or
    /// PostgreSQL gave up on a serialization failure, a deadlock or a lock wait (40001, 40P01, 55P03).
    /// </summary>
    public static bool IsBusy(DbException exception) => exception switch
    {
        SqliteException sqlite => sqlite.SqliteErrorCode is SqliteBusy or SqliteLocked,
        _ => exception?.SqlState is "40001" or "40P01" or "55P03",
    };

    /// <summary>
    /// The database cannot take this request now, though nothing is wrong with the request: busy
    /// (<see cref="IsBusy"/>), out of connections (PostgreSQL's 53300 too_many_connections, Npgsql's
    /// pool exhausted within its timeout), starting or stopping (57P01-57P03), or not answering at all
    /// (a connection refused or timed out). A client should try again; no data was changed.
    /// </summary>
    public static bool IsUnavailable(DbException exception) => exception switch
    {
        null => false,
        _ when IsBusy(exception) => true,
        SqliteException => false,
        _ when exception.SqlState is "53300" or "57P01" or "57P02" or "57P03" => true,
        // Npgsql's own failures (no server answer): pool exhausted, connect refused or timed out.
        Npgsql.NpgsqlException { InnerException: TimeoutException or System.Net.Sockets.SocketException } => exception.SqlState is null,
        _ => false,
    };

    /// <summary>The database's disk is full: SQLITE_FULL, PostgreSQL's 53100 (disk_full).</summary>
    public static bool IsDiskFull(DbException exception) => exception switch
    {
        SqliteException sqlite => sqlite.SqliteErrorCode == SqliteFull,
        _ => exception?.SqlState == "53100",
    };

    public static async Task<int> ExecuteAsync(this DbConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = connection.Command(sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public static async Task<T?> ScalarAsync<T>(this DbConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = connection.Command(sql, parameters);
        object? value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return value is null or DBNull ? default : (T)Convert.ChangeType(value, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    public static async Task<List<T>> QueryAsync<T>(this DbConnection connection, string sql, Func<DbDataReader, T> read, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
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

    public static string? NullableString(this DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    public static long? NullableInt64(this DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetInt64(ordinal);

    /// <summary>A time column: Unix milliseconds, as every time in the database is (Data/Migrations.cs).</summary>
    public static DateTimeOffset Time(this DbDataReader reader, int ordinal) => DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(ordinal));

    /// <summary>How a time is written: Unix milliseconds.</summary>
    public static long Stored(this DateTimeOffset at) => at.ToUnixTimeMilliseconds();

    /// <summary>Escapes a LIKE pattern fragment (used with <c>ESCAPE '\'</c>).</summary>
    public static string LikeContains(string value) =>
        "%" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%";
}
