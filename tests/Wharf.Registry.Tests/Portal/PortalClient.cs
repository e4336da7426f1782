using System.Net;
using System.Text.RegularExpressions;

namespace Wharf.Registry.Tests.Portal;

/// <summary>
/// A browser without the browser: one cookie jar against a real wharfd, no redirects followed, so a test
/// sees every answer. Forms are posted with the anti-forgery token read from the page they are on, as
/// a browser would send it.
/// </summary>
public sealed partial class PortalClient : IDisposable
{
    private readonly HttpClient _http;

    public PortalClient(Uri baseAddress)
    {
        Cookies = new CookieContainer();
        _http = new HttpClient(new HttpClientHandler { CookieContainer = Cookies, AllowAutoRedirect = false }) { BaseAddress = baseAddress };
    }

    public CookieContainer Cookies { get; }

    public Uri BaseAddress => _http.BaseAddress!;

    public async Task<(HttpStatusCode Status, string Html)> GetAsync(string path)
    {
        using var response = await _http.GetAsync(path);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>The anti-forgery token of the forms on <paramref name="page"/> (the cookie half is in the jar).</summary>
    public static string TokenOf(string page) =>
        TokenField().Match(page) is { Success: true } match ? WebUtility.HtmlDecode(match.Groups[1].Value) : throw new InvalidOperationException("the page has no form token:\n" + page);

    /// <summary>Posts a form; <paramref name="token"/> null sends none, as a forged cross-site post would.</summary>
    public async Task<HttpResponseMessage> PostAsync(string path, string? token, params (string Name, string Value)[] fields)
    {
        var all = fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value)).ToList();
        if (token is not null)
        {
            all.Add(new("__wharf_form", token));
        }

        return await _http.PostAsync(path, new FormUrlEncodedContent(all));
    }

    /// <summary>Reads a page and posts a form from it with its token.</summary>
    public async Task<HttpResponseMessage> SubmitAsync(string fromPage, string action, params (string Name, string Value)[] fields)
    {
        var (_, html) = await GetAsync(fromPage);
        return await PostAsync(action, TokenOf(html), fields);
    }

    public async Task<HttpResponseMessage> SignInAsync(string username, string password) =>
        await SubmitAsync("/portal/login", "/portal/login", ("username", username), ("password", password));

    public void Dispose() => _http.Dispose();

    [GeneratedRegex("name=\"__wharf_form\" value=\"([^\"]+)\"")]
    private static partial Regex TokenField();
}
