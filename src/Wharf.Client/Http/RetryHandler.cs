using System.Net;

namespace Wharf.Client.Http;

/// <summary>
/// Retries a request whose body can be sent again when the server answers 5xx or 429, or the
/// connection drops, with exponential back-off (honouring <c>Retry-After</c>), as containers/image does.
/// </summary>
public sealed class RetryHandler : DelegatingHandler
{
    private readonly int _maxRetries;
    private readonly Func<int, TimeSpan> _delay;

    public RetryHandler(int maxRetries = 3, Func<int, TimeSpan>? delay = null)
    {
        _maxRetries = maxRetries;
        _delay = delay ?? (attempt => TimeSpan.FromMilliseconds(200 * (1 << attempt)));
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var current = request;
        for (int attempt = 0; ; attempt++)
        {
            bool last = attempt >= _maxRetries || !RegistryRequestOptions.CanResend(request)
                || (request.Options.TryGetValue(RegistryRequestOptions.NoRetry, out bool once) && once);
            HttpResponseMessage response;
            try
            {
                response = await base.SendAsync(current, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException e) when (!last && !cancellationToken.IsCancellationRequested && IsTransient(e))
            {
                await Task.Delay(_delay(attempt), cancellationToken).ConfigureAwait(false);
                current = RegistryRequestOptions.Clone(request);
                continue;
            }

            if (last || !IsTransient(response.StatusCode))
            {
                return response;
            }

            var wait = _delay(attempt);
            if (response.Headers.RetryAfter is { } ra)
            {
                var hinted = ra.Delta ?? (ra.Date is { } d ? d - DateTimeOffset.UtcNow : TimeSpan.Zero);
                if (hinted > wait && hinted < TimeSpan.FromMinutes(1))
                {
                    wait = hinted;
                }
            }

            response.Dispose();
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
            current = RegistryRequestOptions.Clone(request);
        }
    }

    /// <summary>A dropped or reset connection is worth another try; a TLS mismatch or an unknown host is not.</summary>
    private static bool IsTransient(HttpRequestException e) =>
        e.HttpRequestError is not (HttpRequestError.SecureConnectionError or HttpRequestError.NameResolutionError
            or HttpRequestError.ConfigurationLimitExceeded or HttpRequestError.UserAuthenticationError);

    private static bool IsTransient(HttpStatusCode status) =>
        status is HttpStatusCode.TooManyRequests or HttpStatusCode.InternalServerError or HttpStatusCode.BadGateway
            or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout;
}
