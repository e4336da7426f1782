using System.Data;
using System.Data.Common;
using System.Diagnostics.CodeAnalysis;
using Npgsql;

namespace Wharf.Registry.Data;

/// <summary>
/// A connection to the registry's PostgreSQL database as the stores see it: an Npgsql connection
/// whose commands run through <see cref="PostgreSqlDialect"/> (so the stores keep one SQL text), whose
/// parameter values are bound as SQLite would store them (a bool as 0/1, an enum as its number), and
/// whose transactions serialise writers the way SQLite's IMMEDIATE transactions do (see
/// <see cref="WriteLockKey"/>).
/// </summary>
[SuppressMessage("Design", "CA1010", Justification = "ADO.NET base types")]
public sealed class PostgreSqlConnection(NpgsqlConnection inner) : DbConnection
{
    /// <summary>
    /// The transaction-scoped advisory lock every registry transaction takes right after BEGIN.
    /// SQLite runs one write transaction at a time (BEGIN IMMEDIATE takes the write lock), and the
    /// stores rely on it: a quota check and the link it allows, a blob's link and GC's sweep, an
    /// upload session's commit, "insert unless a case-blind twin exists" are each checked and
    /// written in one transaction. Taking one lock at BEGIN gives PostgreSQL the same order across
    /// every wharfd instance sharing the database; it is released at COMMIT or ROLLBACK, and a
    /// crashed instance's session ends, releasing it.
    /// </summary>
    public const long WriteLockKey = 0x5768_6172_6601; // "Wharf" + 1

    /// <summary>The session-scoped advisory lock held while migrations run (two instances starting at once: one migrates).</summary>
    public const long MigrationLockKey = 0x5768_6172_6602;

    public NpgsqlConnection Inner => inner;

    [AllowNull]
    public override string ConnectionString
    {
        get => inner.ConnectionString;
        set => inner.ConnectionString = value;
    }

    public override string Database => inner.Database;

    public override string DataSource => inner.DataSource;

    public override string ServerVersion => inner.ServerVersion;

    public override ConnectionState State => inner.State;

    public override void ChangeDatabase(string databaseName) => inner.ChangeDatabase(databaseName);

    public override void Close() => inner.Close();

    public override Task CloseAsync() => inner.CloseAsync();

    public override void Open() => inner.Open();

    public override Task OpenAsync(CancellationToken cancellationToken) => inner.OpenAsync(cancellationToken);

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    protected override DbTransaction BeginDbTransaction(IsolationLevel isolationLevel) =>
        BeginDbTransactionAsync(isolationLevel, CancellationToken.None).AsTask().GetAwaiter().GetResult();

    protected override async ValueTask<DbTransaction> BeginDbTransactionAsync(IsolationLevel isolationLevel, CancellationToken cancellationToken)
    {
        // READ COMMITTED under the write lock: every writer sees every earlier writer's commit, as on SQLite.
        var transaction = await inner.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
        try
        {
            await using var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@k);", inner, transaction);
            command.Parameters.AddWithValue("k", WriteLockKey);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return new Transaction(this, transaction);
        }
        catch
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    protected override DbCommand CreateDbCommand() => new Command(this, inner.CreateCommand());

    private sealed class Transaction(PostgreSqlConnection connection, NpgsqlTransaction inner) : DbTransaction
    {
        public NpgsqlTransaction Inner => inner;

        public override IsolationLevel IsolationLevel => inner.IsolationLevel;

        protected override DbConnection DbConnection => connection;

        public override void Commit() => inner.Commit();

        public override Task CommitAsync(CancellationToken cancellationToken = default) => inner.CommitAsync(cancellationToken);

        public override void Rollback() => inner.Rollback();

        public override Task RollbackAsync(CancellationToken cancellationToken = default) => inner.RollbackAsync(cancellationToken);

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    [SuppressMessage("Security", "CA2100", Justification = "the stores' own SQL, parameters bound")]
    private sealed class Command(PostgreSqlConnection connection, NpgsqlCommand inner) : DbCommand
    {
        // The caller's parameters, named as the SQL names them ($x); bound afresh on each execution.
        private readonly NpgsqlParameterCollection _parameters = new NpgsqlCommand().Parameters;
        private string _text = "";
        private DbTransaction? _transaction;

        [AllowNull]
        public override string CommandText
        {
            get => _text;
            set => _text = value ?? "";
        }

        public override int CommandTimeout
        {
            get => inner.CommandTimeout;
            set => inner.CommandTimeout = value;
        }

        public override CommandType CommandType
        {
            get => inner.CommandType;
            set => inner.CommandType = value;
        }

        public override bool DesignTimeVisible { get; set; }

        public override UpdateRowSource UpdatedRowSource
        {
            get => inner.UpdatedRowSource;
            set => inner.UpdatedRowSource = value;
        }

        protected override DbConnection? DbConnection
        {
            get => connection;
            set => throw new NotSupportedException("a registry command stays on its connection");
        }

        protected override DbParameterCollection DbParameterCollection => _parameters;

        protected override DbTransaction? DbTransaction
        {
            get => _transaction;
            set
            {
                _transaction = value;
                inner.Transaction = (value as Transaction)?.Inner;
            }
        }

        public override void Cancel() => inner.Cancel();

        public override void Prepare() => inner.Prepare();

        public override int ExecuteNonQuery() => ExecuteNonQueryAsync(CancellationToken.None).GetAwaiter().GetResult();

        public override object? ExecuteScalar() => ExecuteScalarAsync(CancellationToken.None).GetAwaiter().GetResult();

        public override Task<int> ExecuteNonQueryAsync(CancellationToken cancellationToken)
        {
            Bind();
            return inner.ExecuteNonQueryAsync(cancellationToken);
        }

        public override async Task<object?> ExecuteScalarAsync(CancellationToken cancellationToken)
        {
            Bind();
            object? value = await inner.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            // As SQLite answers: integers are Int64 (COUNT, SUM's numeric, a constant), a truth value 0 or 1.
            return value switch
            {
                bool b => b ? 1L : 0L,
                int i => (long)i,
                short h => (long)h,
                decimal d when decimal.Truncate(d) == d && d is >= long.MinValue and <= long.MaxValue => (long)d,
                _ => value,
            };
        }

        protected override DbDataReader ExecuteDbDataReader(CommandBehavior behavior) =>
            ExecuteDbDataReaderAsync(behavior, CancellationToken.None).GetAwaiter().GetResult();

        protected override async Task<DbDataReader> ExecuteDbDataReaderAsync(CommandBehavior behavior, CancellationToken cancellationToken)
        {
            Bind();
            return await inner.ExecuteReaderAsync(behavior, cancellationToken).ConfigureAwait(false);
        }

        protected override DbParameter CreateDbParameter() => new NpgsqlParameter();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }

        private void Bind()
        {
            string sql = PostgreSqlDialect.Instance.Translate(_text);
            inner.Parameters.Clear();
            foreach (NpgsqlParameter parameter in _parameters)
            {
                string name = parameter.ParameterName.TrimStart('$', '@', ':');
                if (parameter.Value is null or DBNull)
                {
                    // A NULL literal where SQLite got a null: PostgreSQL infers no type for a bare null
                    // parameter ("$q IS NULL OR name LIKE $q", an INSERT … SELECT of a null id), and
                    // NULL means the same in every place the stores use one.
                    sql = System.Text.RegularExpressions.Regex.Replace(sql, "@" + System.Text.RegularExpressions.Regex.Escape(name) + @"(?!\w)", "NULL");
                    continue;
                }

                // As SQLite stores them: the columns are BIGINT.
                object value = parameter.Value switch
                {
                    bool b => b ? 1L : 0L,
                    Enum e => Convert.ToInt64(e, System.Globalization.CultureInfo.InvariantCulture),
                    int i => (long)i,
                    _ => parameter.Value,
                };
                inner.Parameters.Add(new NpgsqlParameter(name, value));
            }

            inner.CommandText = sql;
        }
    }
}
