using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Wharf.Registry.Gc;

/// <summary>Runs GC every <see cref="RegistryOptions.GcInterval"/> while the registry serves.</summary>
internal sealed partial class GcScheduler(GcJobs jobs, RegistryOptions options, TimeProvider time, ILogger<GcScheduler> logger) : BackgroundService
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
                await jobs.RunAsync(dryRun: false, GcJobs.Schedule, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogFailed(logger, e);
            }
        }
    }

    [LoggerMessage(EventId = 32, Level = LogLevel.Warning, Message = "scheduled gc failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
