using System.Diagnostics;
using System.Net;
using Wharf.Testing;

namespace Wharf.IntegrationTests.Infrastructure;

/// <summary>
/// A registry running as a real process on 127.0.0.1 (<see cref="ServerProcess"/>: started, probed
/// until <c>GET /v2/</c> answers, killed by PID). Its stdout and stderr are kept so a failing test can
/// show what the server said.
/// </summary>
public abstract class RegistryServer : IAsyncDisposable
{
    /// <summary>Environment variable that picks the registry the suite runs against: <c>wharfd</c> (default) or <c>docker-registry</c>.</summary>
    public const string TargetVariable = "WHARF_IT_REGISTRY";

    private readonly ServerProcess _process;

    protected RegistryServer(string name, string dataDirectory, int port)
    {
        DataDirectory = dataDirectory;
        Port = port;
        _process = new ServerProcess(name, CreateStartInfo, new Uri(BaseAddress, "v2/"));
    }

    public string Name => _process.Name;

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

    public int? ProcessId => _process.ProcessId;

    public static RegistryServer Create(string dataDirectory, int? port = null)
    {
        var target = Environment.GetEnvironmentVariable(TargetVariable);
        var chosenPort = port ?? LoopbackPort.Free();
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
            catch (ServerExitedException) when (attempt < 3)
            {
                await server.DisposeAsync();
            }
        }
    }

    protected abstract ProcessStartInfo CreateStartInfo();

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(DataDirectory);
        await _process.StartAsync(cancellationToken);
    }

    /// <summary>Kills the process by its PID, as a crash would: no graceful shutdown.</summary>
    public void Kill() => _process.Kill();

    public Task RestartAsync(CancellationToken cancellationToken = default) => _process.RestartAsync(cancellationToken);

    /// <summary>A position in the log; pass it to <see cref="LogsSince"/> to get what came after.</summary>
    public int LogMark => _process.LogMark;

    public string Logs => _process.Logs;

    public string LogsSince(int mark) => _process.LogsSince(mark);

    public ValueTask DisposeAsync()
    {
        _process.Dispose();
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}

/// <summary>wharfd from this build's output, started the way every test starts it (<see cref="WharfdProcess.CreateStartInfo"/>).</summary>
public sealed class WharfdServer(string dataDirectory, int port) : RegistryServer("wharfd", dataDirectory, port)
{
    public override HttpStatusCode ManifestBlobUnknownStatus => HttpStatusCode.NotFound;

    // These tests drive the distribution API itself, so the registry runs open; the token flow and
    // permissions have their own tests against real podman.
    protected override ProcessStartInfo CreateStartInfo() =>
        WharfdProcess.CreateStartInfo($"http://{Host}", DataDirectory, openRegistry: true);
}

/// <summary>CNCF distribution 2.8 (Debian's docker-registry), filesystem storage, deletes enabled.</summary>
public sealed class DockerRegistryServer(string dataDirectory, int port) : RegistryServer("docker-registry", dataDirectory, port)
{
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
