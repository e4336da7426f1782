using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wharf.Oci;
using Wharf.Registry.Api;

namespace Wharf.Registry.Health;

/// <summary>
/// Graceful shutdown for a load balancer. On SIGTERM the host stops the application; before the server
/// stops listening this instance drains: <c>/readyz</c> answers 503 at once (the balancer takes it out),
/// a new upload (<c>POST …/blobs/uploads/</c>) is refused with 503 and <c>Retry-After</c> (the client
/// retries, through another instance), and requests already working on an upload — a long PATCH or PUT
/// of a layer — are waited for, at most <see cref="RegistryOptions.ShutdownTimeout"/>. Continuing a
/// session (PATCH, PUT) and pulls are still served while draining: the session lives in the shared
/// database and data directory, so the client may as well finish it here.
/// </summary>
public sealed partial class ShutdownDrain(RegistryOptions options, ILogger<ShutdownDrain> logger) : IHostedLifecycleService
{
    /// <summary>What a refused upload is told to wait before it tries again.</summary>
    public const int RetryAfterSeconds = 5;

    private int _draining;
    private int _uploadsInFlight;

    public bool IsDraining => Volatile.Read(ref _draining) != 0;

    public int UploadsInFlight => Volatile.Read(ref _uploadsInFlight);

    /// <summary>The middleware: counts requests on upload sessions, refuses new sessions while draining.</summary>
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        string path = context.Request.Path.Value ?? string.Empty;
        if (!path.StartsWith("/v2/", StringComparison.Ordinal) || !path.Contains("/blobs/uploads", StringComparison.Ordinal))
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        Interlocked.Increment(ref _uploadsInFlight);
        try
        {
            if (IsDraining && HttpMethods.IsPost(context.Request.Method))
            {
                await OciErrorWriter.WriteAsync(context, OciErrorCode.Unavailable, "this registry instance is shutting down; retry the upload",
                    new Dictionary<string, string> { ["Retry-After"] = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) }).ConfigureAwait(false);
                return;
            }

            await next(context).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _uploadsInFlight);
        }
    }

    /// <summary>Runs before the server stops listening: drain, bounded by the timeout and by the host's own.</summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _draining, 1);
        LogDraining(logger, UploadsInFlight, options.ShutdownTimeout.TotalSeconds);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ShutdownTimeout);
        try
        {
            while (UploadsInFlight > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), timeout.Token).ConfigureAwait(false);
            }

            LogDrained(logger);
        }
        catch (OperationCanceledException)
        {
            LogTimedOut(logger, UploadsInFlight);
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 70, Level = LogLevel.Information, Message = "draining: new uploads refused, {Count} upload requests in flight, waiting up to {Seconds}s")]
    private static partial void LogDraining(ILogger logger, int count, double seconds);

    [LoggerMessage(EventId = 71, Level = LogLevel.Information, Message = "drained: no upload request in flight")]
    private static partial void LogDrained(ILogger logger);

    [LoggerMessage(EventId = 72, Level = LogLevel.Warning, Message = "shutdown timeout: {Count} upload requests still in flight are cut off")]
    private static partial void LogTimedOut(ILogger logger, int count);
}
