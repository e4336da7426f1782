using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Wharf.IntegrationTests.Infrastructure;

/// <summary>
/// A registry running as a real process on 127.0.0.1: started, probed until <c>GET /v2/</c> answers,
/// killed by PID. Its stdout and stderr are kept so a failing test can show what the server said.
/// </summary>
public abstract class RegistryServer : IAsyncDisposable
{
    /// <summary>Environment variable that picks the registry the suite runs against: <c>wharfd</c> (default) or <c>docker-registry</c>.</summary>
    public const string TargetVariable = "WHARF_IT_REGISTRY";

    private static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(90);

    private readonly List<string> _log = [];
    private Process? _process;

    protected RegistryServer(string dataDirectory, int port)
    {
        DataDirectory = dataDirectory;
        Port = port;
    }

    public abstract string Name { get; }

    /// <summary>
    /// Status that goes with MANIFEST_BLOB_UNKNOWN. Wharf answers 404 (the blob is not found);
    /// distribution 2.8 answers 400, a known divergence of the reference implementation.
    /// </summary>
    public abstract HttpStatusCode ManifestBlobUnknownStatus { get; }

    public string DataDirectory { get; }

    public int Port { get; }

    /// <summary>host:port as image references spell it.</summary>
    public string Host => $"127.0.0.1:{Port}";

    public Uri BaseAddress => new($"http://{Host}/");

    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    public static RegistryServer Create(string dataDirectory, int? port = null)
    {
        var target = Environment.GetEnvironmentVariable(TargetVariable);
        var chosenPort = port ?? FreePort();
        return target switch
        {
            null or "" or "wharfd" => new WharfdServer(dataDirectory, chosenPort),
            "docker-registry" => new DockerRegistryServer(dataDirectory, chosenPort),
            _ => throw new InvalidOperationException($"{TargetVariable}={target}: expected wharfd or docker-registry"),
        };
    }

    /// <summary>
    /// Creates and starts a registry on a free port. The port is free when chosen but another process
    /// may take it before the registry binds; a registry that exits during startup gets another port.
    /// </summary>
    public static async Task<RegistryServer> StartNewAsync(string dataDirectory, CancellationToken cancellationToken = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            var server = Create(dataDirectory);
            try
            {
                await server.StartAsync(cancellationToken);
                return server;
            }
            catch (RegistryExitedException) when (attempt < 3)
            {
                await server.DisposeAsync();
            }
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    protected abstract ProcessStartInfo CreateStartInfo();

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_process is { HasExited: false })
        {
            throw new InvalidOperationException($"{Name} is already running (pid {_process.Id})");
        }
        Directory.CreateDirectory(DataDirectory);
        var startInfo = CreateStartInfo();
        startInfo.UseShellExecute = false;
        startInfo.RedirectStandardOutput = true;
        startInfo.RedirectStandardError = true;
        startInfo.RedirectStandardInput = true;

        var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => Append("out", e.Data);
        process.ErrorDataReceived += (_, e) => Append("err", e.Data);
        Append("fixture", $"starting {startInfo.FileName} {string.Join(' ', startInfo.ArgumentList)}");
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        await WaitUntilAnsweringAsync(process, cancellationToken);
    }

    private async Task WaitUntilAnsweringAsync(Process process, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        Exception? last = null;
        while (deadline.Elapsed < StartupTimeout)
        {
            if (process.HasExited)
            {
                throw new RegistryExitedException($"{Name} exited with {process.ExitCode} before answering GET /v2/\n{Logs}");
            }
            try
            {
                using var response = await http.GetAsync(new Uri(BaseAddress, "v2/"), cancellationToken);
                // 401 is a working registry too: it only asks for credentials (distribution spec, end-1).
                if (response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Unauthorized)
                {
                    Append("fixture", $"answering after {deadline.ElapsedMilliseconds} ms");
                    return;
                }
                last = new HttpRequestException($"GET /v2/ answered {(int)response.StatusCode}");
            }
            catch (HttpRequestException e)
            {
                last = e;
            }
            catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                last = e;
            }
            await Task.Delay(100, cancellationToken);
        }
        Kill();
        throw new TimeoutException($"{Name} did not answer GET /v2/ within {StartupTimeout}: {last?.Message}\n{Logs}");
    }

    /// <summary>Kills the process by its PID, as a crash would: no graceful shutdown.</summary>
    public void Kill()
    {
        var process = _process;
        if (process is null)
        {
            return;
        }
        _process = null;
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
            process.WaitForExit(10_000);
            Append("fixture", $"killed pid {process.Id}");
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        finally
        {
            process.Dispose();
        }
    }

    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        Kill();
        await StartAsync(cancellationToken);
    }

    /// <summary>A position in the log; pass it to <see cref="LogsSince"/> to get what came after.</summary>
    public int LogMark
    {
        get
        {
            lock (_log)
            {
                return _log.Count;
            }
        }
    }

    public string Logs => LogsSince(0);

    public string LogsSince(int mark)
    {
        lock (_log)
        {
            return string.Join('\n', _log.Skip(mark));
        }
    }

    private void Append(string stream, string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_log)
        {
            _log.Add($"[{Name} {stream}] {line}");
        }
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}

public sealed class RegistryExitedException(string message) : Exception(message);

/// <summary>wharfd from this build's output, started with <c>dotnet wharfd.dll</c>.</summary>
public sealed class WharfdServer(string dataDirectory, int port) : RegistryServer(dataDirectory, port)
{
    public override string Name => "wharfd";

    public override HttpStatusCode ManifestBlobUnknownStatus => HttpStatusCode.NotFound;

    protected override ProcessStartInfo CreateStartInfo()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "wharfd.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException("wharfd.dll is not in the test output; the project reference to Wharf.Server brings it", dll);
        }
        var startInfo = new ProcessStartInfo(DotnetHost());
        // These tests drive the distribution API itself, so the registry runs open; the token
        // flow and permissions have their own tests against real podman.
        foreach (var argument in new[] { dll, "--urls", $"http://127.0.0.1:{Port}", "--data-dir", DataDirectory, "--Registry:OpenRegistry=true" })
        {
            startInfo.ArgumentList.Add(argument);
        }
        // Per-request framework logging drowns what the server itself says.
        startInfo.Environment["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning";
        return startInfo;
    }

    private static string DotnetHost()
    {
        // Set by the dotnet CLI for the processes it starts (the test host among them).
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return !string.IsNullOrEmpty(host) && File.Exists(host) ? host : "dotnet";
    }
}

/// <summary>CNCF distribution 2.8 (Debian's docker-registry), filesystem storage, deletes enabled.</summary>
public sealed class DockerRegistryServer(string dataDirectory, int port) : RegistryServer(dataDirectory, port)
{
    public override string Name => "docker-registry";

    public override HttpStatusCode ManifestBlobUnknownStatus => HttpStatusCode.BadRequest;

    protected override ProcessStartInfo CreateStartInfo()
    {
        var config = DataDirectory.TrimEnd('/') + ".yml";
        File.WriteAllText(config, $"""
            version: 0.1
            log:
              level: info
            storage:
              filesystem:
                rootdirectory: {DataDirectory}
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:{Port}
              # Without a fixed secret every start signs upload state with a new random one,
              # and an upload begun before a restart could not go on after it.
              secret: wharf-integration-tests
            """);
        var startInfo = new ProcessStartInfo("docker-registry");
        startInfo.ArgumentList.Add("serve");
        startInfo.ArgumentList.Add(config);
        return startInfo;
    }
}
