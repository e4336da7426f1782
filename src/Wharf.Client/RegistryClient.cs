using System.Net;
using System.Net.Http.Headers;
using System.Reflection;
using System.Text.Json;
using Wharf.Client.Config;
using Wharf.Client.Http;

namespace Wharf.Client;

public sealed class RegistryClientOptions
{
    /// <summary>False allows plain HTTP and unverified TLS (<c>--tls-verify=false</c> or <c>insecure = true</c>).</summary>
    public bool TlsVerify { get; init; } = true;

    public RegistryCredential? Credential { get; init; }

    /// <summary>The transport below the handlers; tests script it.</summary>
    public HttpMessageHandler? Transport { get; init; }

    public Func<int, TimeSpan>? RetryDelay { get; init; }

    public int MaxRetries { get; init; } = 3;

    /// <summary>When set, blobs are uploaded in PATCH chunks of this size; otherwise in one PUT.</summary>
    public int? ChunkSize { get; init; }

    public TimeProvider? Time { get; init; }

    /// <summary>
    /// A containers-certs.d(5) directory for this registry: <c>*.crt</c> are extra trusted CAs,
    /// <c>*.cert</c> + <c>*.key</c> a client certificate.
    /// </summary>
    public string? CertificateDirectory { get; init; }
}

/// <summary>
/// One registry host: the handler pipeline (auth → retry → transport), the ping that picks the
/// scheme, and the registry-wide endpoints (catalog, v1 search). Repositories hang off it.
/// </summary>
public sealed class RegistryClient : IDisposable
{
    internal static readonly string UserAgent =
        "wharf/" + (typeof(RegistryClient).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0");

    private readonly HttpClient _http;
    private readonly AuthHandler _auth;
    private Uri? _baseUri;

    public RegistryClient(string host, RegistryClientOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        Host = host;
        Options = options ?? new RegistryClientOptions();
        var transport = Options.Transport ?? CreateTransport(Options.TlsVerify, Options.CertificateDirectory);
        _auth = new AuthHandler(host, Options.Credential, Options.Time)
        {
            InnerHandler = new RetryHandler(Options.MaxRetries, Options.RetryDelay) { InnerHandler = transport },
        };
        _http = new HttpClient(_auth, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd(UserAgent);
        _http.DefaultRequestHeaders.TryAddWithoutValidation("Docker-Distribution-API-Version", "registry/2.0");
    }

    public string Host { get; }

    public RegistryClientOptions Options { get; }

    public Challenge? Challenge => _auth.Challenge;

    internal HttpClient Http => _http;

    /// <summary><c>https://host</c> or, after an insecure ping fell back, <c>http://host</c>.</summary>
    public Uri BaseUri => _baseUri ?? throw new InvalidOperationException("the registry has not been pinged");

    private static SocketsHttpHandler CreateTransport(bool tlsVerify, string? certificateDirectory)
    {
        var handler = new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
            // .NET drops the Authorization header on a redirect; blob GETs may redirect to storage.
            AllowAutoRedirect = true,
            MaxConnectionsPerServer = 16,
        };
        if (!tlsVerify)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        }
        else if (certificateDirectory is not null && Directory.Exists(certificateDirectory))
        {
            ConfigureCertificates(handler, certificateDirectory);
        }

        return handler;
    }

    /// <summary>
    /// containers-certs.d: every <c>*.crt</c> is trusted in addition to the system roots (a
    /// private CA for an in-house registry); a <c>NAME.cert</c> with <c>NAME.key</c> is presented
    /// as the client certificate.
    /// </summary>
    private static void ConfigureCertificates(SocketsHttpHandler handler, string directory)
    {
        var extra = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
        foreach (string crt in Directory.GetFiles(directory, "*.crt"))
        {
            extra.ImportFromPemFile(crt);
        }

        if (extra.Count > 0)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
            {
                if (errors == System.Net.Security.SslPolicyErrors.None)
                {
                    return true;
                }

                if (certificate is null || (errors & ~System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors) != 0)
                {
                    return false;
                }

                using var custom = new System.Security.Cryptography.X509Certificates.X509Chain();
                custom.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
                custom.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
                custom.ChainPolicy.CustomTrustStore.AddRange(extra);
                using var leaf = new System.Security.Cryptography.X509Certificates.X509Certificate2(certificate);
                return custom.Build(leaf);
            };
        }

        foreach (string cert in Directory.GetFiles(directory, "*.cert"))
        {
            string key = Path.ChangeExtension(cert, ".key");
            if (File.Exists(key))
            {
                handler.SslOptions.ClientCertificates ??= [];
                handler.SslOptions.ClientCertificates.Add(System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(cert, key));
            }
        }
    }

    /// <summary>
    /// <c>GET /v2/</c> without credentials: HTTPS first, plain HTTP only when TLS verification is
    /// off. 200 and 401 both mean a registry is there; a 401's challenge is remembered.
    /// </summary>
    public async Task PingAsync(CancellationToken cancellationToken)
    {
        if (_baseUri is not null)
        {
            return;
        }

        string[] schemes = Options.TlsVerify ? ["https"] : ["https", "http"];
        Exception? lastError = null;
        string lastUrl = string.Empty;
        foreach (string scheme in schemes)
        {
            var baseUri = new Uri($"{scheme}://{Host}");
            lastUrl = new Uri(baseUri, "/v2/").ToString();
            using var request = new HttpRequestMessage(HttpMethod.Get, lastUrl);
            request.Options.Set(RegistryRequestOptions.Anonymous, true);
            // podman pings once per scheme; retrying a refused or non-TLS port only delays the fallback.
            request.Options.Set(RegistryRequestOptions.NoRetry, true);
            try
            {
                using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
                if (response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Unauthorized)
                {
                    _baseUri = baseUri;
                    return;
                }

                lastError = new RegistryException($"invalid status code from registry {(int)response.StatusCode} ({response.ReasonPhrase})", response.StatusCode);
            }
            catch (HttpRequestException e)
            {
                lastError = e;
            }
        }

        throw new RegistryException($"pinging container registry {Host}: Get \"{lastUrl}\": {Describe(lastError, Host)}", lastError!);
    }

    /// <summary>The failure as Go's net/http words it, where the cause is one podman users know.</summary>
    private static string Describe(Exception? e, string host)
    {
        if (e is RegistryException)
        {
            return e.Message;
        }

        var inner = e;
        while (inner?.InnerException is not null)
        {
            inner = inner.InnerException;
        }

        return inner switch
        {
            System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused } =>
                $"dial tcp {host}: connect: connection refused",
            System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.HostNotFound or System.Net.Sockets.SocketError.NoData } =>
                $"dial tcp: lookup {host.Split(':')[0]}: no such host",
            System.Security.Authentication.AuthenticationException when e?.InnerException is System.Security.Authentication.AuthenticationException { Message: var m }
                && m.Contains("certificate", StringComparison.OrdinalIgnoreCase) =>
                "tls: failed to verify certificate: x509: certificate signed by unknown authority",
            System.Security.Authentication.AuthenticationException or IOException when e is HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError } =>
                "http: server gave HTTP response to HTTPS client",
            _ => inner is null || inner == e ? e?.Message ?? "unknown error" : $"{e!.Message} ({inner.Message})",
        };
    }

    /// <summary>
    /// <c>GET /v2/</c> with credentials; true on 200. A 401 after the credentials were offered means
    /// they were refused.
    /// </summary>
    public async Task<bool> CheckLoginAsync(CancellationToken cancellationToken)
    {
        await PingAsync(cancellationToken).ConfigureAwait(false);
        using var response = await _http.GetAsync(new Uri(BaseUri, "/v2/"), cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.OK)
        {
            return true;
        }

        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            return false;
        }

        throw await ErrorAsync(response, "checking credentials", cancellationToken).ConfigureAwait(false);
    }

    public RemoteRepository Repository(string path) => new(this, path);

    /// <summary><c>GET /v2/_catalog</c>, following <c>Link: rel="next"</c> until <paramref name="limit"/> names pass <paramref name="filter"/>.</summary>
    public async Task<IReadOnlyList<string>> CatalogAsync(Func<string, bool> filter, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await PingAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<string>();
        Uri? next = new(BaseUri, "/v2/_catalog");
        for (int page = 0; next is not null && page < 1000 && result.Count < limit; page++)
        {
            using var response = await _http.GetAsync(next, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw await ErrorAsync(response, "fetching catalog", cancellationToken).ConfigureAwait(false);
            }

            using var doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
            if (doc.RootElement.TryGetProperty("repositories", out var repos) && repos.ValueKind == JsonValueKind.Array)
            {
                foreach (var r in repos.EnumerateArray())
                {
                    if (r.GetString() is { } name && filter(name) && result.Count < limit)
                    {
                        result.Add(name);
                    }
                }
            }

            next = NextLink(response, next);
        }

        return result;
    }

    public sealed record V1SearchResult(string Name, string Description, int StarCount, bool IsOfficial, bool IsAutomated);

    /// <summary><c>GET /v1/search?n=&amp;q=</c> without credentials; null when the registry has no v1 search.</summary>
    public async Task<IReadOnlyList<V1SearchResult>?> SearchV1Async(string term, int limit, CancellationToken cancellationToken)
    {
        await PingAsync(cancellationToken).ConfigureAwait(false);
        var uri = new Uri(BaseUri, $"/v1/search?n={limit}&q={Uri.EscapeDataString(term)}");
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Options.Set(RegistryRequestOptions.Anonymous, true);
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
            if (!doc.RootElement.TryGetProperty("results", out var results) || results.ValueKind != JsonValueKind.Array)
            {
                return null;
            }

            return [.. results.EnumerateArray().Select(r => new V1SearchResult(
                r.TryGetProperty("name", out var n) ? n.GetString() ?? string.Empty : string.Empty,
                r.TryGetProperty("description", out var d) ? d.GetString() ?? string.Empty : string.Empty,
                r.TryGetProperty("star_count", out var s) && s.TryGetInt32(out int si) ? si : 0,
                r.TryGetProperty("is_official", out var o) && o.ValueKind == JsonValueKind.True,
                r.TryGetProperty("is_automated", out var a) && a.ValueKind == JsonValueKind.True))];
        }
        catch (JsonException)
        {
            return null;
        }
    }

    internal static Uri? NextLink(HttpResponseMessage response, Uri current)
    {
        if (!response.Headers.TryGetValues("Link", out var links))
        {
            return null;
        }

        foreach (string link in links)
        {
            int lt = link.IndexOf('<', StringComparison.Ordinal), gt = link.IndexOf('>', StringComparison.Ordinal);
            if (lt >= 0 && gt > lt && link.Contains("rel=\"next\"", StringComparison.Ordinal))
            {
                return new Uri(current, link[(lt + 1)..gt]);
            }
        }

        return null;
    }

    /// <summary>Turns an error response into podman's wording: <c>what: code description: message</c>.</summary>
    internal static async Task<RegistryException> ErrorAsync(HttpResponseMessage response, string what, CancellationToken ct)
    {
        string? code = null;
        string detail;
        string body = string.Empty;
        try
        {
            body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
        }

        detail = DescribeBody(body, out code) ?? response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => "unauthorized",
            HttpStatusCode.Forbidden => "denied",
            HttpStatusCode.NotFound => "not found",
            _ => $"received unexpected HTTP status: {(int)response.StatusCode} {response.ReasonPhrase}",
        };
        return new RegistryException(what.Length == 0 ? detail : $"{what}: {detail}", response.StatusCode, code);
    }

    private static string? DescribeBody(string body, out string? code)
    {
        code = null;
        if (string.IsNullOrWhiteSpace(body))
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Array && errors.GetArrayLength() > 0)
            {
                var first = errors[0];
                code = first.TryGetProperty("code", out var c) ? c.GetString() : null;
                string? message = first.TryGetProperty("message", out var m) ? m.GetString() : null;
                string description = (code ?? "unknown").ToLowerInvariant().Replace('_', ' ');
                return string.IsNullOrEmpty(message) ? description : $"{description}: {message}";
            }
        }
        catch (JsonException)
        {
        }

        return null;
    }

    internal static MediaTypeWithQualityHeaderValue[] ManifestAccept { get; } =
    [
        new("application/vnd.oci.image.manifest.v1+json"),
        new("application/vnd.docker.distribution.manifest.v2+json"),
        new("application/vnd.docker.distribution.manifest.v1+prettyjws"),
        new("application/vnd.docker.distribution.manifest.v1+json"),
        new("application/vnd.docker.distribution.manifest.list.v2+json"),
        new("application/vnd.oci.image.index.v1+json"),
    ];

    public void Dispose() => _http.Dispose();
}
