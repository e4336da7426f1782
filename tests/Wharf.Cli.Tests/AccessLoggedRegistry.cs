using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Wharf.Cli.Tests;

/// <summary>
/// A docker-registry 2.8 on 127.0.0.1 (free port, private directory, stopped by PID) whose access log
/// is kept, so a test can tell which registry served a pull.
/// </summary>
public sealed class AccessLoggedRegistry : IDisposable
{
    private readonly string _root;
    private readonly ServerProcess _process;

    private AccessLoggedRegistry(string root, int port, ServerProcess process)
    {
        _root = root;
        Port = port;
        _process = process;
    }

    public int Port { get; }

    public string Host => $"127.0.0.1:{Port}";

    public static AccessLoggedRegistry Start(string name)
    {
        Tools.EnsureTool("docker-registry", "docker-registry");
        string root = Directory.CreateTempSubdirectory($"wharf-{name}-").FullName;
        for (int attempt = 1; ; attempt++)
        {
            int port = LoopbackPort.Free();
            var process = new ServerProcess($"docker-registry ({name})", () => Command(root, port), new Uri($"http://127.0.0.1:{port}/v2/"));
            try
            {
                process.StartAsync().GetAwaiter().GetResult();
                return new AccessLoggedRegistry(root, port, process);
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

    /// <summary>A position in the log: <see cref="ManifestGets"/> counts from there.</summary>
    public int Mark => _process.LogMark;

    /// <summary>Manifest GETs of <paramref name="repository"/> answered since <paramref name="mark"/>.</summary>
    public int ManifestGets(string repository, int mark = 0) =>
        Regex.Matches(_process.LogsSince(mark), "\"GET /v2/" + Regex.Escape(repository) + "/manifests/[^ \"]+ ").Count;

    public void Stop() => _process.Kill();

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
