using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Wharf.Registry.Projects;

namespace Wharf.Testing;

/// <summary>A running wharfd, in this process or another, as the tests reach it: over HTTP.</summary>
public interface IWharfEndpoint
{
    Uri BaseAddress { get; }

    /// <summary>An HTTP client for the server, with Basic credentials when a user is given.</summary>
    HttpClient Client(string? username = null, string? password = null);
}

/// <summary>
/// What tests do to a wharfd through its management API and token service, in Harbor's shapes.
/// Each call fails with the server's answer when the server refuses, so a broken setup step never
/// passes for the behaviour under test.
/// </summary>
public static class WharfEndpoint
{
    /// <summary>The test password of every user these helpers create unless told otherwise.</summary>
    public const string UserPassword = "Passw0rdX";

    public static HttpClient Client(Uri baseAddress, string? username, string? password, HttpMessageHandler? handler = null)
    {
        var client = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: true);
        client.BaseAddress = baseAddress;
        client.Timeout = TimeSpan.FromSeconds(30);
        if (username is not null)
        {
            client.DefaultRequestHeaders.Authorization = Basic(username, password ?? "");
        }

        return client;
    }

    public static AuthenticationHeaderValue Basic(string username, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{username}:{password}")));

    public static HttpClient Admin(this IWharfEndpoint server) => server.Client("admin", WharfServer.AdminPassword);

    public static HttpClient Bearer(this IWharfEndpoint server, string token)
    {
        var client = server.Client();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public static async Task<long> CreateUserAsync(this IWharfEndpoint server, string username, string password = UserPassword)
    {
        using var admin = server.Admin();
        using var response = await admin.PostAsJsonAsync("api/v2.0/users", new { username, password, email = $"{username}@example.org", realname = username }).ConfigureAwait(false);
        await ExpectAsync(response, HttpStatusCode.Created).ConfigureAwait(false);
        return IdFromLocation(response);
    }

    public static async Task<long> CreateProjectAsync(this IWharfEndpoint server, string name, bool isPublic = false)
    {
        using var admin = server.Admin();
        using var response = await admin.PostAsJsonAsync("api/v2.0/projects", new { project_name = name, metadata = new { @public = isPublic ? "true" : "false" } }).ConfigureAwait(false);
        await ExpectAsync(response, HttpStatusCode.Created).ConfigureAwait(false);
        return IdFromLocation(response);
    }

    public static async Task AddMemberAsync(this IWharfEndpoint server, string project, string username, ProjectRole role)
    {
        using var admin = server.Admin();
        using var response = await admin.PostAsJsonAsync($"api/v2.0/projects/{project}/members", new { role_id = (int)role, member_user = new { username } }).ConfigureAwait(false);
        await ExpectAsync(response, HttpStatusCode.Created).ConfigureAwait(false);
    }

    /// <summary>Creates a robot with repository <paramref name="actions"/> in the project; returns its id, full name and secret.</summary>
    public static async Task<(long Id, string Name, string Secret)> CreateRobotAsync(this IWharfEndpoint server, string project, string name, long duration, params string[] actions)
    {
        using var admin = server.Admin();
        using var response = await admin.PostAsJsonAsync("api/v2.0/robots", new
        {
            name,
            duration,
            level = "project",
            permissions = new[] { new { kind = "project", @namespace = project, access = actions.Select(a => new { resource = "repository", action = a }).ToArray() } },
        }).ConfigureAwait(false);
        await ExpectAsync(response, HttpStatusCode.Created).ConfigureAwait(false);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync().ConfigureAwait(false));
        return (body.RootElement.GetProperty("id").GetInt64(), body.RootElement.GetProperty("name").GetString()!, body.RootElement.GetProperty("secret").GetString()!);
    }

    /// <summary>GET /service/token with optional Basic credentials and scopes; the raw response.</summary>
    public static async Task<HttpResponseMessage> RequestTokenAsync(this IWharfEndpoint server, string? username, string? password, params string[] scopes)
    {
        using var client = username is null ? server.Client() : server.Client(username, password);
        string query = "service/token?service=wharf-registry" + string.Concat(scopes.Select(s => "&scope=" + Uri.EscapeDataString(s)));
        return await client.GetAsync(new Uri(query, UriKind.Relative)).ConfigureAwait(false);
    }

    public static async Task<string> TokenAsync(this IWharfEndpoint server, string? username, string? password, params string[] scopes)
    {
        using var response = await server.RequestTokenAsync(username, password, scopes).ConfigureAwait(false);
        await ExpectAsync(response, HttpStatusCode.OK).ConfigureAwait(false);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync().ConfigureAwait(false));
        return body.RootElement.GetProperty("token").GetString()!;
    }

    /// <summary>The access claim of a token: "type:name" → actions.</summary>
    public static Dictionary<string, string[]> AccessOf(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        byte[] payload = System.Buffers.Text.Base64Url.DecodeFromChars(token.Split('.')[1]);
        using var document = JsonDocument.Parse(payload);
        return document.RootElement.GetProperty("access").EnumerateArray().ToDictionary(
            a => a.GetProperty("type").GetString() + ":" + a.GetProperty("name").GetString(),
            a => a.GetProperty("actions").EnumerateArray().Select(x => x.GetString()!).ToArray());
    }

    /// <summary>
    /// Pushes a small image to <paramref name="repository"/> as the admin, through /v2 like any client,
    /// so the repository exists with real content. Its <see cref="PushedImage.Size"/> is what it adds
    /// to its project's usage, less the config every seeded image shares.
    /// </summary>
    public static async Task<PushedImage> SeedImageAsync(this IWharfEndpoint server, string repository, string tag = "latest", int layerSize = 64)
    {
        using var admin = server.Admin();
        return await RegistryPush.PushImageAsync(admin, repository, tag, RegistryPush.Layer(repository + ":" + tag, layerSize)).ConfigureAwait(false);
    }

    /// <summary>Throws with the server's answer unless the response has the expected status.</summary>
    public static async Task ExpectAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (response.StatusCode != expected)
        {
            string body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
            throw new HttpRequestException(
                $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}, expected {(int)expected}: {body}",
                null,
                response.StatusCode);
        }
    }

    private static long IdFromLocation(HttpResponseMessage response) =>
        long.Parse(response.Headers.Location!.ToString().Split('/')[^1], CultureInfo.InvariantCulture);
}
