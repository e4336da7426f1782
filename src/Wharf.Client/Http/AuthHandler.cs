using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Wharf.Client.Config;

namespace Wharf.Client.Http;

/// <summary>
/// Answers a registry's 401 challenges (distribution spec "token authentication"; RFC 7617
/// Basic): remembers the challenge so later requests carry credentials up front, fetches Bearer
/// tokens from the realm per scope and caches them until they expire. Credentials and tokens
/// go only to the registry's own origin (and Basic credentials to the realm it names).
/// </summary>
public sealed class AuthHandler : DelegatingHandler
{
    private readonly string _authority;
    private readonly RegistryCredential? _credential;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, (string Token, DateTimeOffset Expires)> _tokens = new(StringComparer.Ordinal);
    private Challenge? _challenge;

    /// <param name="authority">The registry's <c>host[:port]</c>; requests elsewhere go out bare.</param>
    public AuthHandler(string authority, RegistryCredential? credential, TimeProvider? time = null)
    {
        _authority = authority;
        _credential = credential;
        _time = time ?? TimeProvider.System;
    }

    public Challenge? Challenge => _challenge;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!IsRegistryOrigin(request.RequestUri))
        {
            request.Headers.Authorization = null;
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        bool anonymous = request.Options.TryGetValue(RegistryRequestOptions.Anonymous, out bool a) && a;
        if (!anonymous && _challenge is { } known)
        {
            await AuthorizeAsync(request, known, refresh: false, cancellationToken).ConfigureAwait(false);
        }

        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Unauthorized)
        {
            return response;
        }

        var challenge = Challenge.From(response.Headers);
        if (challenge is null)
        {
            return response;
        }

        bool hadAuth = request.Headers.Authorization is not null;
        _challenge = challenge;
        if (anonymous || !RegistryRequestOptions.CanResend(request) || (hadAuth && challenge.IsBasic))
        {
            return response;
        }

        if (challenge.IsBasic && _credential is null)
        {
            return response;
        }

        var retry = RegistryRequestOptions.Clone(request);
        await AuthorizeAsync(retry, challenge, refresh: hadAuth, cancellationToken).ConfigureAwait(false);
        if (retry.Headers.Authorization is null)
        {
            retry.Dispose();
            return response;
        }

        response.Dispose();
        return await base.SendAsync(retry, cancellationToken).ConfigureAwait(false);
    }

    private bool IsRegistryOrigin(Uri? uri) =>
        uri is not null && string.Equals(uri.Authority, _authority, StringComparison.OrdinalIgnoreCase);

    private async Task AuthorizeAsync(HttpRequestMessage request, Challenge challenge, bool refresh, CancellationToken ct)
    {
        if (challenge.IsBasic)
        {
            if (_credential is { Username.Length: > 0 } c)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic", BasicValue(c));
            }

            return;
        }

        if (!challenge.IsBearer)
        {
            return;
        }

        string[] scopes = request.Options.TryGetValue(RegistryRequestOptions.Scopes, out var s) ? s : ScopesFor(request);
        string key = (challenge.Service ?? string.Empty) + "|" + string.Join(' ', scopes.Order(StringComparer.Ordinal));
        if (!refresh && _tokens.TryGetValue(key, out var cached) && cached.Expires > _time.GetUtcNow())
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", cached.Token);
            return;
        }

        var (token, lifetime) = await FetchTokenAsync(challenge, scopes, ct).ConfigureAwait(false);
        // Renew a little early so a token does not expire between the check and its use.
        _tokens[key] = (token, _time.GetUtcNow() + lifetime - TimeSpan.FromSeconds(Math.Min(10, lifetime.TotalSeconds / 2)));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    internal static string BasicValue(RegistryCredential c) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(c.Username + ":" + c.Password));

    private async Task<(string Token, TimeSpan Lifetime)> FetchTokenAsync(Challenge challenge, string[] scopes, CancellationToken ct)
    {
        if (!Uri.TryCreate(challenge.Realm, UriKind.Absolute, out var realm) || realm.Scheme is not ("http" or "https"))
        {
            throw new RegistryException($"authentication challenge has an invalid realm \"{challenge.Realm}\"");
        }

        HttpRequestMessage tokenRequest;
        if (_credential?.IdentityToken is { } refreshToken)
        {
            // OAuth2 refresh-token grant, as containers/image does for an identitytoken.
            var form = new List<KeyValuePair<string, string>>
            {
                new("grant_type", "refresh_token"),
                new("refresh_token", refreshToken),
                new("client_id", "containers/image"),
            };
            if (challenge.Service is { } svc)
            {
                form.Add(new("service", svc));
            }

            form.AddRange(scopes.Select(sc => new KeyValuePair<string, string>("scope", sc)));
            tokenRequest = new HttpRequestMessage(HttpMethod.Post, realm) { Content = new FormUrlEncodedContent(form) };
        }
        else
        {
            var query = new StringBuilder(realm.Query.Length > 1 ? realm.Query[1..] : string.Empty);
            void Add(string k, string v)
            {
                if (query.Length > 0)
                {
                    query.Append('&');
                }

                query.Append(k).Append('=').Append(Uri.EscapeDataString(v));
            }

            if (_credential is { Username.Length: > 0 } acct)
            {
                Add("account", acct.Username);
            }

            foreach (string sc in scopes)
            {
                Add("scope", sc);
            }

            if (challenge.Service is { } service)
            {
                Add("service", service);
            }

            var uri = new UriBuilder(realm) { Query = query.ToString() }.Uri;
            tokenRequest = new HttpRequestMessage(HttpMethod.Get, uri);
            if (_credential is { Username.Length: > 0 } c)
            {
                tokenRequest.Headers.Authorization = new AuthenticationHeaderValue("Basic", BasicValue(c));
            }
        }

        using (tokenRequest)
        {
            using var response = await base.SendAsync(tokenRequest, ct).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                throw new RegistryException("unable to retrieve auth token: invalid username/password: unauthorized", HttpStatusCode.Unauthorized);
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new RegistryException($"unable to retrieve auth token: {(int)response.StatusCode} {response.ReasonPhrase}", response.StatusCode);
            }

            byte[] body = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            string? token = (root.TryGetProperty("token", out var t) ? t.GetString() : null)
                ?? (root.TryGetProperty("access_token", out var at) ? at.GetString() : null);
            if (string.IsNullOrEmpty(token))
            {
                throw new RegistryException("unable to retrieve auth token: the token service returned no token");
            }

            int seconds = root.TryGetProperty("expires_in", out var e) && e.TryGetInt32(out int v) && v > 0 ? v : 60;
            return (token, TimeSpan.FromSeconds(seconds));
        }
    }

    /// <summary>The scope a registry request needs, read from its path: <c>/v2/NAME/(manifests|blobs|tags)/…</c>.</summary>
    internal static string[] ScopesFor(HttpRequestMessage request)
    {
        string path = request.RequestUri?.AbsolutePath ?? string.Empty;
        if (!path.StartsWith("/v2/", StringComparison.Ordinal))
        {
            return [];
        }

        if (path.StartsWith("/v2/_catalog", StringComparison.Ordinal))
        {
            return ["registry:catalog:*"];
        }

        foreach (string marker in new[] { "/manifests/", "/blobs/", "/tags/", "/referrers/" })
        {
            int i = path.LastIndexOf(marker, StringComparison.Ordinal);
            if (i > 4)
            {
                string repo = path[4..i];
                bool read = request.Method == HttpMethod.Get || request.Method == HttpMethod.Head;
                return [$"repository:{repo}:{(read ? "pull" : "pull,push")}"];
            }
        }

        return [];
    }
}
