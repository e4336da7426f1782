using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Wharf.Registry.Identity;

namespace Wharf.Testing;

/// <summary>How to start an out-of-process wharfd.</summary>
public sealed record WharfdOptions
{
    /// <summary>Serve HTTPS with a self-signed certificate for 127.0.0.1 (<see cref="WharfdProcess.CertificatePath"/>).</summary>
    public bool Https { get; init; }

    /// <summary><c>Registry:OpenRegistry</c>: /v2 open to everyone, for tests of the distribution API itself.</summary>
    public bool OpenRegistry { get; init; }

    /// <summary>The data directory, kept after the process stops; a private one removed on dispose when null.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>The port; a free one (and another if that is taken before wharfd binds it) when null.</summary>
    public int? Port { get; init; }

    /// <summary>Environment variables for the process, over the defaults (the admin password, quieter framework logs).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>More command-line arguments, after the defaults (configuration keys such as <c>--Metrics:Enabled=true</c>).</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];
}

/// <summary>
/// The real <c>wharfd</c> binary from the test output (a project reference to Wharf.Server puts it
/// there), run as its own process with <c>dotnet wharfd.dll</c> on 127.0.0.1, a private data
/// directory and <see cref="AdminPassword"/>. For tests that need a separate process: the CLI talking
/// to a server it did not start, restarts and crashes by PID. Disposing kills it and removes what it
/// owned, whether the test passed or not.
/// </summary>
public sealed class WharfdProcess : IWharfEndpoint, IAsyncDisposable, IDisposable
{
    public const string AdminPassword = WharfServer.AdminPassword;

    private readonly TempDirectory _root;
    private readonly WharfdOptions _options;

    private WharfdProcess(WharfdOptions options, int port)
    {
        _options = options;
        _root = new TempDirectory("wharf-wharfd");
        Port = port;
        DataDirectory = options.DataDirectory ?? Path.Combine(_root.Path, "data");
        Process = new ServerProcess("wharfd", CreateStartInfo, new Uri(BaseAddress, "v2/"));
    }

    /// <summary>A directory of the test's own next to the data: certificates, scratch files.</summary>
    public string Root => _root.Path;

    public string DataDirectory { get; }

    public int Port { get; }

    public bool Https => _options.Https;

    public string Scheme => Https ? "https" : "http";

    /// <summary>host:port as image references spell it.</summary>
    public string Host => $"127.0.0.1:{Port}";

    public Uri BaseAddress => new($"{Scheme}://{Host}/");

    public string CertificatePath => Path.Combine(Root, "cert.pem");

    private string KeyPath => Path.Combine(Root, "key.pem");

    /// <summary>The process: its PID, its log, kill and restart.</summary>
    public ServerProcess Process { get; }

    /// <summary>
    /// Starts wharfd and waits until it answers. A port chosen here is free when chosen, but another
    /// process may take it before wharfd binds; then wharfd exits and starts again on another.
    /// </summary>
    public static async Task<WharfdProcess> StartAsync(WharfdOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new WharfdOptions();
        for (int attempt = 1; ; attempt++)
        {
            var wharfd = new WharfdProcess(options, options.Port ?? LoopbackPort.Free());
            try
            {
                if (options.Https)
                {
                    wharfd.WriteSelfSignedCertificate();
                }

                await wharfd.Process.StartAsync(cancellationToken).ConfigureAwait(false);
                return wharfd;
            }
            catch (ServerExitedException) when (attempt < 3 && options.Port is null)
            {
                wharfd.Dispose();
            }
            catch
            {
                wharfd.Dispose();
                throw;
            }
        }
    }

    /// <summary><see cref="StartAsync"/> for xunit fixtures, which are built by constructors.</summary>
    public static WharfdProcess Start(WharfdOptions? options = null) => StartAsync(options).GetAwaiter().GetResult();

    public HttpClient Client(string? username = null, string? password = null) =>
        WharfEndpoint.Client(BaseAddress, username, password, Https ? TrustingHandler() : null);

    public void Dispose()
    {
        Process.Dispose();
        _root.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private ProcessStartInfo CreateStartInfo() => CreateStartInfo(
        $"{Scheme}://{Host}", DataDirectory, _options.OpenRegistry, Https ? (CertificatePath, KeyPath) : null, _options.Environment, _options.Arguments);

    /// <summary>
    /// The command that starts wharfd from the test output: <c>dotnet wharfd.dll --urls ... --data-dir ...</c>
    /// with <see cref="AdminPassword"/>. For fixtures that run the process under their own lifecycle
    /// (<see cref="ServerProcess"/>) beside other registries.
    /// </summary>
    public static ProcessStartInfo CreateStartInfo(
        string urls, string dataDirectory, bool openRegistry = false, (string Certificate, string Key)? tls = null, IReadOnlyDictionary<string, string>? environment = null,
        IReadOnlyList<string>? arguments = null)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "wharfd.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException("wharfd.dll is not in the test output; a project reference to Wharf.Server brings it", dll);
        }

        var startInfo = new ProcessStartInfo(DotnetHost());
        startInfo.ArgumentList.Add(dll);
        foreach (string argument in new[] { "--urls", urls, "--data-dir", dataDirectory })
        {
            startInfo.ArgumentList.Add(argument);
        }

        if (tls is var (certificate, key))
        {
            foreach (string argument in new[] { "--tls-cert", certificate, "--tls-key", key })
            {
                startInfo.ArgumentList.Add(argument);
            }
        }

        if (openRegistry)
        {
            startInfo.ArgumentList.Add("--Registry:OpenRegistry=true");
        }

        foreach (string argument in arguments ?? [])
        {
            startInfo.ArgumentList.Add(argument);
        }

        startInfo.Environment[AdminBootstrap.AdminPasswordVariable] = AdminPassword;
        // Per-request framework logging drowns what the server itself says.
        startInfo.Environment["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            startInfo.Environment[name] = value;
        }

        return startInfo;
    }

    private void WriteSelfSignedCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        // What `openssl req -x509` writes: a self-signed CA certificate, so a client may trust it as its own root.
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(2));
        File.WriteAllText(CertificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(KeyPath, key.ExportPkcs8PrivateKeyPem());
    }

    // The tests' certificate is self-signed on purpose; the CLI's own trust checks are what they test.
    private static HttpClientHandler TrustingHandler() =>
        new() { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator };

    private static string DotnetHost()
    {
        // Set by the dotnet CLI for the processes it starts (the test host among them).
        string? host = System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return !string.IsNullOrEmpty(host) && File.Exists(host) ? host : "dotnet";
    }
}
