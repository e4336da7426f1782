using System.Globalization;
using System.Text;
using System.Data.Common;
using Wharf.Registry.Identity;
using Wharf.Registry.Projects;
using Wharf.Registry.Data;

namespace Wharf.Registry.Audit;

/// <summary>
/// The audit log in the registry's SQLite file: table <c>audit_log</c>, indexed by time (purge, the
/// global list) and by project and time (a project's logs). Times are Unix milliseconds.
/// </summary>
public sealed class SqliteAuditLogStore(RegistryDatabase database) : IAuditLogStore
{
    /// <summary>The columns a filter may name, Harbor's words on the left.</summary>
    private static readonly Dictionary<string, string> Columns = new(StringComparer.Ordinal)
    {
        ["username"] = "username",
        ["operation"] = "operation",
        ["resource"] = "resource",
        ["resource_type"] = "resource_type",
        ["project"] = "project",
        ["op_time"] = "op_time",
    };

    public static bool IsFilterable(string key) => Columns.ContainsKey(key);

    public async Task AppendAsync(IReadOnlyList<AuditEntry> entries, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entries);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);

        // Audit entries wait in memory before they get here (AuditLog's queue), so a crash already
        // loses the last ones: their commit need not wait for the disk as well. It is a lazy commit
        // (RegistryDatabase.LazyCommitAsync) — written, not flushed; the next durable commit of any
        // writer (a manifest PUT, a blob link) or a checkpoint flushes it with its own. A manifest
        // PUT then costs one flush, its own, instead of two (its own and its audit entry's).
        await using var lazy = await database.LazyCommitAsync(connection, cancellationToken).ConfigureAwait(false);
        await using var transaction = (DbTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await lazy.InTransactionAsync(connection, cancellationToken).ConfigureAwait(false);
        foreach (var e in entries)
        {
            await connection.ExecuteAsync(
                "INSERT INTO audit_log (op_time, username, operation, resource_type, resource, project, success) VALUES ($t, $u, $o, $rt, $r, $p, $s);",
                cancellationToken,
                ("$t", e.OpTime.ToUnixTimeMilliseconds()), ("$u", e.Username), ("$o", e.Operation), ("$rt", e.ResourceType),
                ("$r", e.Resource), ("$p", e.Project), ("$s", e.Success ? 1 : 0)).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<(IReadOnlyList<AuditEntry> Entries, long Total)> QueryAsync(AuditQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var where = new StringBuilder("WHERE 1 = 1");
        var parameters = new List<(string, object?)>();
        if (query.Project is not null)
        {
            where.Append(" AND project = $project");
            parameters.Add(("$project", query.Project));
        }

        if (query.VisibleToUserId is long userId)
        {
            // Members see their projects' logs, except limited guests (as in Harbor); entries of no project
            // (logins) are for system admins only.
            where.Append(" AND project IN (SELECT p.name FROM projects p JOIN project_members m ON m.project_id = p.id WHERE m.user_id = $uid AND m.role <> $limited)");
            parameters.Add(("$uid", userId));
            parameters.Add(("$limited", (int)ProjectRole.LimitedGuest));
        }

        int n = 0;
        foreach (var filter in query.Filters)
        {
            string column = Columns[filter.Column];
            bool time = column == "op_time";
            object Value(string v) => time ? ParseTime(v) : v;
            switch (filter.Match)
            {
                case AuditMatch.Exact:
                    where.Append(CultureInfo.InvariantCulture, $" AND {column} = $f{n}");
                    parameters.Add(($"$f{n++}", Value(filter.Values[0])));
                    break;
                case AuditMatch.Fuzzy:
                    where.Append(CultureInfo.InvariantCulture, $" AND instr({column}, $f{n}) > 0");
                    parameters.Add(($"$f{n++}", filter.Values[0]));
                    break;
                case AuditMatch.Range:
                    if (filter.Values[0].Length > 0)
                    {
                        where.Append(CultureInfo.InvariantCulture, $" AND {column} >= $f{n}");
                        parameters.Add(($"$f{n++}", Value(filter.Values[0])));
                    }

                    if (filter.Values[1].Length > 0)
                    {
                        where.Append(CultureInfo.InvariantCulture, $" AND {column} <= $f{n}");
                        parameters.Add(($"$f{n++}", Value(filter.Values[1])));
                    }

                    break;
                case AuditMatch.AnyOf:
                    var names = new List<string>();
                    foreach (string v in filter.Values)
                    {
                        names.Add($"$f{n}");
                        parameters.Add(($"$f{n++}", Value(v)));
                    }

                    where.Append(CultureInfo.InvariantCulture, $" AND {column} IN ({string.Join(", ", names)})");
                    break;
            }
        }

        var all = parameters.ToArray();
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        long total = await connection.ScalarAsync<long>($"SELECT COUNT(*) FROM audit_log {where};", cancellationToken, all).ConfigureAwait(false);
        var entries = await connection.QueryAsync(
            $"SELECT id, username, operation, resource_type, resource, project, success, op_time FROM audit_log {where} ORDER BY op_time DESC, id DESC LIMIT $n OFFSET $o;",
            r => new AuditEntry(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.NullableString(5), r.GetInt64(6) != 0,
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(7))),
            cancellationToken, [.. all, ("$n", query.PageSize), ("$o", (long)(query.Page - 1) * query.PageSize)]).ConfigureAwait(false);
        return (entries, total);
    }

    public async Task<int> PurgeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync("DELETE FROM audit_log WHERE op_time < $t;", cancellationToken, ("$t", cutoff.ToUnixTimeMilliseconds())).ConfigureAwait(false);
    }

    /// <summary>Harbor's time format in filters: <c>2024-01-31 23:59:59</c> (UTC), or ISO 8601.</summary>
    public static bool TryParseTime(string text, out long unixMilliseconds)
    {
        unixMilliseconds = 0;
        if (DateTimeOffset.TryParseExact(text, "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            || DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out at))
        {
            unixMilliseconds = at.ToUnixTimeMilliseconds();
            return true;
        }

        return false;
    }

    private static long ParseTime(string text) => TryParseTime(text, out long ms) ? ms : throw new FormatException($"not a time: {text}");

    private Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => database.OpenAsync(cancellationToken);
}
