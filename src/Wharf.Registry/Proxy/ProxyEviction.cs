using System.Data.Common;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wharf.Oci;
using Wharf.Registry.Api;
using Wharf.Registry.Identity;
using Wharf.Registry.Metadata;
using Wharf.Registry.Data;

namespace Wharf.Registry.Proxy;

/// <summary>
/// When each cached manifest of a proxy-cache project was last pulled (or cached), so content nobody
/// pulled for <see cref="ProxyCacheOptions.EvictAfter"/> can be evicted.
/// </summary>
public sealed class ProxyPullLog(RegistryDatabase database)
{
    public async Task RecordAsync(RepositoryName repository, Digest digest, bool isIndex, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "INSERT INTO proxy_pulls (repository, digest, is_index, last_pull) VALUES ($r, $d, $i, $t) "
            // The existing row's column named with its table: unqualified, PostgreSQL finds it ambiguous with excluded's.
            + "ON CONFLICT (repository, digest) DO UPDATE SET last_pull = MAX(proxy_pulls.last_pull, excluded.last_pull);",
            cancellationToken, ("$r", repository.Value), ("$d", digest.ToString()), ("$i", isIndex ? 1 : 0), ("$t", at.ToUnixTimeMilliseconds())).ConfigureAwait(false);
    }

    /// <summary>Manifests last pulled before <paramref name="cutoff"/>, image indexes first (their children are freed by their going).</summary>
    public async Task<IReadOnlyList<(RepositoryName Repository, Digest Digest)>> ListIdleAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.QueryAsync(
            "SELECT repository, digest FROM proxy_pulls WHERE last_pull < $c ORDER BY is_index DESC, repository, digest;",
            r => (RepositoryName.Parse(r.GetString(0)), Digest.Parse(r.GetString(1))), cancellationToken, ("$c", cutoff.ToUnixTimeMilliseconds())).ConfigureAwait(false);
    }

    public async Task ForgetAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync("DELETE FROM proxy_pulls WHERE repository = $r AND digest = $d;", cancellationToken,
            ("$r", repository.Value), ("$d", digest.ToString())).ConfigureAwait(false);
    }

    private Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => database.OpenAsync(cancellationToken);
}

/// <summary>
/// Evicts cached manifests nobody pulled for <see cref="ProxyCacheOptions.EvictAfter"/>: they are
/// deleted as a user's delete would (tags with them, quota released); their blobs, then referenced
/// by nothing, are unlinked and removed by GC under its usual grace periods (docs/registry.md).
/// An index goes before its children; a child an index still lists waits for a later run.
/// </summary>
public sealed partial class ProxyEviction(
    ProxyPullLog pulls, ProxyCache proxy, IMetadataStore metadata, ManifestCache cache, ProxyCacheOptions options, TimeProvider time, ILogger<ProxyEviction> logger)
    : BackgroundService
{
    /// <summary>One pass; returns how many manifests were evicted.</summary>
    public async Task<int> EvictAsync(CancellationToken cancellationToken)
    {
        int evicted = 0;
        var cutoff = time.GetUtcNow() - options.EvictAfter;
        foreach (var (repository, digest) in await pulls.ListIdleAsync(cutoff, cancellationToken).ConfigureAwait(false))
        {
            // A project deleted and made again as an ordinary one keeps its pushed content.
            if (await proxy.FindAsync(repository, cancellationToken).ConfigureAwait(false) is null)
            {
                await pulls.ForgetAsync(repository, digest, cancellationToken).ConfigureAwait(false);
                continue;
            }

            cache.Invalidate(repository.Value);
            try
            {
                if (await metadata.DeleteManifestAsync(repository, digest, cancellationToken).ConfigureAwait(false))
                {
                    evicted++;
                    LogEvicted(logger, repository, digest, options.EvictAfter);
                }

                await pulls.ForgetAsync(repository, digest, cancellationToken).ConfigureAwait(false);
            }
            catch (ManifestReferencedException)
            {
                // Still listed by an index pulled recently: it goes when the index does.
            }
            finally
            {
                cache.Invalidate(repository.Value);
            }
        }

        return evicted;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.EvictionInterval <= TimeSpan.Zero || options.EvictAfter <= TimeSpan.Zero)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.EvictionInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await EvictAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogFailed(logger, e);
            }
        }
    }

    [LoggerMessage(EventId = 46, Level = LogLevel.Information, Message = "proxy {Repository}@{Digest} evicted: not pulled for {Idle}")]
    private static partial void LogEvicted(ILogger logger, RepositoryName repository, Digest digest, TimeSpan idle);

    [LoggerMessage(EventId = 47, Level = LogLevel.Warning, Message = "proxy eviction failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
