using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Wharf.Registry.Storage;

/// <summary>Removes upload sessions idle (no chunk received) past <see cref="RegistryOptions.UploadSessionLifetime"/>, rows and data files, hourly.</summary>
internal sealed partial class UploadJanitor(UploadSessions uploads, RegistryOptions options, TimeProvider time, ILogger<UploadJanitor> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1), time);
        do
        {
            try
            {
                var expired = await uploads.ExpireIdleAsync(time.GetUtcNow() - options.UploadSessionLifetime, stoppingToken).ConfigureAwait(false);
                foreach (var session in expired)
                {
                    LogExpired(logger, session.Id, session.Repository.Value);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogFailed(logger, e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "upload {Id} in {Repository} expired and was removed")]
    private static partial void LogExpired(ILogger logger, string id, string repository);

    [LoggerMessage(EventId = 21, Level = LogLevel.Warning, Message = "upload cleanup failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
