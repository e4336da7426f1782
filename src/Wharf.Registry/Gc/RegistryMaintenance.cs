using Microsoft.Extensions.Logging.Abstractions;
using Wharf.Registry.Metadata;
using Wharf.Registry.Storage;

namespace Wharf.Registry.Gc;

/// <summary>
/// <c>wharfd gc</c> and <c>wharfd fsck</c>: maintenance of a data directory while no wharfd serves it.
/// Both take the data-directory lock, so they refuse while a server holds it (and a server cannot
/// start while they run). Exit codes: 0 done (fsck: consistent, or every problem repaired), 1 not
/// (fsck: problems remain; gc: it failed), 2 the data directory is missing or in use.
/// </summary>
public static class RegistryMaintenance
{
    /// Offline GC of a data directory (takes the data-directory lock; refuses with a clear message if wharfd holds it). Returns an exit code.
    public static async Task<int> CollectGarbageAsync(string dataDirectory, bool dryRun, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        var opened = Open(dataDirectory, output);
        if (opened is null)
        {
            return 2;
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
    public static async Task<int> CheckAsync(string dataDirectory, bool repair, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        var opened = Open(dataDirectory, output);
        if (opened is null)
        {
            return 2;
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

    private static (DataDirectoryLock Lock, SqliteMetadataStore Metadata, FileSystemBlobStore Blobs, RegistryOptions Options)? Open(string dataDirectory, TextWriter output)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        string root = Path.GetFullPath(dataDirectory);
        string database = Path.Combine(root, "registry.db");
        if (!File.Exists(database))
        {
            output.WriteLine($"Error: {root} is not a wharfd data directory (no registry.db)");
            return null;
        }

        DataDirectoryLock held;
        try
        {
            held = DataDirectoryLock.Acquire(root);
        }
        catch (DataDirectoryInUseException e)
        {
            output.WriteLine($"Error: {e.Message}; stop it first");
            return null;
        }

        var options = new RegistryOptions { DataDirectory = root, GcGracePeriod = TimeSpan.Zero };
        return (held, new SqliteMetadataStore(database), new FileSystemBlobStore(root), options);
    }

    /// <summary>Closes the pooled connections to the database when done, so nothing holds it open after the command.</summary>
    private sealed class PoolRelease(SqliteMetadataStore metadata) : IDisposable
    {
        public void Dispose()
        {
            metadata.Database.ClearPool();
        }
    }
}
