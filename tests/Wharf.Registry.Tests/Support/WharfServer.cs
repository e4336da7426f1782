using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wharf.Oci;
using Wharf.Registry.Auth;
using Wharf.Registry.Identity;
using Wharf.Registry.Projects;

namespace Wharf.Registry.Tests.Support;

/// <summary>
/// A real wharfd pipeline on Kestrel at 127.0.0.1:0 with identities, the token service and the
/// management API; the /v2 routes here are a stand-in dispatcher that calls the authorizer exactly
/// as the registry core does, and answer 200 (or 404 for repositories not in <see cref="Repositories"/>).
/// </summary>
public sealed class WharfServer : IAsyncDisposable
{
    public const string AdminPassword = "Harbor12345";

    private WebApplication? _app;

    private readonly bool _realRegistry;

    private WharfServer(string dataDirectory, bool realRegistry)
    {
        DataDirectory = dataDirectory;
        _realRegistry = realRegistry;
    }

    public string DataDirectory { get; }

    public Uri BaseAddress { get; private set; } = null!;

    public ManualTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    /// <summary>The repositories the stand-in metadata store holds.</summary>
    public InMemoryProjectRepositories Repositories { get; } = new();

    public IServiceProvider Services => _app!.Services;

    public StringWriter BootstrapOutput { get; } = new();

    /// <summary>
    /// Starts the server. With <paramref name="realRegistry"/> the /v2 routes are the registry core's own
    /// (metadata store, blob store) instead of the stand-in, for end-to-end tests with real clients.
    /// </summary>
    public static async Task<WharfServer> StartAsync(
        Dictionary<string, string?>? settings = null, string? dataDirectory = null, bool realRegistry = false, Action<IServiceCollection>? configureServices = null)
    {
        var server = new WharfServer(dataDirectory ?? Path.Combine(Path.GetTempPath(), "wharf-auth-" + Guid.NewGuid().ToString("N")), realRegistry);
        await server.StartCoreAsync(settings, configureServices).ConfigureAwait(false);
        return server;
    }

    private async Task StartCoreAsync(Dictionary<string, string?>? settings, Action<IServiceCollection>? configureServices)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Test", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        var config = new Dictionary<string, string?>
        {
            ["Registry:DataDirectory"] = DataDirectory,
            ["Registry:AdminPassword"] = AdminPassword,
            ["Registry:BcryptWorkFactor"] = "4",
            ["Registry:CreateLibraryProject"] = "false", // the tests make the projects they need
        };
        foreach (var (key, value) in settings ?? [])
        {
            config[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(config);
        builder.WebHost.UseKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0);
            k.Limits.MaxRequestBodySize = 32 * 1024 * 1024;
        });
        if (!_realRegistry)
        {
            builder.Services.AddSingleton<TimeProvider>(Clock);
            builder.Services.AddSingleton<IProjectRepositories>(Repositories);
        }

        configureServices?.Invoke(builder.Services);
        builder.Services.AddWharfRegistry(builder.Configuration);
        builder.Services.AddWharfIdentity(builder.Configuration);
        _app = builder.Build();
        foreach (var bootstrap in _app.Services.GetServices<IHostedService>().OfType<AdminBootstrap>())
        {
            bootstrap.Output = BootstrapOutput;
        }

        _app.MapWharfManagement();
        if (_realRegistry)
        {
            _app.MapWharfRegistry();
        }
        else
        {
            MapStandInV2(_app);
        }

        await _app.StartAsync().ConfigureAwait(false);
        BaseAddress = new Uri(_app.Urls.First() + "/");
    }

    public HttpClient Client(string? username = null, string? password = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (username is not null)
        {
            client.DefaultRequestHeaders.Authorization = Basic(username, password ?? "");
        }

        return client;
    }

    public HttpClient Admin() => Client("admin", AdminPassword);

    public HttpClient Bearer(string token)
    {
        var client = Client();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public static AuthenticationHeaderValue Basic(string username, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{username}:{password}")));

    public async Task<long> CreateUserAsync(string username, string password = "Passw0rdX")
    {
        using var admin = Admin();
        using var response = await admin.PostAsJsonAsync("api/v2.0/users", new { username, password, email = $"{username}@example.org", realname = username });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return long.Parse(response.Headers.Location!.ToString().Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<long> CreateProjectAsync(string name, bool isPublic = false)
    {
        using var admin = Admin();
        using var response = await admin.PostAsJsonAsync("api/v2.0/projects", new { project_name = name, metadata = new { @public = isPublic ? "true" : "false" } });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return long.Parse(response.Headers.Location!.ToString().Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task AddMemberAsync(string project, string username, ProjectRole role)
    {
        using var admin = Admin();
        using var response = await admin.PostAsJsonAsync($"api/v2.0/projects/{project}/members", new { role_id = (int)role, member_user = new { username } });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    /// <summary>Creates a robot in the project; returns its full name and secret.</summary>
    public async Task<(long Id, string Name, string Secret)> CreateRobotAsync(string project, string name, long duration, params string[] actions)
    {
        using var admin = Admin();
        using var response = await admin.PostAsJsonAsync("api/v2.0/robots", new
        {
            name,
            duration,
            level = "project",
            permissions = new[] { new { kind = "project", @namespace = project, access = actions.Select(a => new { resource = "repository", action = a }).ToArray() } },
        });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (body.RootElement.GetProperty("id").GetInt64(), body.RootElement.GetProperty("name").GetString()!, body.RootElement.GetProperty("secret").GetString()!);
    }

    /// <summary>GET /service/token with optional Basic credentials and scopes; the raw response.</summary>
    public async Task<HttpResponseMessage> RequestTokenAsync(string? username, string? password, params string[] scopes)
    {
        using var client = username is null ? Client() : Client(username, password);
        string query = "service/token?service=wharf-registry" + string.Concat(scopes.Select(s => "&scope=" + Uri.EscapeDataString(s)));
        return await client.GetAsync(query);
    }

    public async Task<string> TokenAsync(string? username, string? password, params string[] scopes)
    {
        using var response = await RequestTokenAsync(username, password, scopes);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("token").GetString()!;
    }

    /// <summary>The access claim of a token: "type:name" → actions.</summary>
    public static Dictionary<string, string[]> AccessOf(string token)
    {
        byte[] payload = System.Buffers.Text.Base64Url.DecodeFromChars(token.Split('.')[1]);
        using var document = JsonDocument.Parse(payload);
        return document.RootElement.GetProperty("access").EnumerateArray().ToDictionary(
            a => a.GetProperty("type").GetString() + ":" + a.GetProperty("name").GetString(),
            a => a.GetProperty("actions").EnumerateArray().Select(x => x.GetString()!).ToArray());
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Stops the server but keeps its data directory, for restart tests.</summary>
    public async Task StopKeepingDataAsync()
    {
        await _app!.StopAsync();
        await _app.DisposeAsync();
        _app = null;
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    private void MapStandInV2(WebApplication app)
    {
        app.Map("/v2/{**path}", async (HttpContext context, string? path) =>
        {
            var authorizer = context.RequestServices.GetRequiredService<IRegistryAuthorizer>();
            AccessScope? access = null;
            RepositoryName repository = default;
            if (path == "_catalog")
            {
                access = AccessScope.Catalog;
            }
            else if (!string.IsNullOrEmpty(path))
            {
                int cut = path.IndexOf("/manifests/", StringComparison.Ordinal);
                if (cut < 0)
                {
                    cut = path.IndexOf("/blobs/", StringComparison.Ordinal);
                }

                if (cut < 0)
                {
                    cut = path.IndexOf("/tags/", StringComparison.Ordinal);
                }

                repository = RepositoryName.Parse(path[..cut]);
                string method = context.Request.Method;
                access = method is "GET" or "HEAD" ? AccessScope.Repository(repository, AccessScope.Pull)
                    : method == "DELETE" ? AccessScope.Repository(repository, AccessScope.Delete)
                    : AccessScope.Repository(repository, AccessScope.Pull, AccessScope.Push);
            }

            var result = await authorizer.AuthorizeAsync(context, access, context.RequestAborted);
            switch (result.Kind)
            {
                case AuthorizationKind.Challenge:
                    authorizer.WriteChallenge(context, access, result.Detail);
                    return Error(OciErrorCode.Unauthorized, null);
                case AuthorizationKind.Denied:
                    return Error(OciErrorCode.Denied, result.Detail);
                case AuthorizationKind.HiddenAsUnknown:
                    return Error(OciErrorCode.NameUnknown, result.Detail);
            }

            if (path == "_catalog")
            {
                var visible = new List<string>();
                foreach (string name in Repositories.All)
                {
                    if (await authorizer.CanListAsync(context, RepositoryName.Parse(name), context.RequestAborted))
                    {
                        visible.Add(name);
                    }
                }

                return Results.Json(new { repositories = visible });
            }

            if (access is not null && !Repositories.All.Contains(repository.Value) && context.Request.Method is "GET" or "HEAD")
            {
                return Error(OciErrorCode.NameUnknown, null);
            }

            return Results.Text("ok");
        });
    }

    /// <summary>The spec's error body; a hidden repository gets the very same body as a missing one.</summary>
    private static IResult Error(OciErrorCode code, string? detail)
    {
        var info = code.Info();
        return Results.Json(new { errors = new[] { new { code = info.Value, message = detail ?? info.Message } } }, statusCode: (int)info.Status);
    }
}

public sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}

public sealed class InMemoryProjectRepositories : IProjectRepositories
{
    private readonly ConcurrentDictionary<string, long> _repositories = new(StringComparer.Ordinal);

    public IEnumerable<string> All => _repositories.Keys.Order(StringComparer.Ordinal);

    public void Add(string repository, long size = 0) => _repositories[repository] = size;

    public Task<bool> ProjectHasRepositoriesAsync(string project, CancellationToken cancellationToken) =>
        Task.FromResult(_repositories.Keys.Any(r => r.StartsWith(project + "/", StringComparison.Ordinal)));

    public Task<long> GetProjectUsageAsync(string project, CancellationToken cancellationToken) =>
        Task.FromResult(_repositories.Where(r => r.Key.StartsWith(project + "/", StringComparison.Ordinal)).Sum(r => r.Value));

    public Task<IReadOnlyList<string>> ListProjectRepositoriesAsync(string project, string? last, int limit, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<string>>([.. All.Where(r => r.StartsWith(project + "/", StringComparison.Ordinal) && (last is null || string.CompareOrdinal(r, last) > 0)).Take(limit)]);
}
