using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Wharf.Testing;

/// <summary>
/// Debian's docker-registry (CNCF distribution 2.8) on 127.0.0.1: a free port, a private directory
/// for its config and storage (deletes enabled), optionally htpasswd Basic auth, stopped by PID on
/// dispose. Its access log is kept, so a test can count what the registry answered (which registry
/// served a pull, what a proxy asked of its upstream).
/// </summary>
public sealed class DockerRegistry : IDisposable
{
    private readonly string _root;
    private readonly ServerProcess _process;

    private DockerRegistry(string root, int port, ServerProcess process)
    {
        _root = root;
        Port = port;
        _process = process;
    }

    public int Port { get; }

    /// <summary>host:port as image references spell it.</summary>
    public string Host => $"127.0.0.1:{Port}";

    public Uri Url => new($"http://{Host}/");

    public HttpClient Client() => new() { BaseAddress = Url };

    /// <param name="name">What the log lines call it, and part of its directory's name.</param>
    /// <param name="htpasswd">An htpasswd file (bcrypt): the registry then asks for Basic credentials.</param>
    public static async Task<DockerRegistry> StartAsync(string name = "registry", string? htpasswd = null, CancellationToken cancellationToken = default)
    {
        HostTools.Ensure("docker-registry", "docker-registry");
        string root = Directory.CreateTempSubdirectory($"wharf-{name}-").FullName;
        // A free port may be taken before docker-registry binds it; then it exits and gets another.
        for (int attempt = 1; ; attempt++)
        {
            int port = LoopbackPort.Free();
            var process = new ServerProcess($"docker-registry ({name})", () => Command(root, port, htpasswd), new Uri($"http://127.0.0.1:{port}/v2/"));
            try
            {
                await process.StartAsync(cancellationToken).ConfigureAwait(false);
                return new DockerRegistry(root, port, process);
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

    /// <summary><see cref="StartAsync"/> for a constructor or a field initialiser.</summary>
    public static DockerRegistry Start(string name = "registry", string? htpasswd = null) =>
        StartAsync(name, htpasswd).GetAwaiter().GetResult();

    /// <summary>A position in the log: the counts below count from there.</summary>
    public int Mark => _process.LogMark;

    public string Logs => _process.Logs;

    public string LogsSince(int mark) => _process.LogsSince(mark);

    /// <summary>Manifest GETs of <paramref name="repository"/> answered since <paramref name="mark"/>, from the access log.</summary>
    public int ManifestGets(string repository, int mark = 0) =>
        Regex.Matches(LogsSince(mark), "\"GET /v2/" + Regex.Escape(repository) + "/manifests/[^ \"]+ ").Count;

    /// <summary>GETs of this blob (any repository) answered since <paramref name="mark"/>, from the access log.</summary>
    public int BlobGets(string digest, int mark = 0) =>
        Regex.Matches(LogsSince(mark), "\"GET /v2/[^ \"]+/blobs/" + Regex.Escape(digest) + " ").Count;

    /// <summary>Stops the registry (SIGTERM to its PID), as an outage would; killed if it takes more than 10 s.</summary>
    public async Task StopAsync() => await _process.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);

    /// <summary>Kills the registry by PID, as a crash would.</summary>
    public void Kill() => _process.Kill();

    public void Dispose()
    {
        _process.Dispose();
        TempDirectory.TryDelete(_root);
    }

    private static ProcessStartInfo Command(string root, int port, string? htpasswd)
    {
        string config = Path.Combine(root, "config.yml");
        // Info level: the access log lines the counts above read.
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
            {(htpasswd is null ? string.Empty : $"auth:\n  htpasswd:\n    realm: wharf-test\n    path: {htpasswd}\n")}
            """);
        var psi = new ProcessStartInfo("docker-registry");
        psi.ArgumentList.Add("serve");
        psi.ArgumentList.Add(config);
        return psi;
    }
}
