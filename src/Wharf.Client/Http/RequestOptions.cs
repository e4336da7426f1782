namespace Wharf.Client.Http;

/// <summary>Per-request settings the handlers read.</summary>
public static class RegistryRequestOptions
{
    /// <summary>Token scopes the request needs (<c>repository:NAME:pull,push</c>); derived from the path when absent.</summary>
    public static readonly HttpRequestOptionsKey<string[]> Scopes = new("wharf.scopes");

    /// <summary>Send without credentials and do not answer a challenge (the ping).</summary>
    public static readonly HttpRequestOptionsKey<bool> Anonymous = new("wharf.anonymous");

    /// <summary>Send once: the ping, whose failure only means "try the next scheme".</summary>
    public static readonly HttpRequestOptionsKey<bool> NoRetry = new("wharf.noretry");

    /// <summary>A body the handlers may send again on a retry or an auth challenge.</summary>
    internal static bool CanResend(HttpRequestMessage request) => request.Content is null or ByteArrayContent;

    internal static HttpRequestMessage Clone(HttpRequestMessage request)
    {
        var clone = new HttpRequestMessage(request.Method, request.RequestUri)
        {
            Content = request.Content,
            Version = request.Version,
            VersionPolicy = request.VersionPolicy,
        };
        foreach (var h in request.Headers)
        {
            if (!h.Key.Equals("Authorization", StringComparison.OrdinalIgnoreCase))
            {
                clone.Headers.TryAddWithoutValidation(h.Key, h.Value);
            }
        }

        foreach (var o in request.Options)
        {
            ((IDictionary<string, object?>)clone.Options)[o.Key] = o.Value;
        }

        return clone;
    }
}
