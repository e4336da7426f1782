using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Data.Common;
using Wharf.Registry.Identity;
using Wharf.Registry.Data;

namespace Wharf.Registry.Proxy;

/// <summary>
/// An upstream endpoint a proxy-cache project pulls from (Harbor's "registry"). The credential is
/// kept readable because it must be sent upstream; it never leaves the server in an API answer or a log.
/// </summary>
public sealed record UpstreamRegistry(
    long Id, string Name, string Type, Uri Url, string? Description, bool Insecure,
    string? AccessKey, string? AccessSecret, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    /// <summary>Harbor's adapter names this server can talk to: all of them speak the distribution API.</summary>
    public static readonly IReadOnlySet<string> Types = new HashSet<string>(StringComparer.Ordinal)
    {
        "docker-hub", "docker-registry", "harbor", "quay", "github-ghcr", "gitlab", "jfrog-artifactory",
    };

    public bool IsDockerHub => Type == "docker-hub";

    /// <summary>
    /// PEM certificate(s) of the CA this endpoint's TLS certificate must chain to, or null for the
    /// system trust store. A record member, so an edit of it gets a new HTTP client.
    /// </summary>
    public string? CaCertificate { get; init; }

    /// <summary>The certificates of a PEM text (one or more CERTIFICATE blocks); false with the reason when there are none or one is unreadable.</summary>
    public static bool TryLoadCaCertificates(string pem, out X509Certificate2Collection certificates, out string? error)
    {
        certificates = [];
        error = null;
        try
        {
            certificates.ImportFromPem(pem);
        }
        catch (CryptographicException e)
        {
            error = $"not a PEM certificate: {e.Message}";
            return false;
        }

        if (certificates.Count == 0)
        {
            error = "no PEM certificate (-----BEGIN CERTIFICATE-----) found";
            return false;
        }

        return true;
    }

    /// <summary>Where the distribution API answers: Harbor's docker-hub endpoint is the web site, the API is elsewhere.</summary>
    public Uri ApiBase => IsDockerHub && Url.Host is "hub.docker.com" or "docker.io" or "index.docker.io"
        ? new Uri("https://registry-1.docker.io/")
        : new Uri(Url.GetLeftPart(UriPartial.Authority) + "/");

    public override string ToString() => $"{Name} ({Url})"; // never the credential
}

/// <summary>Upstream endpoints and which proxy-cache project is bound to which.</summary>
public interface IUpstreamRegistryStore
{
    /// <summary>Null when the name is taken.</summary>
    Task<UpstreamRegistry?> CreateAsync(UpstreamRegistry registry, CancellationToken cancellationToken);

    Task<UpstreamRegistry?> FindByIdAsync(long id, CancellationToken cancellationToken);

    Task<IReadOnlyList<UpstreamRegistry>> ListAsync(string? nameContains, CancellationToken cancellationToken);

    /// <summary>False when the id is unknown; null when the new name is taken.</summary>
    Task<bool?> UpdateAsync(UpstreamRegistry registry, CancellationToken cancellationToken);

    /// <summary>False when unknown. Throws <see cref="InvalidOperationException"/> while a project uses it.</summary>
    Task<bool> DeleteAsync(long id, CancellationToken cancellationToken);

    Task BindProjectAsync(long projectId, long registryId, CancellationToken cancellationToken);

    /// <summary>The registry a proxy-cache project pulls from, or null for an ordinary project.</summary>
    Task<long?> RegistryOfProjectAsync(long projectId, CancellationToken cancellationToken);
}

/// <summary>
/// Two tables next to the projects: the endpoints, and the binding of a project to one (a row here
/// is what makes a project a proxy cache). A deleted project drops its binding with it.
/// </summary>
public sealed class SqliteUpstreamRegistryStore(RegistryDatabase database, TimeProvider time) : IUpstreamRegistryStore
{
    private const string Columns = "id, name, type, url, description, insecure, access_key, access_secret, creation_time, update_time, ca_certificate";

    public async Task<UpstreamRegistry?> CreateAsync(UpstreamRegistry registry, CancellationToken cancellationToken)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long id = await connection.ScalarAsync<long>(
                "INSERT INTO proxy_registries (name, type, url, description, insecure, access_key, access_secret, creation_time, update_time, ca_certificate) "
                + "SELECT $n, $ty, $u, $d, $i, $k, $s, $t, $t, $ca WHERE NOT EXISTS (SELECT 1 FROM proxy_registries WHERE name = $n COLLATE NOCASE) RETURNING id;",
                cancellationToken, Parameters(registry, now)).ConfigureAwait(false);
            var at = DateTimeOffset.FromUnixTimeMilliseconds(now);
            return id == 0 ? null : registry with { Id = id, CreatedAt = at, UpdatedAt = at };
        }
        catch (System.Data.Common.DbException e) when (Data.Sql.IsConstraintViolation(e))
        {
            return null;
        }
    }

    public async Task<UpstreamRegistry?> FindByIdAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var list = await connection.QueryAsync($"SELECT {Columns} FROM proxy_registries WHERE id = $id;", Read, cancellationToken, ("$id", id)).ConfigureAwait(false);
        return list.Count == 0 ? null : list[0];
    }

    public async Task<IReadOnlyList<UpstreamRegistry>> ListAsync(string? nameContains, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.QueryAsync(
            $"SELECT {Columns} FROM proxy_registries WHERE $q IS NULL OR name LIKE $q ESCAPE '\\' ORDER BY id;", Read, cancellationToken,
            ("$q", string.IsNullOrEmpty(nameContains) ? null : Sql.LikeContains(nameContains))).ConfigureAwait(false);
    }

    public async Task<bool?> UpdateAsync(UpstreamRegistry registry, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long taken = await connection.ScalarAsync<long>(
                "SELECT COUNT(*) FROM proxy_registries WHERE name = $n COLLATE NOCASE AND id <> $id;", cancellationToken,
                ("$n", registry.Name), ("$id", registry.Id)).ConfigureAwait(false);
            if (taken > 0)
            {
                return null;
            }

            return await connection.ExecuteAsync(
                "UPDATE proxy_registries SET name = $n, type = $ty, url = $u, description = $d, insecure = $i, access_key = $k, access_secret = $s, update_time = $t, ca_certificate = $ca WHERE id = $id;",
                cancellationToken, [.. Parameters(registry, time.GetUtcNow().ToUnixTimeMilliseconds()), ("$id", registry.Id)]).ConfigureAwait(false) == 1;
        }
        catch (System.Data.Common.DbException e) when (Data.Sql.IsConstraintViolation(e))
        {
            return null;
        }
    }

    public async Task<bool> DeleteAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        long users = await connection.ScalarAsync<long>("SELECT COUNT(*) FROM proxy_projects WHERE registry_id = $id;", cancellationToken, ("$id", id)).ConfigureAwait(false);
        if (users > 0)
        {
            throw new InvalidOperationException($"registry {id} is used by {users} proxy-cache project(s); delete them first");
        }

        return await connection.ExecuteAsync("DELETE FROM proxy_registries WHERE id = $id;", cancellationToken, ("$id", id)).ConfigureAwait(false) == 1;
    }

    public async Task BindProjectAsync(long projectId, long registryId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "INSERT INTO proxy_projects (project_id, registry_id) VALUES ($p, $r);", cancellationToken, ("$p", projectId), ("$r", registryId)).ConfigureAwait(false);
    }

    public async Task<long?> RegistryOfProjectAsync(long projectId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ScalarAsync<long?>("SELECT registry_id FROM proxy_projects WHERE project_id = $p;", cancellationToken, ("$p", projectId)).ConfigureAwait(false);
    }

    private static (string, object?)[] Parameters(UpstreamRegistry r, long now) =>
    [
        ("$n", r.Name), ("$ty", r.Type), ("$u", r.Url.ToString()), ("$d", r.Description), ("$i", r.Insecure ? 1 : 0),
        ("$k", r.AccessKey), ("$s", r.AccessSecret), ("$t", now), ("$ca", r.CaCertificate),
    ];

    private static UpstreamRegistry Read(DbDataReader r) => new(
        r.GetInt64(0), r.GetString(1), r.GetString(2), new Uri(r.GetString(3)), r.NullableString(4), r.GetInt64(5) != 0,
        r.NullableString(6), r.NullableString(7), r.Time(8), r.Time(9)) { CaCertificate = r.NullableString(10) };

    private Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => database.OpenAsync(cancellationToken);
}
