using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wharf.Registry;
using Wharf.Registry.Identity;

namespace Wharf.Testing;

/// <summary>
/// wharfd in the test process: the production composition (<see cref="WharfApplication.Build"/>,
/// the same routing, authorizer, middleware and endpoints <c>wharfd</c> runs) on Kestrel bound to
/// 127.0.0.1 port 0, over a private data directory, with a known admin password and a clock the test
/// controls. Disposing stops it and removes the data directory, whether the test passed or not.
/// </summary>
public sealed class WharfServer : IAsyncDisposable, IWharfEndpoint
{
    public const string AdminPassword = "Harbor12345";

    /// <summary>
    /// <c>WHARF_TEST_DATABASE=postgresql</c> runs every in-process wharfd on PostgreSQL
    /// (<see cref="PostgreSqlServer.SharedAsync"/>): one database per data directory, so a restart on
    /// the same directory finds its data again. Unset (or <c>sqlite</c>): SQLite, as deployed by default.
    /// </summary>
    public const string DatabaseVariable = "WHARF_TEST_DATABASE";

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _postgresDatabases = new(StringComparer.Ordinal);

    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _configureServices;
    private WebApplication? _app;

    private WharfServer(string dataDirectory, Dictionary<string, string?> settings, Action<IServiceCollection>? configureServices)
    {
        DataDirectory = dataDirectory;
        _settings = settings;
        _configureServices = configureServices;
    }

    public string DataDirectory { get; }

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The server's clock unless the test registered a <see cref="TimeProvider"/> of its own.</summary>
    public ManualTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    public IServiceProvider Services => _app?.Services ?? throw new InvalidOperationException("the server is not running");

    /// <summary>What the admin bootstrap printed (the generated password, on a first start without one).</summary>
    public StringWriter BootstrapOutput { get; private set; } = new();

    /// <summary>
    /// Starts wharfd with the token service and projects, as deployed. <paramref name="settings"/> are
    /// configuration keys (<c>Registry:...</c>) over the test defaults; <paramref name="configureServices"/>
    /// registers services before the registry's, which keeps them where it only adds defaults.
    /// </summary>
    public static async Task<WharfServer> StartAsync(
        Dictionary<string, string?>? settings = null, string? dataDirectory = null, Action<IServiceCollection>? configureServices = null)
    {
        var config = new Dictionary<string, string?>
        {
            ["Registry:AdminPassword"] = AdminPassword,
            ["Registry:BcryptWorkFactor"] = "4", // the lowest cost bcrypt allows: logins are most of a test's time otherwise
            ["Registry:CreateLibraryProject"] = "false", // the tests make the projects they need
        };
        foreach (var (key, value) in settings ?? [])
        {
            config[key] = value;
        }

        var server = new WharfServer(dataDirectory ?? Directory.CreateTempSubdirectory("wharf-test-").FullName, config, configureServices);
        try
        {
            if (OnPostgreSql && !config.ContainsKey("Registry:Database"))
            {
                config["Registry:Database"] = await PostgreSqlDatabaseAsync(server.DataDirectory).ConfigureAwait(false);
            }

            await server.StartCoreAsync().ConfigureAwait(false);
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return server;
    }

    /// <summary>
    /// wharfd with <c>Registry:OpenRegistry</c>: /v2 answers everyone, for tests of the distribution
    /// API itself; pushes need no project.
    /// </summary>
    public static Task<WharfServer> StartOpenAsync(Action<IServiceCollection>? configureServices = null, string? dataDirectory = null) =>
        StartAsync(new Dictionary<string, string?> { ["Registry:OpenRegistry"] = "true" }, dataDirectory, configureServices);

    /// <summary>Stops the server and starts a new one on the same data directory, as a restart of wharfd would.</summary>
    public async Task RestartAsync()
    {
        await StopKeepingDataAsync().ConfigureAwait(false);
        await StartCoreAsync().ConfigureAwait(false);
    }

    /// <summary>Stops the server but keeps its data directory, for restart tests that start another on it.</summary>
    public async Task StopKeepingDataAsync()
    {
        var app = _app;
        _app = null;
        if (app is not null)
        {
            try
            {
                await app.StopAsync().ConfigureAwait(false);
            }
            finally
            {
                await app.DisposeAsync().ConfigureAwait(false);
            }
        }

        // Pooled connections keep the database open; the next start, or the cleanup, needs it closed.
        SqliteConnection.ClearAllPools();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopKeepingDataAsync().ConfigureAwait(false);
        }
        finally
        {
            TempDirectory.TryDelete(DataDirectory);
            if (_postgresDatabases.TryRemove(Path.GetFullPath(DataDirectory), out string? url))
            {
                await (await PostgreSqlServer.SharedAsync().ConfigureAwait(false)).DropDatabaseAsync(url).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Whether this test run puts wharfd's metadata in PostgreSQL (<see cref="DatabaseVariable"/>).</summary>
    public static bool OnPostgreSql
    {
        get
        {
            string? value = Environment.GetEnvironmentVariable(DatabaseVariable);
            return value is not null && (value.Equals("postgresql", StringComparison.OrdinalIgnoreCase) || value.Equals("postgres", StringComparison.OrdinalIgnoreCase))
                ? true
                : string.IsNullOrEmpty(value) || value.Equals("sqlite", StringComparison.OrdinalIgnoreCase)
                    ? false
                    : throw new InvalidOperationException($"{DatabaseVariable}={value}: expected postgresql or sqlite");
        }
    }

    /// <summary>The PostgreSQL database of the data directory <paramref name="dataDirectory"/>, created on first use.</summary>
    public static async Task<string> PostgreSqlDatabaseAsync(string dataDirectory)
    {
        string key = Path.GetFullPath(dataDirectory);
        if (_postgresDatabases.TryGetValue(key, out string? url))
        {
            return url;
        }

        var postgres = await PostgreSqlServer.SharedAsync().ConfigureAwait(false);
        url = await postgres.CreateDatabaseAsync().ConfigureAwait(false);
        return _postgresDatabases.GetOrAdd(key, url);
    }

    public HttpClient Client(string? username = null, string? password = null) =>
        WharfEndpoint.Client(BaseAddress, username, password);

    public static AuthenticationHeaderValue Basic(string username, string password) => WharfEndpoint.Basic(username, password);

    /// <summary>The access claim of a token: "type:name" → actions.</summary>
    public static Dictionary<string, string[]> AccessOf(string token) => WharfEndpoint.AccessOf(token);

    private async Task StartCoreAsync()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Test", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        if (Environment.GetEnvironmentVariable("WHARF_TEST_LOG") is { Length: > 0 } level)
        {
            // A failing test's server side (an exception behind a 500) on the test's console:
            // WHARF_TEST_LOG=Warning (or any log level) dotnet test … --logger "console;verbosity=detailed".
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
            builder.Logging.SetMinimumLevel(Enum.TryParse<LogLevel>(level, ignoreCase: true, out var parsed) ? parsed : LogLevel.Warning);
        }

        builder.Configuration.AddInMemoryCollection(_settings);
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        _configureServices?.Invoke(builder.Services);
        builder.Services.TryAddSingleton<TimeProvider>(Clock);

        var app = WharfApplication.Build(builder, o => o.DataDirectory = DataDirectory);
        BootstrapOutput = new StringWriter();
        foreach (var bootstrap in app.Services.GetServices<IHostedService>().OfType<AdminBootstrap>())
        {
            bootstrap.Output = BootstrapOutput;
        }

        _app = app;
        await app.StartAsync().ConfigureAwait(false);
        string address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        BaseAddress = new Uri(address.TrimEnd('/') + "/");
    }
}
