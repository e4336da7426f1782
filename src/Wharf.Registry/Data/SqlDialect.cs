namespace Wharf.Registry.Data;

/// <summary>
/// What the registry's SQL says differently on each database. The stores write SQLite's SQL (the
/// embedded default, run as written); on PostgreSQL each statement goes through
/// <see cref="Translate"/> first, and the few constructs a rewrite cannot express are asked of the
/// dialect by name.
/// </summary>
public abstract class SqlDialect
{
    public static SqlDialect Sqlite { get; } = new SqliteDialect();

    public abstract string Name { get; }

    public virtual bool IsPostgreSql => false;

    /// <summary>The statement as this database runs it.</summary>
    public abstract string Translate(string sql);

    private sealed class SqliteDialect : SqlDialect
    {
        public override string Name => "sqlite";

        public override string Translate(string sql) => sql;
    }
}
