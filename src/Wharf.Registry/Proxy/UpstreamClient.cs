using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Wharf.Content;
using Wharf.Oci;

namespace Wharf.Registry.Proxy;

/// <summary>A manifest as the upstream answered it: exact bytes, checked against the digest.</summary>
public sealed record UpstreamManifest(Digest Digest, string MediaType, byte[] Content);

/// <summary>The upstream answered, but not with what was asked: a status the caller decides about.</summary>
public sealed class UpstreamStatusException(HttpStatusCode status, string message) : IOException(message)
{
    public HttpStatusCode Status { get; } = status;
}

/// <summary>
/// The few distribution-API calls a proxy cache makes upstream: ping, manifest HEAD/GET, blob GET.
/// It answers Bearer challenges (distribution token spec) with the endpoint's credential or
/// anonymously, and Basic challenges with the credential. Wharf.Client's registry client is not
/// used: the registry must not reference the client layer (docs/architecture.md).
/// </summary>
public sealed class UpstreamClient(UpstreamRegistry registry, HttpClient http)
{
    private static readonly string Accept = string.Join(", ",
        MediaTypes.OciIndex, MediaTypes.OciManifest, MediaTypes.DockerManifestList, MediaTypes.DockerManifest);

    private readonly ConcurrentDictionary<string, string> _tokens = new(StringComparer.Ordinal);

    public UpstreamRegistry Registry => registry;

    /// <summary>GET /v2/: the endpoint answers and the credential (if any) is accepted.</summary>
    public async Task PingAsync(CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, "v2/", "registry:catalog:*", null, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new UpstreamStatusException(response.StatusCode, $"{registry.Name} answered GET /v2/ with {(int)response.StatusCode}");
        }
    }

    /// <summary>HEAD of a manifest: its digest, or null when the upstream does not have it.</summary>
    public async Task<Digest?> HeadManifestAsync(string repository, ManifestReference reference, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Head, $"v2/{repository}/manifests/{reference}", Scope(repository), Accept, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        Check(response, repository, reference.ToString());
        string? header = response.Headers.TryGetValues("Docker-Content-Digest", out var values) ? values.FirstOrDefault() : null;
        return Digest.TryParse(header, out var digest, out _) ? digest
            : throw new UpstreamStatusException(response.StatusCode, $"{registry.Name} answered HEAD {repository}:{reference} without a digest");
    }

    /// <summary>The manifest, or null when the upstream does not have it. Its bytes are checked against the digest asked for or announced.</summary>
    public async Task<UpstreamManifest?> GetManifestAsync(string repository, ManifestReference reference, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, $"v2/{repository}/manifests/{reference}", Scope(repository), Accept, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        Check(response, repository, reference.ToString());
        if (response.Content.Headers.ContentLength > MediaTypes.MaxManifestBytes)
        {
            throw new InvalidDataException($"{registry.Name}: manifest {repository}:{reference} is larger than {MediaTypes.MaxManifestBytes} bytes");
        }

        byte[] content = await ReadCappedAsync(response.Content, cancellationToken).ConfigureAwait(false);
        string mediaType = response.Content.Headers.ContentType?.MediaType ?? MediaTypes.OciManifest;
        Digest? expected = reference.IsDigest ? reference.Digest
            : response.Headers.TryGetValues("Docker-Content-Digest", out var values) && Digest.TryParse(values.FirstOrDefault(), out var announced, out _) ? announced
            : null;
        var digest = expected ?? Digest.Compute(content);
        if (!digest.Matches(content))
        {
            throw new InvalidDataException($"{registry.Name}: manifest {repository}:{reference} does not hash to {digest}");
        }

        return new UpstreamManifest(digest, mediaType, content);
    }

    /// <summary>The blob's bytes as a stream; disposing it ends the response. Throws when the upstream does not have it.</summary>
    public async Task<Stream> OpenBlobAsync(string repository, Digest digest, CancellationToken cancellationToken)
    {
        var response = await SendAsync(HttpMethod.Get, $"v2/{repository}/blobs/{digest}", Scope(repository), null, cancellationToken).ConfigureAwait(false);
        try
        {
            Check(response, repository, digest.ToString());
            return new ResponseBodyStream(response, await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>
    /// What went wrong, for a log line or an error answer: HttpClient's own messages say "see inner
    /// exception" (a TLS failure, a refused connection), so the inner reasons are appended.
    /// </summary>
    public static string Describe(Exception error)
    {
        var parts = new List<string>();
        for (var e = error; e is not null; e = e.InnerException)
        {
            string message = e.Message.Replace(", see inner exception.", string.Empty, StringComparison.Ordinal)
                .Replace(" See inner exception for details.", string.Empty, StringComparison.Ordinal).TrimEnd('.');
            if (message.Length > 0 && !parts.Contains(message))
            {
                parts.Add(message);
            }
        }

        return string.Join(": ", parts);
    }

    /// <summary>
    /// A call to the endpoint's Harbor management API (<c>/api/v2.0/...</c>): Harbor authenticates it
    /// with Basic credentials, sent with the request (to the endpoint's own origin only), not through
    /// the token service.
    /// </summary>
    internal Task<HttpResponseMessage> SendApiAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(method, new Uri(registry.ApiBase, path)) { Content = content };
        request.Headers.TryAddWithoutValidation("Accept", "application/json");
        if (registry.AccessKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", BasicCredential());
        }

        return http.SendAsync(request, cancellationToken);
    }

    private static string Scope(string repository) => $"repository:{repository}:pull";

    private void Check(HttpResponseMessage response, string repository, string reference)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new UpstreamStatusException(response.StatusCode, $"{registry.Name} answered {repository}:{reference} with {(int)response.StatusCode}");
        }
    }

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string scope, string? accept, CancellationToken cancellationToken) =>
        SendAsync(() => Build(method, new Uri(registry.ApiBase, path), accept, null), scope, cancellationToken);

    /// <summary>
    /// Sends with a cached token for the scope; on a 401, answers the challenge once and resends a
    /// request built anew (replication's pushes and deletes go through here too). A streamed body
    /// cannot be sent twice: callers of uploads get the scope's token first with a bodiless request.
    /// </summary>
    internal async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> build, string scope, CancellationToken cancellationToken)
    {
        _tokens.TryGetValue(scope, out string? authorization);
        var response = await http.SendAsync(Authorize(build(), authorization), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Unauthorized)
        {
            return response;
        }

        var challenge = response.Headers.WwwAuthenticate.FirstOrDefault();
        response.Dispose();
        authorization = challenge?.Scheme.ToLowerInvariant() switch
        {
            "bearer" => "Bearer " + await FetchTokenAsync(challenge.Parameter ?? string.Empty, scope, cancellationToken).ConfigureAwait(false),
            "basic" when registry.AccessKey is not null => "Basic " + BasicCredential(),
            _ => null,
        };
        if (authorization is null)
        {
            return new HttpResponseMessage(HttpStatusCode.Unauthorized);
        }

        _tokens[scope] = authorization;
        return await http.SendAsync(Authorize(build(), authorization), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
    }

    private static HttpRequestMessage Build(HttpMethod method, Uri uri, string? accept, string? authorization)
    {
        var request = new HttpRequestMessage(method, uri);
        if (accept is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }

        return Authorize(request, authorization);
    }

    private static HttpRequestMessage Authorize(HttpRequestMessage request, string? authorization)
    {
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        return request;
    }

    /// <summary>The token spec's GET realm?service=&amp;scope=, with the credential as Basic when there is one.</summary>
    private async Task<string> FetchTokenAsync(string parameters, string scope, CancellationToken cancellationToken)
    {
        var values = ParseChallenge(parameters);
        if (!values.TryGetValue("realm", out string? realm) || !Uri.TryCreate(realm, UriKind.Absolute, out var realmUri))
        {
            throw new UpstreamStatusException(HttpStatusCode.Unauthorized, $"{registry.Name} sent a Bearer challenge without a realm");
        }

        var query = new StringBuilder("?scope=").Append(Uri.EscapeDataString(values.GetValueOrDefault("scope") ?? scope));
        if (values.TryGetValue("service", out string? service))
        {
            query.Append("&service=").Append(Uri.EscapeDataString(service));
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(realmUri, realmUri.AbsolutePath + query));
        // Credentials go only to the realm the upstream named; an anonymous endpoint sends none.
        if (registry.AccessKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", BasicCredential());
        }

        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new UpstreamStatusException(response.StatusCode, $"{registry.Name}'s token service answered {(int)response.StatusCode}");
        }

        using var json = JsonDocument.Parse(await ReadCappedAsync(response.Content, cancellationToken).ConfigureAwait(false));
        foreach (string name in new[] { "token", "access_token" })
        {
            if (json.RootElement.TryGetProperty(name, out var token) && token.ValueKind == JsonValueKind.String)
            {
                return token.GetString()!;
            }
        }

        throw new UpstreamStatusException(HttpStatusCode.Unauthorized, $"{registry.Name}'s token service sent no token");
    }

    private string BasicCredential() =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{registry.AccessKey}:{registry.AccessSecret}"));

    internal static Dictionary<string, string> ParseChallenge(string parameters)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        int i = 0;
        while (i < parameters.Length)
        {
            while (i < parameters.Length && (parameters[i] == ',' || parameters[i] == ' '))
            {
                i++;
            }

            int eq = parameters.IndexOf('=', i);
            if (eq < 0)
            {
                break;
            }

            string key = parameters[i..eq].Trim();
            i = eq + 1;
            string value;
            if (i < parameters.Length && parameters[i] == '"')
            {
                int end = parameters.IndexOf('"', i + 1);
                end = end < 0 ? parameters.Length : end;
                value = parameters[(i + 1)..end];
                i = end + 1;
            }
            else
            {
                int end = parameters.IndexOf(',', i);
                end = end < 0 ? parameters.Length : end;
                value = parameters[i..end].Trim();
                i = end;
            }

            result[key] = value;
        }

        return result;
    }

    private static async Task<byte[]> ReadCappedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        byte[] chunk = new byte[16 * 1024];
        int n;
        while ((n = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            buffer.Write(chunk, 0, n);
            if (buffer.Length > MediaTypes.MaxManifestBytes)
            {
                throw new InvalidDataException($"upstream answer is larger than {MediaTypes.MaxManifestBytes} bytes");
            }
        }

        return buffer.ToArray();
    }
}
