using System.Data.Common;
using Wharf.Oci;
using Wharf.Registry.Data;

namespace Wharf.Registry.Labels;

/// <summary>Harbor's label: global (<see cref="Global"/>, no project) or a project's own (<see cref="ProjectScope"/>).</summary>
public sealed record Label(long Id, string Name, string Description, string Color, string Scope, long? ProjectId, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public const string Global = "g";
    public const string ProjectScope = "p";
}

/// <summary>Labels and the artifacts that carry them, in the registry database (migration 7).</summary>
public sealed class LabelStore(RegistryDatabase database, TimeProvider time)
{
    private const string Columns = "id, name, description, color, scope, project_id, creation_time, update_time";

    /// <summary>The new label, or null when its scope already has one of that name.</summary>
    public async Task<Label?> CreateAsync(string name, string description, string color, string scope, long? projectId, CancellationToken cancellationToken)
    {
        long now = time.GetUtcNow().Stored();
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long id = await connection.ScalarAsync<long>(
                "INSERT INTO labels(name, description, color, scope, project_id, creation_time, update_time) VALUES($n, $d, $c, $s, $p, $t, $t) RETURNING id;",
                cancellationToken, ("$n", name), ("$d", description), ("$c", color), ("$s", scope), ("$p", projectId), ("$t", now)).ConfigureAwait(false);
            var at = DateTimeOffset.FromUnixTimeMilliseconds(now);
            return new Label(id, name, description, color, scope, projectId, at, at);
        }
        catch (DbException e) when (Sql.IsUniqueViolation(e))
        {
            return null;
        }
    }

    public async Task<Label?> FindAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync($"SELECT {Columns} FROM labels WHERE id = $id;", Read, cancellationToken, ("$id", id)).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <summary>The labels of a scope (a project's with <paramref name="projectId"/>), by name; <paramref name="nameContains"/> filters.</summary>
    public async Task<IReadOnlyList<Label>> ListAsync(string scope, long? projectId, string? nameContains, string? exactName, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.QueryAsync(
            $"""
            SELECT {Columns} FROM labels WHERE scope = $s AND COALESCE(project_id, 0) = $p
            AND ($like IS NULL OR name LIKE $like ESCAPE '\') AND ($exact IS NULL OR name = $exact) ORDER BY name, id;
            """,
            Read, cancellationToken, ("$s", scope), ("$p", projectId ?? 0),
            ("$like", nameContains is null ? null : Sql.LikeContains(nameContains)), ("$exact", exactName)).ConfigureAwait(false);
    }

    /// <summary>False when the label is gone; null when another label of its scope has the new name.</summary>
    public async Task<bool?> UpdateAsync(long id, string name, string description, string color, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await connection.ExecuteAsync("UPDATE labels SET name = $n, description = $d, color = $c, update_time = $t WHERE id = $id;", cancellationToken,
                ("$n", name), ("$d", description), ("$c", color), ("$t", time.GetUtcNow().Stored()), ("$id", id)).ConfigureAwait(false) > 0;
        }
        catch (DbException e) when (Sql.IsUniqueViolation(e))
        {
            return null;
        }
    }

    /// <summary>Deletes the label and takes it off every artifact.</summary>
    public async Task<bool> DeleteAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync("DELETE FROM labels WHERE id = $id;", cancellationToken, ("$id", id)).ConfigureAwait(false) > 0;
    }

    /// <summary>False when the artifact already carries the label; throws KeyNotFoundException when the artifact is gone.</summary>
    public async Task<bool> AttachAsync(long labelId, long repositoryId, Digest digest, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await connection.ExecuteAsync(
                "INSERT INTO artifact_labels(label_id, repository_id, digest, creation_time) VALUES($l, $r, $d, $t) ON CONFLICT DO NOTHING;", cancellationToken,
                ("$l", labelId), ("$r", repositoryId), ("$d", digest.ToString()), ("$t", time.GetUtcNow().Stored())).ConfigureAwait(false) > 0;
        }
        catch (DbException e) when (Sql.IsConstraintViolation(e))
        {
            // The foreign keys: the artifact (or the label) was deleted meanwhile.
            throw new KeyNotFoundException($"artifact {digest} or label {labelId} no longer exists", e);
        }
    }

    public async Task<bool> DetachAsync(long labelId, long repositoryId, Digest digest, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync("DELETE FROM artifact_labels WHERE label_id = $l AND repository_id = $r AND digest = $d;", cancellationToken,
            ("$l", labelId), ("$r", repositoryId), ("$d", digest.ToString())).ConfigureAwait(false) > 0;
    }

    /// <summary>The labels of each of the artifacts of one repository asked for, by digest.</summary>
    public async Task<IReadOnlyDictionary<string, IReadOnlyList<Label>>> OfArtifactsAsync(long repositoryId, IReadOnlyCollection<string> digests, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, IReadOnlyList<Label>>(StringComparer.Ordinal);
        if (digests.Count == 0)
        {
            return result;
        }

        // Only the digests asked for (a page of at most 100 artifacts), not every labelled artifact of the repository.
        var digestParameters = digests.Select((d, i) => ($"$d{i}", (object?)d)).ToArray();
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync(
            $"""
            SELECT a.digest, {string.Join(", ", Columns.Split(", ").Select(c => "l." + c))}
            FROM artifact_labels a JOIN labels l ON l.id = a.label_id
            WHERE a.repository_id = $r AND a.digest IN ({string.Join(", ", digestParameters.Select(p => p.Item1))}) ORDER BY l.name, l.id;
            """,
            r => (Digest: r.GetString(0), Label: Read(r, 1)), cancellationToken, [("$r", repositoryId), .. digestParameters]).ConfigureAwait(false);
        foreach (var group in rows.GroupBy(r => r.Digest, StringComparer.Ordinal))
        {
            result[group.Key] = group.Select(r => r.Label).ToList();
        }

        return result;
    }

    /// <summary>The names of the labels on the artifact a tag of the repository points to (replication's label filter).</summary>
    public async Task<IReadOnlyList<string>> OfTagAsync(string repository, string tag, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.QueryAsync(
            """
            SELECT l.name FROM repositories r JOIN tags t ON t.repository_id = r.id
            JOIN artifact_labels a ON a.repository_id = r.id AND a.digest = t.digest JOIN labels l ON l.id = a.label_id
            WHERE r.name = $r AND t.name = $t ORDER BY l.name;
            """,
            r => r.GetString(0), cancellationToken, ("$r", repository), ("$t", tag)).ConfigureAwait(false);
    }

    private static Label Read(DbDataReader r) => Read(r, 0);

    private static Label Read(DbDataReader r, int o) => new(
        r.GetInt64(o), r.GetString(o + 1), r.GetString(o + 2), r.GetString(o + 3), r.GetString(o + 4), r.NullableInt64(o + 5),
        r.Time(o + 6), r.Time(o + 7));
}
