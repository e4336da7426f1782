using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wharf.Oci;
using Wharf.Registry.Metadata;

namespace Wharf.Registry.Accounting;

/// <summary>Settings under <c>Registry:PullAccounting</c>.</summary>
public sealed class PullAccountingOptions
{
    /// <summary>Off: pulls are still audited, but no artifact's pull count or pull time moves.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How often the counts gathered in memory are written; a crash loses at most this much.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Pull counts and last-pulled times per artifact (Harbor's <c>pull_count</c>, <c>pull_time</c>), kept
/// off the pull path: a manifest GET only increments a counter in memory; every
/// <see cref="PullAccountingOptions.FlushInterval"/>, at shutdown, and before a listing that shows them
/// (<see cref="FlushAsync"/>), the counts are added to the database in one transaction. A crash loses
/// the counts of at most the last interval; a write the database refuses is kept and retried.
/// </summary>
public sealed partial class PullAccounting(
    IArtifactStore store, PullAccountingOptions options, TimeProvider time, ILogger<PullAccounting> logger) : BackgroundService
{
    // One counter per artifact pulled since start; entries stay (a few dozen bytes each) so an
    // increment never races a removal. The flush takes each counter's count with an exchange.
    private readonly ConcurrentDictionary<(RepositoryName Repository, Digest Digest), Counter> _counters = new();
    private readonly SemaphoreSlim _flushing = new(1, 1);

    // Counts taken from the counters whose write failed, retried first at the next flush.
    private readonly Dictionary<(RepositoryName, Digest), PullRecord> _unwritten = [];

    public bool Enabled => options.Enabled;

    public void Record(RepositoryName repository, Digest digest)
    {
        if (!options.Enabled)
        {
            return;
        }

        var counter = _counters.GetOrAdd((repository, digest), static _ => new Counter());
        Interlocked.Increment(ref counter.Count);
        Interlocked.Exchange(ref counter.LastTicks, time.GetUtcNow().UtcTicks);
    }

    /// <summary>Writes what was counted so far; returns once it is in the database (or the write failed and was kept).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (!options.Enabled)
        {
            return;
        }

        await _flushing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var ((repository, digest), counter) in _counters)
            {
                long count = Interlocked.Exchange(ref counter.Count, 0);
                if (count == 0)
                {
                    continue;
                }

                var at = new DateTimeOffset(Interlocked.Read(ref counter.LastTicks), TimeSpan.Zero);
                _unwritten[(repository, digest)] = _unwritten.TryGetValue((repository, digest), out var earlier)
                    ? earlier with { Count = earlier.Count + count, At = at > earlier.At ? at : earlier.At }
                    : new PullRecord(repository, digest, count, at);
            }

            if (_unwritten.Count == 0)
            {
                return;
            }

            try
            {
                await store.RecordPullsAsync([.. _unwritten.Values], CancellationToken.None).ConfigureAwait(false);
                _unwritten.Clear();
            }
            catch (Exception e) when (e is System.Data.Common.DbException or IOException or InvalidOperationException)
            {
                Log.WriteFailed(logger, _unwritten.Count, e);
            }
        }
        finally
        {
            _flushing.Release();
        }
    }

    /// <summary>Counts gathered and not yet written (for tests and the shutdown log).</summary>
    public long Pending => _counters.Values.Sum(c => Interlocked.Read(ref c.Count)) + _unwritten.Values.Sum(p => p.Count);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Enabled)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.FlushInterval > TimeSpan.Zero ? options.FlushInterval : TimeSpan.FromSeconds(5), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                await FlushAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);

        // The last counts go in before the process ends; a clean shutdown loses none.
        await FlushAsync(CancellationToken.None).ConfigureAwait(false);
        if (_unwritten.Count > 0)
        {
            Log.Lost(logger, _unwritten.Values.Sum(p => p.Count));
        }
    }

    public override void Dispose()
    {
        _flushing.Dispose();
        base.Dispose();
    }

    private sealed class Counter
    {
        public long Count;
        public long LastTicks;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1601, Level = LogLevel.Warning, Message = "writing the pull counts of {Artifacts} artifacts failed; kept for the next flush")]
        public static partial void WriteFailed(ILogger logger, int artifacts, Exception exception);

        [LoggerMessage(EventId = 1602, Level = LogLevel.Error, Message = "{Pulls} pulls could not be counted before shutdown and are lost")]
        public static partial void Lost(ILogger logger, long pulls);
    }
}
