using Microsoft.Extensions.Logging;
using Wharf.Registry.Metadata;

namespace Wharf.Registry.Gc;

/// <summary>
/// Runs of garbage collection that the history records (Harbor's <c>/system/gc</c>): one at a
/// time; an admin's run starts in the background and its record says when it finished and what it
/// did. The schedule's runs go through here too, so the history shows them.
/// </summary>
public sealed partial class GcJobs(GarbageCollector collector, IGcMetadataStore store, ILogger<GcJobs> logger, Metrics.RegistryMetrics? metrics = null) : IAsyncDisposable, IDisposable
{
    public const string Manual = "Manual";
    public const string Schedule = "Schedule";

    private readonly SemaphoreSlim _one = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private Task _current = Task.CompletedTask;
    private int _disposed;

    /// <summary>Starts a run and returns its id at once; null when a run is already going.</summary>
    public async Task<long?> StartAsync(bool dryRun, string trigger, CancellationToken cancellationToken)
    {
        if (!await _one.WaitAsync(0, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        long id;
        try
        {
            id = await store.CreateGcRunAsync(dryRun, trigger, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _one.Release();
            throw;
        }

        _current = Task.Run(async () =>
        {
            try
            {
                await RunRecordedAsync(id, dryRun, _stopping.Token).ConfigureAwait(false);
            }
            finally
            {
                _one.Release();
            }
        }, CancellationToken.None);
        return id;
    }

    /// <summary>Runs now (waiting for a run in progress to end) and records it.</summary>
    public async Task<GcReport?> RunAsync(bool dryRun, string trigger, CancellationToken cancellationToken) =>
        (await RunWithIdAsync(dryRun, trigger, cancellationToken).ConfigureAwait(false)).Report;

    /// <summary>As <see cref="RunAsync"/>, with the id of the run's record (for a job that names the GC run it caused).</summary>
    public async Task<(long Id, GcReport? Report)> RunWithIdAsync(bool dryRun, string trigger, CancellationToken cancellationToken)
    {
        await _one.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long id = await store.CreateGcRunAsync(dryRun, trigger, cancellationToken).ConfigureAwait(false);
            return (id, await RunRecordedAsync(id, dryRun, cancellationToken).ConfigureAwait(false));
        }
        finally
        {
            _one.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _current.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stopping.Dispose();
        _one.Dispose();
    }

    /// <summary>For a container disposed synchronously: stops a run in progress and waits for it to record that.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private async Task<GcReport?> RunRecordedAsync(long id, bool dryRun, CancellationToken cancellationToken)
    {
        try
        {
            var report = await collector.RunAsync(dryRun, cancellationToken).ConfigureAwait(false);
            await store.FinishGcRunAsync(id, "Success", report.Removed.Count, report.BytesFreed, report.Log, CancellationToken.None).ConfigureAwait(false);
            metrics?.GcRuns.WithLabels("Success", dryRun ? "true" : "false").Inc();
            if (!dryRun)
            {
                metrics?.GcBytesFreed.Inc(report.BytesFreed);
                metrics?.GcBlobsRemoved.Inc(report.Removed.Count);
            }

            return report;
        }
        catch (OperationCanceledException)
        {
            await store.FinishGcRunAsync(id, "Stopped", 0, 0, "stopped: the registry shut down\n", CancellationToken.None).ConfigureAwait(false);
            metrics?.GcRuns.WithLabels("Stopped", dryRun ? "true" : "false").Inc();
            return null;
        }
        catch (Exception e)
        {
            LogFailed(logger, id, e);
            await store.FinishGcRunAsync(id, "Error", 0, 0, $"failed: {e.Message}\n", CancellationToken.None).ConfigureAwait(false);
            metrics?.GcRuns.WithLabels("Error", dryRun ? "true" : "false").Inc();
            return null;
        }
    }

    [LoggerMessage(EventId = 34, Level = LogLevel.Warning, Message = "gc run {Id} failed")]
    private static partial void LogFailed(ILogger logger, long id, Exception exception);
}
