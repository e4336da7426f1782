using System.Diagnostics;
using System.Text.RegularExpressions;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Proxy;

/// <summary>
/// A real docker-registry on 127.0.0.1 (free port, config in a private temp directory, stopped by
/// PID) as the upstream of a proxy cache. Its access log is kept, so a test counts what the proxy
/// asked of it.
/// </summary>
public sealed class DockerRegistryUpstream : IDisposable
{
    private readonly string _root;
    private readonly ServerProcess _process;

    private DockerRegistryUpstream(string root, int port, ServerProcess process)
    {
        _root = root;
        Port = port;
        _process = process;
    }

    public int Port { get; }

    public Uri Url => new($"http://127.0.0.1:{Port}/");

    public HttpClient Client() => new() { BaseAddress = Url };

    public static bool IsInstalled =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => File.Exists(Path.Combine(dir, "docker-registry")));

    public static async Task<DockerRegistryUpstream> StartAsync()
    {
        Assert.True(IsInstalled, "docker-registry is not installed (Debian package docker-registry)");
        string root = Directory.CreateTempSubdirectory("wharf-upstream-").FullName;
        // A free port may be taken before docker-registry binds it; then it exits and gets another.
        for (int attempt = 1; ; attempt++)
        {
            int port = LoopbackPort.Free();
            var process = new ServerProcess("docker-registry (upstream)", () => Command(root, port), new Uri($"http://127.0.0.1:{port}/v2/"));
            try
            {
                await process.StartAsync();
                return new DockerRegistryUpstream(root, port, process);
            }
            catch (ServerExitedException) when (attempt < 3)
            {
                process.Dispose();
            }
            catch
            {
                process.Dispose();
                TempDirectory.TryDelete(root);
                throw;
            }
        }
    }

    /// <summary>Stops the upstream (by PID), as an outage would.</summary>
    public async Task StopAsync() => await _process.StopAsync(TimeSpan.FromSeconds(10));

    /// <summary>How many GETs of this blob the upstream answered, from its access log.</summary>
    public int BlobGets(string digest) =>
        Regex.Matches(_process.Logs, "\"GET /v2/[^ \"]+/blobs/" + Regex.Escape(digest) + " ").Count;

    public string Logs => _process.Logs;

    public void Dispose()
    {
        _process.Dispose();
        TempDirectory.TryDelete(_root);
    }

    private static ProcessStartInfo Command(string root, int port)
    {
        string config = Path.Combine(root, "config.yml");
        File.WriteAllText(config, $"""
            version: 0.1
            log:
              level: info
            storage:
              filesystem:
                rootdirectory: {Path.Combine(root, "data")}
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:{port}
            """);
        var psi = new ProcessStartInfo("docker-registry");
        psi.ArgumentList.Add("serve");
        psi.ArgumentList.Add(config);
        return psi;
    }
}
