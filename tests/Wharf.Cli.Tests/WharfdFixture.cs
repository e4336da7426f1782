using System.Diagnostics;

namespace Wharf.Cli.Tests;

/// <summary>
/// wharfd (built alongside the tests) on 127.0.0.1 with a fresh data directory, holding the
/// fixture image that podman pushed into it.
/// </summary>
public sealed class WharfdFixture : IDisposable
{
    private readonly Process _process;

    public WharfdFixture()
        : this(https: false)
    {
    }

    /// <param name="https">Serve HTTPS with a self-signed certificate for 127.0.0.1 (<see cref="CertificatePath"/>).</param>
    public WharfdFixture(bool https)
    {
        Root = Directory.CreateTempSubdirectory("wharf-wharfd-").FullName;
        Port = Tools.FreePort();
        Https = https;
        if (https)
        {
            Tools.EnsureTool("openssl", "openssl");
            Tools.Check("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", Path.Combine(Root, "key.pem"), "-out", CertificatePath, "-days", "2",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1");
        }

        var psi = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "wharfd.dll"), "--urls", $"{Scheme}://127.0.0.1:{Port}", "--data-dir", Path.Combine(Root, "data") })
        {
            psi.ArgumentList.Add(a);
        }

        if (https)
        {
            foreach (string a in new[] { "--tls-cert", CertificatePath, "--tls-key", Path.Combine(Root, "key.pem") })
            {
                psi.ArgumentList.Add(a);
            }
        }

        psi.Environment["WHARF_ADMIN_PASSWORD"] = AdminPassword;
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true }) { Timeout = TimeSpan.FromSeconds(2) };
        for (int i = 0; ; i++)
        {
            try
            {
                using var r = http.GetAsync(new Uri($"{Scheme}://127.0.0.1:{Port}/v2/")).GetAwaiter().GetResult();
                break;
            }
            catch (HttpRequestException) when (i < 300 && !_process.HasExited)
            {
                Thread.Sleep(100);
            }
        }
    }

    public string Root { get; }

    public bool Https { get; }

    private string Scheme => Https ? "https" : "http";

    public string CertificatePath => Path.Combine(Root, "cert.pem");

    public const string AdminPassword = "Harbor12345";

    /// <summary>Creates a project through the management API (Harbor's shape), as the admin.</summary>
    public async Task CreateProjectAsync(string name, bool isPublic = false)
    {
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"{Scheme}://{Host}/api/v2.0/projects"))
        {
            Content = new StringContent($"{{\"project_name\":\"{name}\",\"metadata\":{{\"public\":\"{(isPublic ? "true" : "false")}\"}}}}", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("admin:" + AdminPassword)));
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
    }

    public int Port { get; }

    public string Host => $"127.0.0.1:{Port}";

    public void Dispose()
    {
        try
        {
            _process.Kill();
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
