using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wharf.Registry.Metrics;

namespace Wharf.Registry.Webhooks;

/// <summary>
/// Posts recorded deliveries: a few at once (<see cref="WebhookOptions.MaxConcurrentDeliveries"/>), each
/// attempt logged on its task (status, duration, error); a failed attempt (no answer, or an answer
/// outside 2xx) is retried after an exponential backoff until <see cref="WebhookOptions.MaxAttempts"/>.
/// At start it resumes what an earlier process left Pending or Running. A retry waiting when wharfd
/// stops stays Pending in the database and is sent at the next start.
/// </summary>
public sealed partial class WebhookSender : BackgroundService
{
    private readonly Channel<WebhookDelivery> _ready = Channel.CreateUnbounded<WebhookDelivery>();
    private readonly WebhookStore _store;
    private readonly WebhookOptions _options;
    private readonly RegistryMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<WebhookSender> _logger;
    private readonly HttpClient _verifying;
    private readonly HttpClient _insecure;
    private CancellationToken _stopping;

    public WebhookSender(WebhookStore store, WebhookOptions options, WebhookTargetNetworks networks, RegistryMetrics metrics, TimeProvider time, ILogger<WebhookSender> logger)
    {
        ArgumentNullException.ThrowIfNull(networks);
        _store = store;
        _options = options;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _verifying = Client(skipCertVerify: false, networks);
        _insecure = Client(skipCertVerify: true, networks);
    }

    public void Submit(WebhookDelivery delivery)
    {
        _metrics.WebhookQueued.Inc();
        _ready.Writer.TryWrite(delivery);
    }

    public override void Dispose()
    {
        _verifying.Dispose();
        _insecure.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        try
        {
            foreach (var delivery in await _store.UnfinishedAsync(stoppingToken).ConfigureAwait(false))
            {
                Submit(delivery);
            }

            var workers = Enumerable.Range(0, Math.Max(1, _options.MaxConcurrentDeliveries)).Select(_ => WorkAsync(stoppingToken));
            await Task.WhenAll(workers).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task WorkAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var delivery in _ready.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                _metrics.WebhookQueued.Dec();
                try
                {
                    await AttemptAsync(delivery, ct).ConfigureAwait(false);
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    LogAttemptFailed(_logger, delivery.TaskId, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task AttemptAsync(WebhookDelivery delivery, CancellationToken ct)
    {
        if (!await _store.StartAttemptAsync(delivery.TaskId, ct).ConfigureAwait(false))
        {
            return; // its policy was deleted
        }

        int attempt = delivery.RunCount + 1;
        long start = Stopwatch.GetTimestamp();
        int? status = null;
        string? error = null;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Address) { Content = new ByteArrayContent(delivery.Payload) };
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(delivery.ContentType);
            if (delivery.AuthHeader is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", delivery.AuthHeader);
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.Timeout);
            var client = delivery.SkipCertVerify ? _insecure : _verifying;
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            status = (int)response.StatusCode;
            if (!response.IsSuccessStatusCode)
            {
                error = $"HTTP {status} {response.ReasonPhrase}";
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            error = $"no answer within {_options.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s";
        }
        catch (HttpRequestException e)
        {
            error = e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message;
        }

        var elapsed = Stopwatch.GetElapsedTime(start);
        _metrics.WebhookDeliveryDuration.Observe(elapsed.TotalSeconds);
        string when = _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        string line = $"{when} attempt {attempt}: POST {delivery.Address} -> "
            + (status is { } s ? $"{s}" : "no response") + $" in {(long)elapsed.TotalMilliseconds} ms" + (error is null ? "" : $": {error}");
        if (error is null)
        {
            _metrics.WebhookDeliveries.WithLabels("success").Inc();
            await _store.FinishAttemptAsync(delivery.TaskId, WebhookStatus.Success, $"HTTP {status}", line, CancellationToken.None).ConfigureAwait(false);
            return;
        }

        if (attempt >= Math.Max(1, _options.MaxAttempts))
        {
            _metrics.WebhookDeliveries.WithLabels("failed").Inc();
            await _store.FinishAttemptAsync(delivery.TaskId, WebhookStatus.Error, $"{error} (after {attempt} attempts)", line, CancellationToken.None).ConfigureAwait(false);
            LogGaveUp(_logger, delivery.TaskId, delivery.Address, attempt, error);
            return;
        }

        _metrics.WebhookDeliveries.WithLabels("retry").Inc();
        var delay = Backoff(attempt);
        await _store.FinishAttemptAsync(delivery.TaskId, WebhookStatus.Pending, error, $"{line}; retry in {(long)delay.TotalMilliseconds} ms", CancellationToken.None)
            .ConfigureAwait(false);
        _ = RetryLaterAsync(delivery with { RunCount = attempt }, delay);
    }

    /// <summary>RetryDelay × 2^(attempt−1), capped.</summary>
    private TimeSpan Backoff(int attempt)
    {
        double factor = Math.Pow(2, Math.Min(attempt - 1, 30));
        var delay = TimeSpan.FromTicks((long)Math.Min(_options.RetryDelay.Ticks * factor, _options.MaxRetryDelay.Ticks));
        return delay < TimeSpan.Zero ? TimeSpan.Zero : delay;
    }

    private async Task RetryLaterAsync(WebhookDelivery delivery, TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _time, _stopping).ConfigureAwait(false);
            Submit(delivery);
        }
        catch (OperationCanceledException)
        {
            // wharfd is stopping: the task stays Pending and the next start sends it.
        }
    }

    private static HttpClient Client(bool skipCertVerify, WebhookTargetNetworks networks)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false, // a receiver answers; it does not send the payload and its secret elsewhere
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            UseProxy = false,
        };
        if (networks.IsRestricted)
        {
            handler.ConnectCallback = networks.ConnectAsync;
        }

        if (skipCertVerify)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }

        var client = new HttpClient(handler) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.UserAgent.ParseAdd("wharfd-webhook/1.0");
        return client;
    }

    [LoggerMessage(EventId = 1603, Level = LogLevel.Warning, Message = "Webhook task {TaskId}: delivery to {Address} failed after {Attempts} attempts: {Reason}")]
    private static partial void LogGaveUp(ILogger logger, long taskId, string address, int attempts, string reason);

    [LoggerMessage(EventId = 1604, Level = LogLevel.Warning, Message = "Webhook task {TaskId}: attempt not recorded: {Reason}")]
    private static partial void LogAttemptFailed(ILogger logger, long taskId, string reason);
}
