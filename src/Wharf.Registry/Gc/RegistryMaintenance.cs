using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Wharf.Registry.Data;
using Wharf.Registry.Metadata;
using Wharf.Registry.Storage;

namespace Wharf.Registry.Gc;

/// <summary>
/// <c>wharfd gc</c> and <c>wharfd fsck</c>: maintenance of a data directory while no wharfd serves it.
/// Both take the data-directory lock, so they refuse while a server on this host holds it (and a server
/// cannot start here while they run). With the metadata in PostgreSQL (<c>--database</c>), instances on
/// other hosts share the database but not the lock: the commands then also refuse while any instance's
/// heartbeat (<see cref="InstanceHeartbeat"/>) is live, naming each one. Exit codes: 0 done (fsck:
/// consistent, or every problem repaired), 1 not (fsck: problems remain; gc: it failed; the database
/// cannot be reached), 2 the data directory or database is not a registry's, or it is in use.
/// </summary>
public static class RegistryMaintenance
{
    /// Offline GC of a data directory and its SQLite database.
    public static Task<int> CollectGarbageAsync(string dataDirectory, bool dryRun, TextWriter output, CancellationToken cancellationToken) =>
        CollectGarbageAsync(dataDirectory, null, dryRun, output, cancellationToken);

    /// Offline consistency check of a data directory and its SQLite database.
    public static Task<int> CheckAsync(string dataDirectory, bool repair, TextWriter output, CancellationToken cancellationToken) =>
        CheckAsync(dataDirectory, null, repair, output, cancellationToken);

    /// Offline GC of a data directory and its database (<paramref name="database"/>: a PostgreSQL URL, or null for
    /// registry.db); refuses with a clear message while a wharfd uses either. Returns an exit code.
    public static async Task<int> CollectGarbageAsync(string dataDirectory, string? database, bool dryRun, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        var (opened, failed) = await OpenAsync(dataDirectory, database, output, cancellationToken).ConfigureAwait(false);
        if (opened is null)
        {
            return failed;
        }

        using var held = opened.Value.Lock;
        var (metadata, blobs, options) = (opened.Value.Metadata, opened.Value.Blobs, opened.Value.Options);
        using var pool = new PoolRelease(metadata);
        long id = await metadata.CreateGcRunAsync(dryRun, "Offline", cancellationToken).ConfigureAwait(false);
        try
        {
            // Nothing pushes while the lock is held, so unreferenced blobs need no grace; links keep
            // theirs (an interrupted push may resume its upload sessions once the server is back).
            var collector = new GarbageCollector(metadata, blobs, new BlobLocks(), options, TimeProvider.System, NullLogger<GarbageCollector>.Instance);
            var report = await collector.RunAsync(dryRun, cancellationToken).ConfigureAwait(false);
            await metadata.FinishGcRunAsync(id, "Success", report.Removed.Count, report.BytesFreed, report.Log, CancellationToken.None).ConfigureAwait(false);
            await output.WriteAsync(report.Log).ConfigureAwait(false);
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Data.Common.DbException)
        {
            await metadata.FinishGcRunAsync(id, "Error", 0, 0, $"failed: {e.Message}\n", CancellationToken.None).ConfigureAwait(false);
            await output.WriteLineAsync($"Error: garbage collection of {dataDirectory} failed: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    /// Offline consistency check: rows without files, files without rows, blob digests that don't match their bytes, quota usage that disagrees with content; repair fixes what it safely can. Returns 0 when consistent (or repaired), 1 otherwise.
    public static async Task<int> CheckAsync(string dataDirectory, string? database, bool repair, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        var (opened, failed) = await OpenAsync(dataDirectory, database, output, cancellationToken).ConfigureAwait(false);
        if (opened is null)
        {
            return failed;
        }

        using var held = opened.Value.Lock;
        using var pool = new PoolRelease(opened.Value.Metadata);
        var problems = await new ConsistencyCheck(opened.Value.Metadata, opened.Value.Blobs, opened.Value.Options.DataDirectory)
            .RunAsync(repair, cancellationToken).ConfigureAwait(false);
        foreach (var p in problems)
        {
            string state = p.Repaired ? "repaired" : repair ? "NOT repaired" : "found";
            await output.WriteLineAsync($"{state}: {p.Kind}: {p.Subject}: {p.Detail}").ConfigureAwait(false);
        }

        int open = problems.Count(p => !p.Repaired);
        await output.WriteLineAsync(problems.Count == 0
            ? "consistent"
            : $"{problems.Count} problems, {problems.Count - open} repaired, {open} remaining").ConfigureAwait(false);
        return open == 0 ? 0 : 1;
    }

    private static async Task<((DataDirectoryLock Lock, SqliteMetadataStore Metadata, FileSystemBlobStore Blobs, RegistryOptions Options)? Opened, int ExitCode)> OpenAsync(
        string dataDirectory, string? database, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        string root = Path.GetFullPath(dataDirectory);
        bool postgreSql = !string.IsNullOrWhiteSpace(database);
        if (postgreSql)
        {
            try
            {
                _ = PostgreSqlUrl.Parse(database!);
            }
            catch (FormatException e)
            {
                await output.WriteLineAsync($"Error: --database: {e.Message}").ConfigureAwait(false);
                return (null, 2);
            }

            if (!Directory.Exists(root))
            {
                await output.WriteLineAsync($"Error: {root} is not a wharfd data directory (it does not exist)").ConfigureAwait(false);
                return (null, 2);
            }
        }
        else if (!File.Exists(Path.Combine(root, "registry.db")))
        {
            await output.WriteLineAsync($"Error: {root} is not a wharfd data directory (no registry.db)").ConfigureAwait(false);
            return (null, 2);
        }

        DataDirectoryLock held;
        try
        {
            held = DataDirectoryLock.Acquire(root);
        }
        catch (DataDirectoryInUseException e)
        {
            await output.WriteLineAsync($"Error: {e.Message}; stop it first").ConfigureAwait(false);
            return (null, 2);
        }

        var registry = RegistryDatabase.Create(database, root);
        try
        {
            if (postgreSql && await RefusedAsync(registry, output, cancellationToken).ConfigureAwait(false) is int refused)
            {
                registry.Dispose();
                held.Dispose();
                return (null, refused);
            }
        }
        catch (Exception e) when (e is System.Data.Common.DbException or TimeoutException or InvalidOperationException)
        {
            // The URL carries the password: the message names neither.
            registry.Dispose();
            held.Dispose();
            await output.WriteLineAsync($"Error: cannot use the database: {e.Message}").ConfigureAwait(false);
            return (null, 1);
        }

        var options = new RegistryOptions { DataDirectory = root, Database = database, GcGracePeriod = TimeSpan.Zero };
        return ((held, new SqliteMetadataStore(registry), new FileSystemBlobStore(root), options), 0);
    }

    /// <summary>
    /// On a shared database: a database without wharfd's schema is refused unchanged (nothing is
    /// migrated into a mistyped database), and so is one that a live instance serves; null when neither.
    /// </summary>
    private static async Task<int?> RefusedAsync(RegistryDatabase registry, TextWriter output, CancellationToken cancellationToken)
    {
        if (!await registry.HasSchemaAsync(cancellationToken).ConfigureAwait(false))
        {
            await output.WriteLineAsync("Error: the database holds no wharfd registry (no schema_migrations table); nothing was changed").ConfigureAwait(false);
            return 2;
        }

        var now = DateTimeOffset.UtcNow;
        var live = await InstanceHeartbeat.LiveAsync(registry, now, cancellationToken).ConfigureAwait(false);
        if (live.Count == 0)
        {
            return null;
        }

        var lines = live.Select(i => string.Create(CultureInfo.InvariantCulture,
            $"{i.Host} PID {i.Pid} (last heartbeat {(now - i.SeenAt).TotalSeconds:0} s ago, live until {i.ExpiresAt.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC unless it beats again)"));
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"Error: the database is in use by {live.Count} live wharfd instance(s): {string.Join("; ", lines)}; stop them first (a killed instance counts as live until its heartbeat expires)")).ConfigureAwait(false);
        return 2;
    }

    /// <summary>Closes the database's connections (the SQLite pool, PostgreSQL's data source) when done, so nothing holds it open after the command.</summary>
    private sealed class PoolRelease(SqliteMetadataStore metadata) : IDisposable
    {
        public void Dispose()
        {
            metadata.Database.Dispose();
        }
    }
}
