using System.Text.Json;
using Microsoft.Data.Sqlite;
using Wharf.Oci;

namespace Wharf.Registry.Metadata;

/// <summary>
/// The metadata store on an embedded SQLite database (WAL, synchronous=FULL so a committed
/// transaction survives a crash). Every write is one IMMEDIATE transaction, so checks made inside
/// it (blob presence, quota) hold when it commits. Schema in <see cref="SqliteSchema"/>.
/// </summary>
public sealed partial class SqliteMetadataStore : IMetadataStore
{
    private readonly string _connectionString;
    private readonly TimeProvider _time;

    public SqliteMetadataStore(string databasePath, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = databasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        using var connection = Open();
        SqliteSchema.Apply(connection);
    }

    public string ConnectionString => _connectionString;

    internal SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;";
        pragma.ExecuteNonQuery();
        return connection;
    }

    private long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();

    // ---- repositories ---------------------------------------------------------------------

    public Task<bool> RepositoryExistsAsync(RepositoryName repository, CancellationToken cancellationToken)
    {
        using var c = Open();
        return Task.FromResult(RepositoryId(c, null, repository) is not null);
    }

    public Task<IReadOnlyList<string>> ListRepositoriesAsync(string? last, int limit, CancellationToken cancellationToken)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT name FROM repositories WHERE name > $last ORDER BY name LIMIT $n";
        cmd.Parameters.AddWithValue("$last", last ?? string.Empty);
        cmd.Parameters.AddWithValue("$n", limit);
        return Task.FromResult<IReadOnlyList<string>>(ReadStrings(cmd));
    }

    public Task<IReadOnlyList<string>> ListProjectRepositoriesAsync(string project, string? last, int limit, CancellationToken cancellationToken)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT name FROM repositories WHERE project = $p AND name > $last ORDER BY name LIMIT $n";
        cmd.Parameters.AddWithValue("$p", project);
        cmd.Parameters.AddWithValue("$last", last ?? string.Empty);
        cmd.Parameters.AddWithValue("$n", limit);
        return Task.FromResult<IReadOnlyList<string>>(ReadStrings(cmd));
    }

    // ---- blob links -------------------------------------------------------------------------

    public Task<long?> GetLinkedBlobSizeAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT b.size FROM repository_blobs rb
            JOIN repositories r ON r.id = rb.repository_id
            JOIN blobs b ON b.digest = rb.digest
            WHERE r.name = $repo AND rb.digest = $digest
            """;
        cmd.Parameters.AddWithValue("$repo", repository.Value);
        cmd.Parameters.AddWithValue("$digest", digest.ToString());
        return Task.FromResult(cmd.ExecuteScalar() is long size ? size : (long?)null);
    }

    public Task LinkBlobAsync(RepositoryName repository, Digest digest, long size, CancellationToken cancellationToken) =>
        LinkBlobAsync(repository, digest, size, quotaLimit: null, cancellationToken);

    public Task<bool> MountBlobAsync(RepositoryName repository, RepositoryName from, Digest digest, CancellationToken cancellationToken) =>
        MountBlobAsync(repository, from, digest, quotaLimit: null, cancellationToken);

    public Task<RepositoryName?> FindBlobInProjectAsync(string project, Digest digest, CancellationToken cancellationToken)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT r.name FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
            WHERE rb.digest = $d AND r.project = $p LIMIT 1
            """;
        cmd.Parameters.AddWithValue("$d", digest.ToString());
        cmd.Parameters.AddWithValue("$p", project);
        return Task.FromResult(cmd.ExecuteScalar() is string name ? RepositoryName.Parse(name) : (RepositoryName?)null);
    }

    public Task<bool> UnlinkBlobAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken)
    {
        using var c = Open();
        using var tx = c.BeginTransaction();
        long? repoId = RepositoryId(c, tx, repository);
        if (repoId is null)
        {
            return Task.FromResult(false);
        }

        int n = Execute(c, tx, "DELETE FROM repository_blobs WHERE repository_id = $r AND digest = $d", ("$r", repoId.Value), ("$d", digest.ToString()));
        tx.Commit();
        return Task.FromResult(n > 0);
    }

    // ---- upload sessions --------------------------------------------------------------------

    public Task CreateUploadAsync(UploadSession session, CancellationToken cancellationToken)
    {
        using var c = Open();
        Execute(c, null, "INSERT INTO uploads(id, repository, created_at) VALUES($id, $r, $t)",
            ("$id", session.Id), ("$r", session.Repository.Value), ("$t", session.CreatedAt.ToUnixTimeMilliseconds()));
        return Task.CompletedTask;
    }

    public Task<UploadSession?> GetUploadAsync(string id, CancellationToken cancellationToken)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT repository, created_at FROM uploads WHERE id = $id";
        cmd.Parameters.AddWithValue("$id", id);
        using var r = cmd.ExecuteReader();
        if (!r.Read())
        {
            return Task.FromResult<UploadSession?>(null);
        }

        return Task.FromResult<UploadSession?>(new UploadSession(id, RepositoryName.Parse(r.GetString(0)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1))));
    }

    public Task DeleteUploadAsync(string id, CancellationToken cancellationToken)
    {
        using var c = Open();
        Execute(c, null, "DELETE FROM uploads WHERE id = $id", ("$id", id));
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<UploadSession>> ListUploadsOlderThanAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT id, repository, created_at FROM uploads WHERE created_at < $t";
        cmd.Parameters.AddWithValue("$t", cutoff.ToUnixTimeMilliseconds());
        var list = new List<UploadSession>();
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            list.Add(new UploadSession(r.GetString(0), RepositoryName.Parse(r.GetString(1)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2))));
        }

        return Task.FromResult<IReadOnlyList<UploadSession>>(list);
    }

    // ---- helpers ----------------------------------------------------------------------------

    private static long? RepositoryId(SqliteConnection c, SqliteTransaction? tx, RepositoryName repository)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT id FROM repositories WHERE name = $n";
        cmd.Parameters.AddWithValue("$n", repository.Value);
        return cmd.ExecuteScalar() is long id ? id : null;
    }

    private long EnsureRepository(SqliteConnection c, SqliteTransaction tx, RepositoryName repository)
    {
        if (RepositoryId(c, tx, repository) is { } id)
        {
            return id;
        }

        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "INSERT INTO repositories(name, project, created_at) VALUES($n, $p, $t) RETURNING id";
        cmd.Parameters.AddWithValue("$n", repository.Value);
        cmd.Parameters.AddWithValue("$p", repository.Project);
        cmd.Parameters.AddWithValue("$t", Now);
        return (long)cmd.ExecuteScalar()!;
    }

    private static int Execute(SqliteConnection c, SqliteTransaction? tx, string sql, params (string Name, object? Value)[] parameters)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return cmd.ExecuteNonQuery();
    }

    private static List<string> ReadStrings(SqliteCommand cmd)
    {
        var list = new List<string>();
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            list.Add(r.GetString(0));
        }

        return list;
    }

    private static string? SerializeAnnotations(IReadOnlyDictionary<string, string>? annotations) =>
        annotations is null ? null : JsonSerializer.Serialize(new Dictionary<string, string>(annotations), OciJsonContext.Default.DictionaryStringString);
}
