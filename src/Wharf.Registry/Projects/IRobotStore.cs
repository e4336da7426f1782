using System.Data.Common;
using Wharf.Registry.Identity;
using Wharf.Registry.Data;

namespace Wharf.Registry.Projects;

/// <summary>
/// A project robot account, named <c>robot$&lt;project&gt;+&lt;name&gt;</c> as in Harbor. Its secret is
/// shown once and kept as a hash. <see cref="ExpiresAt"/> is unix seconds, -1 for never.
/// </summary>
public sealed record Robot(
    long Id,
    string Name,
    long ProjectId,
    string ProjectName,
    string? Description,
    RepositoryActions Access,
    bool Disabled,
    int DurationDays,
    long ExpiresAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public bool IsExpired(DateTimeOffset now) => ExpiresAt >= 0 && now.ToUnixTimeSeconds() >= ExpiresAt;
}

public interface IRobotStore
{
    /// <summary>Null when the name is taken, in any case.</summary>
    Task<Robot?> CreateAsync(string name, long projectId, string? description, RepositoryActions access, bool disabled, int durationDays, long expiresAt, string secretHash, CancellationToken cancellationToken);

    Task<Robot?> FindByIdAsync(long id, CancellationToken cancellationToken);

    Task<Robot?> FindByNameAsync(string name, CancellationToken cancellationToken);

    /// <summary>Robots of one project, or of every project when <paramref name="projectId"/> is null.</summary>
    Task<IReadOnlyList<Robot>> ListAsync(long? projectId, CancellationToken cancellationToken);

    Task<string?> GetSecretHashAsync(long id, CancellationToken cancellationToken);

    Task<bool> UpdateAsync(long id, string? description, RepositoryActions access, bool disabled, int durationDays, long expiresAt, CancellationToken cancellationToken);

    /// <summary>A new secret: revokes the robot's refresh tokens.</summary>
    Task<bool> SetSecretHashAsync(long id, string secretHash, CancellationToken cancellationToken);

    /// <summary>Rewrites a legacy hash of the same secret in the current form; nothing is revoked. False when the hash changed meanwhile.</summary>
    Task<bool> UpgradeSecretHashAsync(long id, string oldHash, string newHash, CancellationToken cancellationToken);

    /// <summary>The robot's token generation (see <see cref="Identity.IUserStore.GetTokenGenerationAsync"/>).</summary>
    Task<long?> GetTokenGenerationAsync(long id, CancellationToken cancellationToken);

    Task<bool> DeleteAsync(long id, CancellationToken cancellationToken);
}

public sealed class SqliteRobotStore(RegistryDatabase database, TimeProvider time) : IRobotStore
{
    private const string Select = "SELECT r.id, r.name, r.project_id, p.name, r.description, r.access, r.disabled, r.duration_days, r.expires_at, r.creation_time, r.update_time FROM robots r JOIN projects p ON p.id = r.project_id";

    public async Task<Robot?> CreateAsync(string name, long projectId, string? description, RepositoryActions access, bool disabled, int durationDays, long expiresAt, string secretHash, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long id = await connection.ScalarAsync<long>(
                "INSERT INTO robots (name, project_id, description, secret_hash, access, disabled, duration_days, expires_at, creation_time, update_time) "
                + "SELECT $n, $p, $d, $s, $a, $x, $dd, $e, $t, $t WHERE NOT EXISTS (SELECT 1 FROM robots WHERE name = $n COLLATE NOCASE) RETURNING id;",
                cancellationToken, ("$n", name), ("$p", projectId), ("$d", description), ("$s", secretHash), ("$a", (int)access), ("$x", disabled ? 1 : 0),
                ("$dd", durationDays), ("$e", StoredExpiry(expiresAt)), ("$t", time.GetUtcNow().ToUnixTimeMilliseconds())).ConfigureAwait(false);
            return id == 0 ? null : await FindByIdAsync(id, cancellationToken).ConfigureAwait(false);
        }
        catch (System.Data.Common.DbException e) when (Data.Sql.IsConstraintViolation(e))
        {
            return null;
        }
    }

    public Task<Robot?> FindByIdAsync(long id, CancellationToken cancellationToken) => FindAsync("r.id = $k", id, cancellationToken);

    public Task<Robot?> FindByNameAsync(string name, CancellationToken cancellationToken) => FindAsync("r.name = $k", name, cancellationToken);

    public async Task<IReadOnlyList<Robot>> ListAsync(long? projectId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        string where = projectId is null ? "" : " WHERE r.project_id = $p";
        return await connection.QueryAsync($"{Select}{where} ORDER BY r.id;", Read, cancellationToken, ("$p", projectId)).ConfigureAwait(false);
    }

    public async Task<string?> GetSecretHashAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ScalarAsync<string>("SELECT secret_hash FROM robots WHERE id = $id;", cancellationToken, ("$id", id)).ConfigureAwait(false);
    }

    public async Task<bool> UpdateAsync(long id, string? description, RepositoryActions access, bool disabled, int durationDays, long expiresAt, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            // Disabling revokes the robot's refresh tokens, as for users.
            "UPDATE robots SET description = $d, access = $a, token_generation = token_generation + (CASE WHEN $x = 1 AND disabled = 0 THEN 1 ELSE 0 END), "
            + "disabled = $x, duration_days = $dd, expires_at = $e, update_time = $t WHERE id = $id;", cancellationToken,
            ("$d", description), ("$a", (int)access), ("$x", disabled ? 1 : 0), ("$dd", durationDays), ("$e", StoredExpiry(expiresAt)),
            ("$t", time.GetUtcNow().ToUnixTimeMilliseconds()), ("$id", id)).ConfigureAwait(false) == 1;
    }

    public async Task<bool> SetSecretHashAsync(long id, string secretHash, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            "UPDATE robots SET secret_hash = $s, token_generation = token_generation + 1, update_time = $t WHERE id = $id;", cancellationToken,
            ("$s", secretHash), ("$t", time.GetUtcNow().ToUnixTimeMilliseconds()), ("$id", id)).ConfigureAwait(false) == 1;
    }

    public async Task<bool> UpgradeSecretHashAsync(long id, string oldHash, string newHash, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            "UPDATE robots SET secret_hash = $n WHERE id = $id AND secret_hash = $o;", cancellationToken,
            ("$n", newHash), ("$o", oldHash), ("$id", id)).ConfigureAwait(false) == 1;
    }

    public async Task<long?> GetTokenGenerationAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ScalarAsync<long?>("SELECT token_generation FROM robots WHERE id = $id;", cancellationToken, ("$id", id)).ConfigureAwait(false);
    }

    public async Task<bool> DeleteAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync("DELETE FROM robots WHERE id = $id;", cancellationToken, ("$id", id)).ConfigureAwait(false) == 1;
    }

    private async Task<Robot?> FindAsync(string where, object key, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var robots = await connection.QueryAsync($"{Select} WHERE {where};", Read, cancellationToken, ("$k", key)).ConfigureAwait(false);
        return robots.Count == 0 ? null : robots[0];
    }

    private static Robot Read(DbDataReader r) =>
        new(r.GetInt64(0), r.GetString(1), r.GetInt64(2), r.GetString(3), r.NullableString(4), (RepositoryActions)r.GetInt64(5), r.GetInt64(6) != 0,
            (int)r.GetInt64(7), ApiExpiry(r.GetInt64(8)), r.Time(9), r.Time(10));

    // Harbor's robot API speaks Unix seconds for expires_at (-1: never); the database, as everywhere, milliseconds.
    private static long StoredExpiry(long seconds) => seconds < 0 ? seconds : seconds * 1000;

    private static long ApiExpiry(long milliseconds) => milliseconds < 0 ? milliseconds : milliseconds / 1000;
}
