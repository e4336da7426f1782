using System.CommandLine;
using System.Data.Common;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Wharf.Registry;
using Wharf.Registry.Storage;

namespace Wharf.Server;

/// <summary>
/// <c>wharfd serve</c>: the registry on Kestrel. What a user can get wrong before the first request
/// (the data directory, the TLS files, a port in use) ends in one <c>Error:</c> line and exit 1,
/// never a stack trace.
/// </summary>
internal static class ServeCommand
{
    public const string AccessLogVariable = "WHARF_ACCESS_LOG";

    /// <summary>The metadata database's URL when --database is not given.</summary>
    public const string DatabaseVariable = "WHARF_DATABASE";

    private const string DefaultPort = "127.0.0.1:5000";

    public static Command Create(IReadOnlyList<string> configuration, TextWriter output, TextWriter error)
    {
        var dataDir = WharfdCommand.DataDirectoryOption();
        var urls = new Option<string?>("--urls") { Description = $"Addresses to listen on, ';'-separated (default http://{DefaultPort}, https:// with --tls-cert)", HelpName = "urls" };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "Serve HTTPS with this PEM certificate (needs --tls-key)", HelpName = "pem" };
        var tlsKey = new Option<string?>("--tls-key") { Description = "The PEM private key of --tls-cert", HelpName = "pem" };
        var database = new Option<string?>("--database")
        {
            Description = $"The metadata database: postgresql://USER:PASSWORD@HOST:PORT/DB (or ${DatabaseVariable}, or Registry:Database); default SQLite in the data directory, which then holds only blobs when PostgreSQL is used",
            HelpName = "url",
        };
        var accessLog = new Option<bool>("--access-log") { Description = $"Log one line per request: client, user, request, status, bytes, duration (or {AccessLogVariable}=1)" };
        var command = new Command("serve", "Serve the registry (the default). ASP.NET Core settings pass through as --Section:Key=Value")
        {
            dataDir, database, urls, tlsCert, tlsKey, accessLog,
        };
        command.Validators.Add(result =>
        {
            if ((result.GetValue(tlsCert) is null) != (result.GetValue(tlsKey) is null))
            {
                result.AddError("--tls-cert and --tls-key go together");
            }
        });
        command.SetAction((parse, ct) => RunAsync(
            new ServeSettings(parse.GetValue(dataDir), parse.GetValue(database), parse.GetValue(urls), parse.GetValue(tlsCert), parse.GetValue(tlsKey), parse.GetValue(accessLog) || AccessLogRequested(), configuration),
            output,
            error,
            ct));
        return command;
    }

    private static bool AccessLogRequested() =>
        Environment.GetEnvironmentVariable(AccessLogVariable) is { } value && (value == "1" || value.Equals("true", StringComparison.OrdinalIgnoreCase));

    private static async Task<int> RunAsync(ServeSettings settings, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateBuilder([.. settings.Configuration]);
        string urls = settings.Urls ?? builder.Configuration["urls"] ?? "";
        if (urls.Length == 0)
        {
            urls = (settings.TlsCertificate is null ? "http://" : "https://") + DefaultPort;
        }

        builder.WebHost.UseUrls(urls);

        if (settings.TlsCertificate is { } certPath && settings.TlsKey is { } keyPath)
        {
            var (certificate, tlsProblem) = LoadCertificate(Path.GetFullPath(certPath), Path.GetFullPath(keyPath));
            if (certificate is null)
            {
                return await FailAsync(error, tlsProblem!).ConfigureAwait(false);
            }

            builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureHttpsDefaults(https => https.ServerCertificate = certificate));
        }

        // A port already taken is found before the data directory is touched; otherwise the first
        // start would create the admin account (the hosts' services start before Kestrel binds)
        // and then fail. Kestrel's own bind error below still covers a port taken in between.
        if (AddressInUse(urls) is { } taken)
        {
            return await FailAsync(error, $"Failed to bind to address {taken}: address already in use").ConfigureAwait(false);
        }

        string? database = FirstSet(settings.Database, Environment.GetEnvironmentVariable(DatabaseVariable), builder.Configuration["Registry:Database"]);
        if (database is not null)
        {
            try
            {
                _ = Wharf.Registry.Data.PostgreSqlUrl.Parse(database);
            }
            catch (FormatException e)
            {
                return await FailAsync(error, $"--database: {e.Message}").ConfigureAwait(false);
            }
        }

        // Last of the checks: bad input elsewhere must not leave a new empty data directory behind.
        string dataDirectory = WharfdCommand.ResolveDataDirectory(settings.DataDirectory, builder.Configuration["Registry:DataDirectory"]);
        if (CheckDataDirectory(dataDirectory) is { } problem)
        {
            return await FailAsync(error, problem).ConfigureAwait(false);
        }

        var startup = ServerLogging.Configure(builder.Logging, builder.Configuration);

        // Publishing into a shared image store (Registry:SharedStore) writes through the engine's code.
        builder.Services.AddSingleton<Wharf.Registry.SharedStore.ISharedStoreWriter, EngineSharedStoreWriter>();

        WebApplication app;
        try
        {
            app = WharfApplication.Build(builder, o =>
            {
                o.DataDirectory = dataDirectory;
                o.Database = database;
            });
        }
        catch (DataDirectoryInUseException e)
        {
            return await FailAsync(error, e.Message).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return await FailAsync(error, $"cannot use the data directory {dataDirectory}: {e.Message}").ConfigureAwait(false);
        }

        await using (app.ConfigureAwait(false))
        {
            if (settings.AccessLog)
            {
                // Added after the endpoints are mapped, it still runs before them: the host puts
                // routing first and the endpoints last around whatever the application adds.
                app.UseMiddleware<AccessLog>();
            }

            string? failure = null;
            try
            {
                await output.WriteLineAsync($"wharfd: data directory {dataDirectory}").ConfigureAwait(false);
                await app.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                // Kestrel's message names the address: "Failed to bind to address http://...: address already in use."
                failure = e.Message.TrimEnd('.');
            }
            catch (Exception e) when (e is UnauthorizedAccessException or DbException)
            {
                failure = $"cannot use the data directory {dataDirectory}: {e.Message}";
            }

            if (failure is not null)
            {
                // Stopped before disposed, so background services end the ordinary way; the
                // host's own report of the failure stays held back by the gate.
                await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
                return await FailAsync(error, failure).ConfigureAwait(false);
            }

            startup.Started();
            await app.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
        }

        return 0;
    }

    private static async Task<int> FailAsync(TextWriter error, string message)
    {
        await error.WriteLineAsync("Error: " + message).ConfigureAwait(false);
        return 1;
    }

    /// <summary>Creates the data directory if needed and proves it can be listed and written; null when it can.</summary>
    private static string? CheckDataDirectory(string path)
    {
        if (File.Exists(path))
        {
            return $"the data directory {path} is a file";
        }

        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"cannot create the data directory {path}: {e.Message}";
        }

        try
        {
            _ = Directory.EnumerateFileSystemEntries(path).Any();
            using (File.Create(Path.Combine(path, $".wharfd-write-check-{Environment.ProcessId}"), 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"cannot use the data directory {path}: {e.Message}";
        }

        return null;
    }

    /// <summary>The first of <paramref name="urls"/> with an IP address (or localhost) and a port that something already listens on.</summary>
    private static string? AddressInUse(string urls)
    {
        foreach (string url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Port <= 0)
            {
                continue; // Kestrel's wildcard forms ("http://*:80") and its own complaints are left to Kestrel
            }

            IPAddress? address = uri.IsLoopback && uri.HostNameType == UriHostNameType.Dns ? IPAddress.Loopback
                : IPAddress.TryParse(uri.Host.Trim('[', ']'), out var parsed) ? parsed : null;
            if (address is null)
            {
                continue;
            }

            try
            {
                using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                probe.Bind(new IPEndPoint(address, uri.Port));
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                return url;
            }
            catch (SocketException)
            {
                // Not ours to judge (no such address here, no permission for a low port): Kestrel says.
            }
        }

        return null;
    }

    private static (X509Certificate2? Certificate, string? Problem) LoadCertificate(string certPath, string keyPath)
    {
        foreach (var (what, path) in new[] { ("certificate", certPath), ("key", keyPath) })
        {
            if (!File.Exists(path))
            {
                return (null, $"the TLS {what} {path} does not exist");
            }
        }

        try
        {
            return (X509Certificate2.CreateFromPemFile(certPath, keyPath), null);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            return (null, $"cannot load the TLS certificate {certPath} with the key {keyPath}: {e.Message}");
        }
    }

    private sealed record ServeSettings(string? DataDirectory, string? Database, string? Urls, string? TlsCertificate, string? TlsKey, bool AccessLog, IReadOnlyList<string> Configuration);

    private static string? FirstSet(params string?[] values) => values.FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));
}
