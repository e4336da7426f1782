using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wharf.Oci;

namespace Wharf.Registry.Audit;

/// <summary>
/// The audit log's writer. Callers hand entries to a bounded channel and return at once; one
/// background loop drains it in batches (one transaction each), so a pull never waits for a database
/// write. (Pull counts are <see cref="Accounting.PullAccounting"/>'s.) Purging old entries is
/// <see cref="AuditPurge"/>'s.
/// </summary>
public sealed partial class AuditLog(
    IAuditLogStore store, TimeProvider time, ILogger<AuditLog> logger) : BackgroundService, IAuditLog
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
        Enqueue(new Item(new AuditEntry(0, username, operation, resourceType, resource, project, success, time.GetUtcNow()), null));

    public void RecordPull(string username, RepositoryName repository, ManifestReference reference, Digest digest)
    {
        var now = time.GetUtcNow();
        string resource = reference.IsDigest ? $"{repository}@{reference}" : $"{repository}:{reference}";
        Enqueue(new Item(new AuditEntry(0, username, "pull", "artifact", resource, repository.Project, true, now), null));
    }

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_channel.Writer.TryWrite(new Item(null, done)))
        {
            await _channel.Writer.WriteAsync(new Item(null, done), cancellationToken).ConfigureAwait(false);
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

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
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
            var flushes = new List<TaskCompletionSource>();
            while (entries.Count < MaxBatch && _channel.Reader.TryRead(out var item))
            {
                if (item.Entry is not null)
                {
                    entries.Add(item.Entry);
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

            await WriteAsync(entries, stopping).ConfigureAwait(false);

            foreach (var flush in flushes)
            {
                flush.TrySetResult();
            }
        }
    }

    private async Task WriteAsync(List<AuditEntry> entries, CancellationToken stopping)
    {
        if (entries.Count == 0)
        {
            return;
        }

        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await store.AppendAsync(entries, CancellationToken.None).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is System.Data.Common.DbException or IOException or InvalidOperationException)
            {
                int pending = entries.Count;
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

    private sealed record Item(AuditEntry? Entry, TaskCompletionSource? Flush);

    private static partial class Log
    {
        [LoggerMessage(EventId = 40, Level = LogLevel.Warning, Message = "audit log writer is behind; {Dropped} entries dropped so far")]
        public static partial void Dropped(ILogger logger, long dropped);

        [LoggerMessage(EventId = 41, Level = LogLevel.Error, Message = "writing {Count} audit entries failed (attempt {Attempt}); retrying in {Delay}")]
        public static partial void WriteFailed(ILogger logger, int count, int attempt, TimeSpan delay, Exception exception);

        [LoggerMessage(EventId = 45, Level = LogLevel.Critical, Message = "{Count} audit entries could not be written before shutdown and are lost")]
        public static partial void Lost(ILogger logger, int count, Exception exception);


        [LoggerMessage(EventId = 44, Level = LogLevel.Warning, Message = "audit log writer did not catch up within {Wait}; answering with what is stored")]
        public static partial void FlushTimedOut(ILogger logger, TimeSpan wait);
    }
}
