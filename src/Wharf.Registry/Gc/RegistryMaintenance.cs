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

        await using var held = opened;
        var (metadata, blobs, options) = (opened.Metadata, opened.Blobs, opened.Options);
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

        await using var held = opened;
        var problems = await new ConsistencyCheck(opened.Metadata, opened.Blobs, opened.Options.DataDirectory)
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

    private static async Task<(Opened? Opened, int ExitCode)> OpenAsync(
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
        var options = new RegistryOptions { DataDirectory = root, Database = database, GcGracePeriod = TimeSpan.Zero };
        var opened = new Opened(held, new SqliteMetadataStore(registry), new FileSystemBlobStore(root), options);
        try
        {
            if (postgreSql && await RefusedAsync(opened, output, cancellationToken).ConfigureAwait(false) is int refused)
            {
                await opened.DisposeAsync().ConfigureAwait(false);
                return (null, refused);
            }
        }
        catch (Exception e) when (e is System.Data.Common.DbException or TimeoutException or InvalidOperationException)
        {
            // The URL carries the password: the message names neither.
            await opened.DisposeAsync().ConfigureAwait(false);
            await output.WriteLineAsync($"Error: cannot use the database: {e.Message}").ConfigureAwait(false);
            return (null, 1);
        }

        return (opened, 0);
    }

    /// <summary>
    /// On a shared database: a database without wharfd's schema is refused unchanged (nothing is
    /// migrated into a mistyped database), and so is one that another offline run holds or a live
    /// instance serves; null when none of these, and then <paramref name="opened"/> holds the offline
    /// lease (taken before the heartbeats are read: see <see cref="InstanceHeartbeat.StartAsync"/>).
    /// </summary>
    private static async Task<int?> RefusedAsync(Opened opened, TextWriter output, CancellationToken cancellationToken)
    {
        var registry = opened.Metadata.Database;
        if (!await registry.HasSchemaAsync(cancellationToken).ConfigureAwait(false))
        {
            await output.WriteLineAsync("Error: the database holds no wharfd registry (no schema_migrations table); nothing was changed").ConfigureAwait(false);
            return 2;
        }

        var leases = new DatabaseLeases(registry, TimeProvider.System);
        if (!await leases.TryAcquireAsync(InstanceHeartbeat.OfflineMaintenanceLease, OfflineLease.Duration, cancellationToken).ConfigureAwait(false))
        {
            var other = await leases.HolderAsync(InstanceHeartbeat.OfflineMaintenanceLease, DateTimeOffset.UtcNow, cancellationToken).ConfigureAwait(false);
            await output.WriteLineAsync($"Error: another offline wharfd gc or fsck ({other?.Holder ?? "unknown"}) is working on the database; wait for it").ConfigureAwait(false);
            return 2;
        }

        opened.Lease = new OfflineLease(leases);
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

    /// <summary>What an offline command works on, released in reverse: the offline lease, the database's connections, the data-directory lock.</summary>
    private sealed class Opened(DataDirectoryLock held, SqliteMetadataStore metadata, FileSystemBlobStore blobs, RegistryOptions options) : IAsyncDisposable
    {
        public SqliteMetadataStore Metadata => metadata;

        public FileSystemBlobStore Blobs => blobs;

        public RegistryOptions Options => options;

        public OfflineLease? Lease { get; set; }

        public async ValueTask DisposeAsync()
        {
            if (Lease is not null)
            {
                await Lease.DisposeAsync().ConfigureAwait(false);
            }

            // The SQLite pool or PostgreSQL's data source: nothing holds the database open after the command.
            metadata.Database.Dispose();
            held.Dispose();
        }
    }

    /// <summary>
    /// The offline run's lease on a shared database, renewed while it runs so that it lapses soon after
    /// a killed run, and released at the end; instances refuse to start while it is live.
    /// </summary>
    private sealed class OfflineLease : IAsyncDisposable
    {
        public static readonly TimeSpan Duration = TimeSpan.FromMinutes(2);
        private static readonly TimeSpan Renewal = TimeSpan.FromSeconds(30);

        private readonly DatabaseLeases _leases;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _renewing;

        public OfflineLease(DatabaseLeases leases)
        {
            _leases = leases;
            _renewing = RenewAsync();
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            await _renewing.ConfigureAwait(false);
            try
            {
                await _leases.ReleaseAsync(InstanceHeartbeat.OfflineMaintenanceLease, CancellationToken.None).ConfigureAwait(false);
            }
            catch (System.Data.Common.DbException)
            {
                // It lapses on its own within Duration.
            }

            _stop.Dispose();
        }

        private async Task RenewAsync()
        {
            try
            {
                using var timer = new PeriodicTimer(Renewal);
                while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
                {
                    try
                    {
                        await _leases.TryAcquireAsync(InstanceHeartbeat.OfflineMaintenanceLease, Duration, _stop.Token).ConfigureAwait(false);
                    }
                    catch (System.Data.Common.DbException)
                    {
                        // Tried again at the next tick; the lease still has most of its time.
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        }
    }
}
