using System.Net;
using Wharf.Registry.Portal;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Portal;

/// <summary>
/// The flags on the portal's cookies as a browser receives them: the session and the anti-forgery cookie
/// are HttpOnly and SameSite=Strict always, and Secure exactly when the page came over TLS (a real wharfd
/// process serving https with its own certificate).
/// </summary>
public sealed class PortalCookieTests
{
    /// <summary>Signs in as admin with a raw client (no cookie jar), and returns the Set-Cookie lines of the form page and of the sign-in answer.</summary>
    private static async Task<(string Antiforgery, string Session)> SignInCookiesAsync(Uri baseAddress, bool https)
    {
        using var handler = new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false };
        if (https)
        {
            handler.ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator;
        }

        using var http = new HttpClient(handler) { BaseAddress = baseAddress };
        using var form = await http.GetAsync("/portal/login");
        string antiforgery = form.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("wharf_antiforgery=", StringComparison.Ordinal));
        string token = PortalClient.TokenOf(await form.Content.ReadAsStringAsync());
        using var post = new HttpRequestMessage(HttpMethod.Post, "/portal/login")
        {
            Content = new FormUrlEncodedContent([new("username", "admin"), new("password", WharfServer.AdminPassword), new("__wharf_form", token)]),
        };
        post.Headers.Add("Cookie", antiforgery.Split(';')[0]);
        using var signedIn = await http.SendAsync(post);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        string session = signedIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith(PortalSessions.CookieName + "=", StringComparison.Ordinal));
        return (antiforgery, session);
    }

    private static string[] Flags(string setCookie) => [.. setCookie.Split(';').Skip(1).Select(f => f.Trim().ToLowerInvariant())];

    [Fact]
    public async Task Cookies_OverPlainHttp_AreHttpOnlyAndStrictButNotSecure()
    {
        await using var server = await WharfServer.StartAsync();

        var (antiforgery, session) = await SignInCookiesAsync(server.BaseAddress, https: false);

        foreach (string cookie in new[] { antiforgery, session })
        {
            Assert.Contains("httponly", Flags(cookie));
            Assert.Contains("samesite=strict", Flags(cookie));
            Assert.DoesNotContain("secure", Flags(cookie));
        }
    }

    [Fact]
    public async Task Cookies_OverTls_AreSecureHttpOnlyAndStrict()
    {
        await using var wharfd = await WharfdProcess.StartAsync(new WharfdOptions { Https = true });

        var (antiforgery, session) = await SignInCookiesAsync(wharfd.BaseAddress, https: true);

        foreach (string cookie in new[] { antiforgery, session })
        {
            Assert.Contains("httponly", Flags(cookie));
            Assert.Contains("samesite=strict", Flags(cookie));
            Assert.Contains("secure", Flags(cookie));
        }
    }
}
