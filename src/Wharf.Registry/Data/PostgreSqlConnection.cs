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

    /// <summary>
    /// The key space of the per-project write locks (PostgreSQL's two-key advisory locks, apart from
    /// the one-key locks above): key (this, hashtext(project name)). Two projects whose names hash
    /// alike share a lock, which only makes them wait for each other.
    /// </summary>
    public const int ProjectLockSpace = 0x5768_6670; // "Whfp"

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

    protected override ValueTask<DbTransaction> BeginDbTransactionAsync(IsolationLevel isolationLevel, CancellationToken cancellationToken) =>
        BeginAsync(projects: null, cancellationToken);

    /// <summary>
    /// A write transaction that only touches what belongs to <paramref name="projects"/>: it takes the
    /// write lock shared and each project's lock (<see cref="ProjectLockSpace"/>) exclusively, so writers
    /// of other projects go on beside it, while a transaction begun the ordinary way (the whole
    /// registry's write lock, exclusive) still waits for it and holds it off.
    /// </summary>
    public ValueTask<DbTransaction> BeginProjectWriteAsync(IReadOnlyCollection<string> projects, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(projects);
        return BeginAsync(projects.Count == 0 ? null : projects, cancellationToken);
    }

    private async ValueTask<DbTransaction> BeginAsync(IReadOnlyCollection<string>? projects, CancellationToken cancellationToken)
    {
        // READ COMMITTED under the write lock: every writer sees every earlier writer's commit, as on SQLite.
        // Npgsql sends BEGIN with the transaction's first statement, and the lock goes with it too
        // (PendingLock): beginning costs no round trip of its own.
        var transaction = await inner.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
        var wrapper = new Transaction(this, transaction, projects?.Distinct(StringComparer.Ordinal).ToArray() ?? []);
        _current = wrapper;
        return wrapper;
    }

    // The open transaction whose lock is still to be taken (set at BEGIN, cleared once taken or ended).
    private Transaction? _current;

    /// <summary>The statements that take the open transaction's lock, if it is not taken yet (they go first in the next round trip).</summary>
    private IEnumerable<NpgsqlBatchCommand> TakePendingLock()
    {
        if (_current is not { LockTaken: false } transaction)
        {
            yield break;
        }

        transaction.LockTaken = true;
        if (transaction.Projects.Length == 0)
        {
            var global = new NpgsqlBatchCommand("SELECT pg_advisory_xact_lock(@k);");
            global.Parameters.AddWithValue("k", WriteLockKey);
            yield return global;
            yield break;
        }

        // Shared first, then the projects' locks in one fixed order (of their keys): a transaction
        // waiting for a project's lock already holds its share of the write lock, so it can never
        // hold a project lock while queued behind an exclusive writer, and two writers of the same
        // projects never take them in opposite orders (no deadlock).
        var shared = new NpgsqlBatchCommand("SELECT pg_advisory_xact_lock_shared(@k);");
        shared.Parameters.AddWithValue("k", WriteLockKey);
        yield return shared;
        var each = new NpgsqlBatchCommand(
            "SELECT pg_advisory_xact_lock(@space, k) FROM (SELECT DISTINCT hashtext(p) AS k FROM unnest(@projects) AS p ORDER BY k) AS keys;");
        each.Parameters.AddWithValue("space", ProjectLockSpace);
        each.Parameters.AddWithValue("projects", transaction.Projects);
        yield return each;
    }

    /// <summary>
    /// Runs <paramref name="statements"/> (the stores' SQL, translated and bound as a command's) in one
    /// round trip — with the open transaction's lock in front when it is still to be taken — and returns
    /// the reader positioned on the first statement's results (<c>NextResultAsync</c> moves to the next).
    /// Only for statements whose parameters do not depend on each other's results. Npgsql's reader
    /// has a result set only for statements that return rows (a SELECT, a RETURNING): it passes over
    /// an INSERT or UPDATE without one.
    /// </summary>
    public async Task<DbDataReader> ExecuteBatchAsync(IReadOnlyList<(string Sql, (string Name, object? Value)[] Parameters)> statements, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(statements);
        var batch = new NpgsqlBatch(inner);
        int locks = 0;
        foreach (var command in TakePendingLock())
        {
            batch.BatchCommands.Add(command);
            locks++;
        }

        foreach (var (sql, parameters) in statements)
        {
            var (text, bound) = Bind(sql, parameters.Select(p => (p.Name, p.Value)));
            var command = new NpgsqlBatchCommand(text);
            bound.ForEach(p => command.Parameters.Add(p));
            batch.BatchCommands.Add(command);
        }

        try
        {
            var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            for (int i = 0; i < locks; i++)
            {
                await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            }

            return reader;
        }
        catch
        {
            await batch.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    // Takes the open transaction's lock before a single command, if it is still to be taken.
    private async Task TakePendingLockAsync(CancellationToken cancellationToken)
    {
        var commands = TakePendingLock().ToList();
        if (commands.Count == 0)
        {
            return;
        }

        await using var batch = new NpgsqlBatch(inner);
        commands.ForEach(batch.BatchCommands.Add);
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The SQL PostgreSQL runs for <paramref name="sql"/> and the parameters it binds: values as
    /// SQLite stores them (the columns are BIGINT: a bool is 0/1, an enum its number), a null as a
    /// NULL literal (PostgreSQL infers no type for a bare null parameter: "$q IS NULL OR name LIKE
    /// $q", an INSERT … SELECT of a null id; NULL means the same in every place the stores use one).
    /// </summary>
    internal static (string Sql, List<NpgsqlParameter> Parameters) Bind(string sql, IEnumerable<(string Name, object? Value)> parameters)
    {
        string text = PostgreSqlDialect.Instance.Translate(sql);
        var bound = new List<NpgsqlParameter>();
        foreach (var (rawName, rawValue) in parameters)
        {
            string name = rawName.TrimStart('$', '@', ':');
            if (rawValue is null or DBNull)
            {
                text = System.Text.RegularExpressions.Regex.Replace(text, "@" + System.Text.RegularExpressions.Regex.Escape(name) + @"(?!\w)", "NULL");
                continue;
            }

            object value = rawValue switch
            {
                bool b => b ? 1L : 0L,
                Enum e => Convert.ToInt64(e, System.Globalization.CultureInfo.InvariantCulture),
                int i => (long)i,
                _ => rawValue,
            };
            bound.Add(new NpgsqlParameter(name, value));
        }

        return (text, bound);
    }

    protected override DbCommand CreateDbCommand() => new Command(this, inner.CreateCommand());

    private sealed class Transaction(PostgreSqlConnection connection, NpgsqlTransaction inner, string[] projects) : DbTransaction
    {
        public NpgsqlTransaction Inner => inner;

        /// <summary>The projects whose locks it takes (none: the whole registry's write lock).</summary>
        public string[] Projects => projects;

        /// <summary>Whether its lock has been taken (it goes with the first statement).</summary>
        public bool LockTaken { get; set; }

        public override IsolationLevel IsolationLevel => inner.IsolationLevel;

        protected override DbConnection DbConnection => connection;

        private void End()
        {
            if (ReferenceEquals(connection._current, this))
            {
                connection._current = null;
            }
        }

        public override void Commit()
        {
            End();
            inner.Commit();
        }

        public override Task CommitAsync(CancellationToken cancellationToken = default)
        {
            End();
            return inner.CommitAsync(cancellationToken);
        }

        public override void Rollback()
        {
            End();
            inner.Rollback();
        }

        public override Task RollbackAsync(CancellationToken cancellationToken = default)
        {
            End();
            return inner.RollbackAsync(cancellationToken);
        }

        public override async ValueTask DisposeAsync()
        {
            End();
            await inner.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                End();
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

        public override async Task<int> ExecuteNonQueryAsync(CancellationToken cancellationToken)
        {
            await connection.TakePendingLockAsync(cancellationToken).ConfigureAwait(false);
            Bind();
            return await inner.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        public override async Task<object?> ExecuteScalarAsync(CancellationToken cancellationToken)
        {
            await connection.TakePendingLockAsync(cancellationToken).ConfigureAwait(false);
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
            await connection.TakePendingLockAsync(cancellationToken).ConfigureAwait(false);
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
            var (sql, bound) = PostgreSqlConnection.Bind(_text, _parameters.Select(p => (p.ParameterName, p.Value)));
            inner.Parameters.Clear();
            bound.ForEach(p => inner.Parameters.Add(p));
            inner.CommandText = sql;
        }
    }
}
