using System.Diagnostics;
using System.Globalization;

namespace Wharf.IntegrationTests.Infrastructure;

/// <summary>
/// Debian's nginx (<c>nginx-light</c>) as a round-robin load balancer in front of several servers on
/// loopback: its own prefix directory (config, pid, logs, temp files), in the foreground, stopped by PID.
/// Bodies are streamed both ways (no request or response buffering), as a registry in front of blob
/// uploads needs; the Host header is passed through so token realms and upload Locations name nginx.
/// </summary>
public sealed class NginxBalancer : IDisposable
{
    public const string Program = "/usr/sbin/nginx";

    private readonly TempDirectory _prefix = new("wharf-nginx");
    private readonly IReadOnlyList<int> _upstreams;

    private NginxBalancer(IReadOnlyList<int> upstreams, int port)
    {
        _upstreams = upstreams;
        Port = port;
        Process = new ServerProcess("nginx", CreateStartInfo, new Uri(BaseAddress, "v2/"));
    }

    public int Port { get; }

    public string Host => $"127.0.0.1:{Port}";

    public Uri BaseAddress => new($"http://{Host}/");

    public ServerProcess Process { get; }

    /// <summary>Why nginx cannot run here, or null (./test.sh installs nginx-light when run as root).</summary>
    public static string? Problem => File.Exists(Program) ? null : $"{Program} is missing (install the Debian package nginx-light)";

    public static async Task<NginxBalancer> StartAsync(IReadOnlyList<int> upstreams)
    {
        for (int attempt = 1; ; attempt++)
        {
            var nginx = new NginxBalancer(upstreams, LoopbackPort.Free());
            try
            {
                await nginx.Process.StartAsync();
                return nginx;
            }
            catch (ServerExitedException) when (attempt < 3)
            {
                nginx.Dispose(); // its port was taken in between
            }
            catch
            {
                nginx.Dispose();
                throw;
            }
        }
    }

    public void Dispose()
    {
        Process.Dispose();
        _prefix.Dispose();
    }

    private ProcessStartInfo CreateStartInfo()
    {
        string prefix = _prefix.Path;
        string servers = string.Concat(_upstreams.Select(p => string.Create(CultureInfo.InvariantCulture, $"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n")));
        // As root the workers would switch to "nobody", who cannot use the private temp directories.
        string user = Environment.UserName == "root" ? "user root;\n" : string.Empty;
        File.WriteAllText(Path.Combine(prefix, "nginx.conf"), $$"""
            {{user}}worker_processes 1;
            daemon off;
            pid {{prefix}}/nginx.pid;
            error_log {{prefix}}/error.log warn;
            events { worker_connections 512; }
            http {
                access_log {{prefix}}/access.log;
                client_body_temp_path {{prefix}}/client_body;
                proxy_temp_path {{prefix}}/proxy;
                fastcgi_temp_path {{prefix}}/fastcgi;
                uwsgi_temp_path {{prefix}}/uwsgi;
                scgi_temp_path {{prefix}}/scgi;
                client_max_body_size 0;
                upstream wharfd {
            {{servers}}        keepalive 16;
                }
                server {
                    listen 127.0.0.1:{{Port}};
                    location / {
                        proxy_pass http://wharfd;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_set_header Host $http_host;
                        proxy_request_buffering off;
                        proxy_buffering off;
                        proxy_read_timeout 300s;
                        proxy_send_timeout 300s;
                        proxy_next_upstream error timeout http_502 http_503 non_idempotent;
                    }
                }
            }
            """);
        var startInfo = new ProcessStartInfo(Program);
        foreach (string argument in new[] { "-p", prefix, "-c", Path.Combine(prefix, "nginx.conf"), "-e", Path.Combine(prefix, "error.log") })
        {
            startInfo.ArgumentList.Add(argument);
        }

        return startInfo;
    }
}
