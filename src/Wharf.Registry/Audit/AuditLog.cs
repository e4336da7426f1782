using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wharf.Oci;
using Wharf.Registry.Identity;
using Wharf.Registry.Metadata;

namespace Wharf.Registry.Audit;

/// <summary>
/// The audit log's writer. Callers hand entries to a bounded channel and return at once; one
/// background loop drains it in batches (one transaction each) and adds pulls to the artifacts' pull
/// counts, so a pull never waits for a database write. A second loop purges entries older than
/// <see cref="IdentityOptions.AuditRetention"/> every hour.
/// </summary>
public sealed partial class AuditLog(
    IAuditLogStore store, IArtifactStore artifacts, IdentityOptions options, TimeProvider time, ILogger<AuditLog> logger) : BackgroundService, IAuditLog
{
    private const int Capacity = 65_536;
    private const int MaxBatch = 512;

    /// <summary>How long a reader waits for queued entries before answering with what is stored.</summary>
    private static readonly TimeSpan FlushWait = TimeSpan.FromSeconds(10);

    /// <summary>Between attempts to write a batch the database refused (a full disk, a locked file).</summary>
    public static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(5);

    private readonly Channel<Item> _channel = Channel.CreateBounded<Item>(new BoundedChannelOptions(Capacity)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    private long _dropped;

    /// <summary>Entries refused because the writer fell behind by <see cref="Capacity"/> entries.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public void Record(string username, string operation, string resourceType, string resource, string? project, bool success = true) =>
        Enqueue(new Item(new AuditEntry(0, username, operation, resourceType, resource, project, success, time.GetUtcNow()), null, null));

    public void RecordPull(string username, RepositoryName repository, ManifestReference reference, Digest digest)
    {
        var now = time.GetUtcNow();
        string resource = reference.IsDigest ? $"{repository}@{reference}" : $"{repository}:{reference}";
        Enqueue(new Item(new AuditEntry(0, username, "pull", "artifact", resource, repository.Project, true, now), new PullRecord(repository, digest, 1, now), null));
    }

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_channel.Writer.TryWrite(new Item(null, null, done)))
        {
            await _channel.Writer.WriteAsync(new Item(null, null, done), cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await done.Task.WaitAsync(FlushWait, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The writer is stuck (a locked database) or not running: answer with what is stored rather than hang.
            Log.FlushTimedOut(logger, FlushWait);
        }
    }

    /// <summary>Deletes what is older than the retention; the hourly loop calls this.</summary>
    public Task<int> PurgeExpiredAsync(CancellationToken cancellationToken) =>
        store.PurgeAsync(time.GetUtcNow() - options.AuditRetention, cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var purge = PurgeLoopAsync(stoppingToken);
        try
        {
            while (await _channel.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                await DrainAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: write what is queued before leaving (one attempt per batch now).
            await DrainAsync(stoppingToken).ConfigureAwait(false);
        }

        await purge.ConfigureAwait(false);
    }

    private void Enqueue(Item item)
    {
        if (!_channel.Writer.TryWrite(item))
        {
            if (Interlocked.Increment(ref _dropped) % 1000 == 1)
            {
                Log.Dropped(logger, Dropped);
            }
        }
    }

    /// <summary>
    /// Writes what is queued, batch by batch. A batch the database refuses is kept and retried every
    /// <see cref="RetryDelay"/> until it is written (entries are never dropped because a write failed;
    /// new ones queue meanwhile, up to the channel's capacity); only at shutdown does a batch that still
    /// fails get logged as lost, with its count.
    /// </summary>
    private async Task DrainAsync(CancellationToken stopping)
    {
        while (true)
        {
            var entries = new List<AuditEntry>();
            var pulls = new Dictionary<(string, string), PullRecord>();
            var flushes = new List<TaskCompletionSource>();
            while (entries.Count < MaxBatch && _channel.Reader.TryRead(out var item))
            {
                if (item.Entry is not null)
                {
                    entries.Add(item.Entry);
                }

                if (item.Pull is { } pull)
                {
                    var key = (pull.Repository.Value, pull.Digest.ToString());
                    pulls[key] = pulls.TryGetValue(key, out var seen) ? seen with { Count = seen.Count + 1, At = pull.At } : pull;
                }

                if (item.Flush is not null)
                {
                    flushes.Add(item.Flush);
                }
            }

            if (entries.Count == 0 && flushes.Count == 0)
            {
                return;
            }

            await WriteAsync(entries, pulls, stopping).ConfigureAwait(false);

            foreach (var flush in flushes)
            {
                flush.TrySetResult();
            }
        }
    }

    private async Task WriteAsync(List<AuditEntry> entries, Dictionary<(string, string), PullRecord> pulls, CancellationToken stopping)
    {
        bool entriesWritten = entries.Count == 0;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                if (!entriesWritten)
                {
                    await store.AppendAsync(entries, CancellationToken.None).ConfigureAwait(false);
                    entriesWritten = true; // a retry after a failed pull count must not write them twice
                }

                if (pulls.Count > 0)
                {
                    await artifacts.RecordPullsAsync(pulls.Values, CancellationToken.None).ConfigureAwait(false);
                }

                return;
            }
            catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or IOException or InvalidOperationException)
            {
                int pending = entriesWritten ? 0 : entries.Count;
                if (stopping.IsCancellationRequested)
                {
                    Log.Lost(logger, pending, e);
                    return;
                }

                Log.WriteFailed(logger, pending, attempt, RetryDelay, e);
            }

            try
            {
                await Task.Delay(RetryDelay, time, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Shutting down: one last attempt.
            }
        }
    }

    private async Task PurgeLoopAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    int purged = await PurgeExpiredAsync(stoppingToken).ConfigureAwait(false);
                    if (purged > 0)
                    {
                        Log.Purged(logger, purged, options.AuditRetention);
                    }
                }
                catch (Microsoft.Data.Sqlite.SqliteException e)
                {
                    Log.PurgeFailed(logger, e);
                }

                await Task.Delay(TimeSpan.FromHours(1), time, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private sealed record Item(AuditEntry? Entry, PullRecord? Pull, TaskCompletionSource? Flush);

    private static partial class Log
    {
        [LoggerMessage(EventId = 40, Level = LogLevel.Warning, Message = "audit log writer is behind; {Dropped} entries dropped so far")]
        public static partial void Dropped(ILogger logger, long dropped);

        [LoggerMessage(EventId = 41, Level = LogLevel.Error, Message = "writing {Count} audit entries failed (attempt {Attempt}); retrying in {Delay}")]
        public static partial void WriteFailed(ILogger logger, int count, int attempt, TimeSpan delay, Exception exception);

        [LoggerMessage(EventId = 45, Level = LogLevel.Critical, Message = "{Count} audit entries could not be written before shutdown and are lost")]
        public static partial void Lost(ILogger logger, int count, Exception exception);

        [LoggerMessage(EventId = 42, Level = LogLevel.Information, Message = "purged {Count} audit entries older than {Retention}")]
        public static partial void Purged(ILogger logger, int count, TimeSpan retention);

        [LoggerMessage(EventId = 43, Level = LogLevel.Error, Message = "purging the audit log failed")]
        public static partial void PurgeFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 44, Level = LogLevel.Warning, Message = "audit log writer did not catch up within {Wait}; answering with what is stored")]
        public static partial void FlushTimedOut(ILogger logger, TimeSpan wait);
    }
}
