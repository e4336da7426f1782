using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;

namespace Wharf.Registry.Data;

/// <summary>What <see cref="DatabaseCopy.CopyAsync"/> copied: rows per table, and the manifests whose bytes were checked against their digests.</summary>
public sealed record DatabaseCopyReport(IReadOnlyList<(string Table, long Rows)> Tables, long ManifestsVerified);

/// <summary>
/// <c>wharfd migrate --to postgresql://…</c>: copies a SQLite registry database into an empty
/// PostgreSQL one. Both are first brought to the same schema (the one migration list); then every
/// table is copied in foreign-key order in one PostgreSQL transaction — all or nothing — identity
/// counters are moved past the copied ids, and before COMMIT each table's row count is compared and
/// every manifest's bytes are hashed against its digest. A target holding any row is refused.
/// </summary>
public static class DatabaseCopy
{
    public static async Task<DatabaseCopyReport> CopyAsync(RegistryDatabase source, RegistryDatabase target, TextWriter? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        if (source.IsPostgreSql || !target.IsPostgreSql)
        {
            throw new InvalidOperationException("the copy goes from a SQLite database to a PostgreSQL one");
        }

        await using var from = await source.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var to = await target.OpenAsync(cancellationToken).ConfigureAwait(false);
        var tables = await TablesInDependencyOrderAsync(from, cancellationToken).ConfigureAwait(false);

        await using var transaction = await to.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        foreach (string table in tables)
        {
            long present = await to.ScalarAsync<long>($"SELECT COUNT(*) FROM {table};", cancellationToken).ConfigureAwait(false);
            if (present > 0)
            {
                throw new InvalidOperationException($"the target database is not empty (table {table} has {present} rows); copy into a new database");
            }
        }

        var counts = new List<(string, long)>();
        foreach (string table in tables)
        {
            long copied = await CopyTableAsync(from, to, table, cancellationToken).ConfigureAwait(false);
            long there = await to.ScalarAsync<long>($"SELECT COUNT(*) FROM {table};", cancellationToken).ConfigureAwait(false);
            long here = await from.ScalarAsync<long>($"SELECT COUNT(*) FROM {table};", cancellationToken).ConfigureAwait(false);
            if (copied != here || there != here)
            {
                throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"table {table}: {here} rows in SQLite, {there} in PostgreSQL after the copy"));
            }

            counts.Add((table, there));
            if (progress is not null)
            {
                await progress.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{table}: {there} rows")).ConfigureAwait(false);
            }
        }

        // Identity columns: the next id follows the largest copied one.
        var identities = await to.QueryAsync(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND is_identity = 'YES';",
            r => (Table: r.GetString(0), Column: r.GetString(1)), cancellationToken).ConfigureAwait(false);
        foreach (var (table, column) in identities)
        {
            await to.ExecuteAsync(
                $"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), GREATEST((SELECT COALESCE(MAX({column}), 0) FROM {table}), 1), (SELECT COUNT(*) > 0 FROM {table}));",
                cancellationToken).ConfigureAwait(false);
        }

        long verified = await VerifyManifestsAsync(to, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new DatabaseCopyReport(counts, verified);
    }

    private static async Task<long> CopyTableAsync(DbConnection from, DbConnection to, string table, CancellationToken cancellationToken)
    {
        var columns = await from.QueryAsync($"PRAGMA table_info({table});", r => r.GetString(1), cancellationToken).ConfigureAwait(false);
        string names = string.Join(", ", columns);
        string values = string.Join(", ", columns.Select((_, i) => string.Create(CultureInfo.InvariantCulture, $"$p{i}")));
        await using var read = from.Command($"SELECT {names} FROM {table};");
        await using var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var insert = to.Command($"INSERT INTO {table} ({names}) VALUES ({values});");
        var parameters = columns.Select((_, i) => insert.AddParameter(string.Create(CultureInfo.InvariantCulture, $"$p{i}"), null)).ToArray();
        long rows = 0;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            for (int i = 0; i < columns.Count; i++)
            {
                parameters[i].Value = reader.GetValue(i);
            }

            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            rows++;
        }

        return rows;
    }

    private static async Task<long> VerifyManifestsAsync(DbConnection to, CancellationToken cancellationToken)
    {
        await using var command = to.Command("SELECT digest, content FROM manifests;");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        long count = 0;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            string digest = reader.GetString(0);
            byte[] content = (byte[])reader.GetValue(1);
            string actual = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));
            if (digest.StartsWith("sha256:", StringComparison.Ordinal) && !string.Equals(digest, actual, StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"manifest {digest}: its bytes in PostgreSQL hash to {actual}");
            }

            count++;
        }

        return count;
    }

    // Parents before children, so every foreign key finds its row.
    private static async Task<List<string>> TablesInDependencyOrderAsync(DbConnection from, CancellationToken cancellationToken)
    {
        if (from is not SqliteConnection)
        {
            throw new InvalidOperationException("the source must be SQLite");
        }

        var tables = await from.QueryAsync(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name;",
            r => r.GetString(0), cancellationToken).ConfigureAwait(false);
        var parents = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (string table in tables)
        {
            var referenced = await from.QueryAsync($"PRAGMA foreign_key_list({table});", r => r.GetString(2), cancellationToken).ConfigureAwait(false);
            parents[table] = [.. referenced.Where(p => p != table && tables.Contains(p))];
        }

        var ordered = new List<string>();
        var done = new HashSet<string>(StringComparer.Ordinal);
        while (ordered.Count < tables.Count)
        {
            var ready = tables.Where(t => !done.Contains(t) && parents[t].All(done.Contains)).ToList();
            if (ready.Count == 0)
            {
                throw new InvalidOperationException("the tables' foreign keys form a cycle: " + string.Join(", ", tables.Where(t => !done.Contains(t))));
            }

            foreach (string t in ready)
            {
                ordered.Add(t);
                done.Add(t);
            }
        }

        return ordered;
    }
}
