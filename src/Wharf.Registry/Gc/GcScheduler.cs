using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Wharf.Registry.Gc;

/// <summary>
/// Runs GC every <see cref="RegistryOptions.GcInterval"/> while the registry serves. With several
/// instances the one that takes the <c>gc:schedule</c> lease first runs it; the lease covers most of an
/// interval, so the others' ticks within it skip.
/// </summary>
internal sealed partial class GcScheduler(GcJobs jobs, RegistryOptions options, TimeProvider time, ILogger<GcScheduler> logger, Data.DatabaseLeases? leases = null) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.GcInterval <= TimeSpan.Zero)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.GcInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                if (leases is not null && !await leases.TryAcquireAsync("gc:schedule", options.GcInterval * 0.9, stoppingToken).ConfigureAwait(false))
                {
                    LogSkipped(logger);
                    continue;
                }

                await jobs.RunAsync(dryRun: false, GcJobs.Schedule, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogFailed(logger, e);
            }
        }
    }

    [LoggerMessage(EventId = 39, Level = LogLevel.Information, Message = "scheduled gc skipped: another instance runs it (lease gc:schedule)")]
    private static partial void LogSkipped(ILogger logger);

    [LoggerMessage(EventId = 32, Level = LogLevel.Warning, Message = "scheduled gc failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
