using System.Text.Json;
using System.Data.Common;
using Wharf.Oci;
using Wharf.Registry.Data;

namespace Wharf.Registry.Metadata;

/// <summary>
/// The metadata store on the registry database (<see cref="RegistryDatabase"/>: pooled connections,
/// WAL, synchronous=FULL so a committed transaction survives a crash; schema in
/// <see cref="Migrations"/>). Async all the way, with the caller's cancellation. Every write is one
/// IMMEDIATE transaction, so checks made inside it (blob presence, quota) hold when it commits.
/// </summary>
public sealed partial class SqliteMetadataStore : IMetadataStore
{
    private readonly RegistryDatabase _database;
    private readonly TimeProvider _time;

    public SqliteMetadataStore(RegistryDatabase database, TimeProvider? time = null)
    {
        _database = database ?? throw new ArgumentNullException(nameof(database));
        _time = time ?? TimeProvider.System;
    }

    /// <summary>A store with its own connection pool to the file (the offline commands, tests).</summary>
    public SqliteMetadataStore(string databasePath, TimeProvider? time = null)
        : this(new RegistryDatabase(databasePath), time)
    {
    }

    public RegistryDatabase Database => _database;

    private Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => _database.OpenAsync(cancellationToken);

    // Writes are IMMEDIATE transactions: the write lock is taken at BEGIN, so the checks made inside
    // (blob presence, quota, immutable tags) hold when the transaction commits.
    private static async Task<DbTransaction> BeginAsync(DbConnection c, CancellationToken cancellationToken) =>
        (DbTransaction)await c.BeginTransactionAsync(System.Data.IsolationLevel.Serializable, cancellationToken);

    // A write that touches only what belongs to these projects (their repositories, links, manifests,
    // tags, usage): on PostgreSQL it waits only for writers of the same projects (and for whole-registry
    // writers); SQLite has one writer at a time anyway.
    private static async Task<DbTransaction> BeginProjectWriteAsync(DbConnection c, IReadOnlyCollection<string> projects, CancellationToken cancellationToken) =>
        c is PostgreSqlConnection postgres
            ? await postgres.BeginProjectWriteAsync(projects, cancellationToken)
            : await BeginAsync(c, cancellationToken);

    private long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();

    // ---- repositories ---------------------------------------------------------------------

    public async Task<bool> RepositoryExistsAsync(RepositoryName repository, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        return await RepositoryIdAsync(c, cancellationToken, repository) is not null;
    }

    public async Task<IReadOnlyList<string>> ListRepositoriesAsync(string? last, int limit, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT name FROM repositories WHERE name > $last ORDER BY name LIMIT $n";
        cmd.AddParameter("$last", last ?? string.Empty);
        cmd.AddParameter("$n", limit);
        return await ReadStringsAsync(cmd, cancellationToken);
    }

    public async Task<IReadOnlyList<string>> ListProjectRepositoriesAsync(string project, string? last, int limit, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT name FROM repositories WHERE project = $p AND name > $last ORDER BY name LIMIT $n";
        cmd.AddParameter("$p", project);
        cmd.AddParameter("$last", last ?? string.Empty);
        cmd.AddParameter("$n", limit);
        return await ReadStringsAsync(cmd, cancellationToken);
    }

    // ---- blob links -------------------------------------------------------------------------

    public async Task<long?> GetLinkedBlobSizeAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT b.size FROM repository_blobs rb
            JOIN repositories r ON r.id = rb.repository_id
            JOIN blobs b ON b.digest = rb.digest
            WHERE r.name = $repo AND rb.digest = $digest
            """;
        cmd.AddParameter("$repo", repository.Value);
        cmd.AddParameter("$digest", digest.ToString());
        return (await cmd.ExecuteScalarAsync(cancellationToken)) is long size ? size : (long?)null;
    }

    public Task LinkBlobAsync(RepositoryName repository, Digest digest, long size, CancellationToken cancellationToken) =>
        LinkBlobAsync(repository, digest, size, quotaLimit: null, cancellationToken);

    public Task<bool> MountBlobAsync(RepositoryName repository, RepositoryName from, Digest digest, CancellationToken cancellationToken) =>
        MountBlobAsync(repository, from, digest, quotaLimit: null, cancellationToken);

    public async Task<RepositoryName?> FindBlobInProjectAsync(string project, Digest digest, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT r.name FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
            WHERE rb.digest = $d AND r.project = $p LIMIT 1
            """;
        cmd.AddParameter("$d", digest.ToString());
        cmd.AddParameter("$p", project);
        return (await cmd.ExecuteScalarAsync(cancellationToken)) is string name ? RepositoryName.Parse(name) : (RepositoryName?)null;
    }

    public async Task<bool> UnlinkBlobAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        await using var tx = await BeginProjectWriteAsync(c, [repository.Project], cancellationToken);
        long? repoId = await RepositoryIdAsync(c, cancellationToken, repository);
        if (repoId is null)
        {
            return false;
        }

        int n = await ExecuteAsync(c, cancellationToken, "DELETE FROM repository_blobs WHERE repository_id = $r AND digest = $d", ("$r", repoId.Value), ("$d", digest.ToString()));
        await tx.CommitAsync(cancellationToken);
        return n > 0;
    }

    // ---- upload sessions --------------------------------------------------------------------

    public async Task CreateUploadAsync(UploadSession session, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        await using var c = await OpenAsync(cancellationToken);
        long at = session.CreatedAt.ToUnixTimeMilliseconds();
        await ExecuteAsync(c, cancellationToken, "INSERT INTO uploads(id, repository, created_at, size, updated_at) VALUES($id, $r, $t, $s, $t)",
            ("$id", session.Id), ("$r", session.Repository.Value), ("$t", at), ("$s", session.Size));
    }

    public async Task<UploadSession?> GetUploadAsync(string id, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        var rows = await c.QueryAsync($"SELECT {UploadColumns} FROM uploads WHERE id = $id", ReadUpload, cancellationToken, ("$id", id));
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<bool> RecordUploadProgressAsync(string id, long size, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        return await ExecuteAsync(c, cancellationToken, "UPDATE uploads SET size = $s, updated_at = $t WHERE id = $id",
            ("$s", size), ("$t", at.ToUnixTimeMilliseconds()), ("$id", id)) == 1;
    }

    public async Task DeleteUploadAsync(string id, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        await ExecuteAsync(c, cancellationToken, "DELETE FROM uploads WHERE id = $id", ("$id", id));
    }

    public async Task<IReadOnlyList<UploadSession>> ListIdleUploadsAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        return await c.QueryAsync($"SELECT {UploadColumns} FROM uploads WHERE updated_at < $t", ReadUpload, cancellationToken,
            ("$t", cutoff.ToUnixTimeMilliseconds()));
    }

    private const string UploadColumns = "id, repository, created_at, size, updated_at";

    private static UploadSession ReadUpload(DbDataReader r) => new(
        r.GetString(0), RepositoryName.Parse(r.GetString(1)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)),
        r.IsDBNull(3) ? null : r.GetInt64(3), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)));

    // ---- helpers ----------------------------------------------------------------------------

    private static async Task<long?> RepositoryIdAsync(DbConnection c, CancellationToken cancellationToken, RepositoryName repository)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT id FROM repositories WHERE name = $n";
        cmd.AddParameter("$n", repository.Value);
        return (await cmd.ExecuteScalarAsync(cancellationToken)) is long id ? id : null;
    }

    private async Task<long> EnsureRepositoryAsync(DbConnection c, CancellationToken cancellationToken, RepositoryName repository)
    {
        if (await RepositoryIdAsync(c, cancellationToken, repository) is { } id)
        {
            return id;
        }

        using var cmd = c.CreateCommand();
        cmd.CommandText = "INSERT INTO repositories(name, project, created_at) VALUES($n, $p, $t) RETURNING id";
        cmd.AddParameter("$n", repository.Value);
        cmd.AddParameter("$p", repository.Project);
        cmd.AddParameter("$t", Now);
        return (long)(await cmd.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task<int> ExecuteAsync(DbConnection c, CancellationToken cancellationToken, string sql, params (string Name, object? Value)[] parameters)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            cmd.AddParameter(name, value ?? DBNull.Value);
        }

        return (await cmd.ExecuteNonQueryAsync(cancellationToken));
    }

    private static async Task<List<string>> ReadStringsAsync(DbCommand cmd, CancellationToken cancellationToken)
    {
        var list = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            list.Add(r.GetString(0));
        }

        return list;
    }

    private static string? SerializeAnnotations(IReadOnlyDictionary<string, string>? annotations) =>
        annotations is null ? null : JsonSerializer.Serialize(new Dictionary<string, string>(annotations), OciJsonContext.Default.DictionaryStringString);
}
