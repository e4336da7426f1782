using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Wharf.Registry.Identity;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Server;

/// <summary>
/// The wharfd program itself, run as a real process from the test output: its command line, its
/// one-line errors before serving, where a relative data directory lands, and what it logs.
/// Every process runs in a private working directory, so a wrong start leaves nothing elsewhere.
/// </summary>
public sealed class WharfdProgramTests : IDisposable
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(90);

    private readonly TempDirectory _cwd = new("wharfd-program");

    public void Dispose() => _cwd.Dispose();

    [Fact]
    public async Task Help_PrintsUsage_ExitsZeroWithoutServing()
    {
        var (code, stdout, stderr) = await RunAsync("--help");

        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        Assert.Contains("Usage:", stdout, StringComparison.Ordinal);
        foreach (string subcommand in new[] { "serve", "gc", "fsck" })
        {
            Assert.Contains(subcommand, stdout, StringComparison.Ordinal);
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(_cwd.Path)); // no wharf-data, no admin account
    }

    [Fact]
    public async Task ServeHelp_ListsTodaysFlags()
    {
        var (code, stdout, _) = await RunAsync("serve", "--help");

        Assert.Equal(0, code);
        foreach (string flag in new[] { "--data-dir", "--urls", "--tls-cert", "--tls-key", "--access-log" })
        {
            Assert.Contains(flag, stdout, StringComparison.Ordinal);
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(_cwd.Path));
    }

    [Fact]
    public async Task Version_PrintsTheVersion_ExitsZero()
    {
        var (code, stdout, stderr) = await RunAsync("--version");

        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        Assert.Matches(@"^\d+\.\d+\.\d+", stdout.Trim());
        Assert.Empty(Directory.EnumerateFileSystemEntries(_cwd.Path));
    }

    [Theory]
    [InlineData("--bogus")]
    [InlineData("--data-dri", "x")]
    [InlineData("serve", "--bogus=1")]
    [InlineData("gc", "--repair")]
    [InlineData("fsck", "--dry-run")]
    [InlineData("--tls-cert", "cert.pem")]
    public async Task UnknownOrIncompleteFlags_OneErrorLine_ExitTwo(params string[] args)
    {
        var (code, stdout, stderr) = await RunAsync(args);

        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("Error: ", SingleLine(stderr), StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_cwd.Path));
    }

    [Theory]
    [InlineData("gc", "--dry-run")]
    [InlineData("fsck", "--repair")]
    public async Task MaintenanceSubcommands_HelpNamesTheirFlags(string subcommand, string flag)
    {
        var (code, stdout, _) = await RunAsync(subcommand, "--help");

        Assert.Equal(0, code);
        Assert.Contains($"wharfd {subcommand} [options]", stdout, StringComparison.Ordinal);
        Assert.Contains(flag, stdout, StringComparison.Ordinal);
        Assert.Contains("--data-dir", stdout, StringComparison.Ordinal);
        Assert.Contains("--database", stdout, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_cwd.Path));
    }

    [Theory]
    [InlineData("gc")]
    [InlineData("fsck")]
    public async Task MaintenanceSubcommands_DatabaseThatIsNotAPostgreSqlUrl_RefusedExitTwoNothingCreated(string subcommand)
    {
        var (code, stdout, _) = await RunAsync(subcommand, "--database", "mysql://db/x", "--data-dir", "data");

        Assert.Equal(2, code);
        Assert.StartsWith("Error: --database: ", SingleLine(stdout), StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_cwd.Path));
    }

    [Fact]
    public async Task PortInUse_OneErrorLineNamingTheAddress_NonZeroExit()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        string address = $"http://127.0.0.1:{((IPEndPoint)taken.LocalEndpoint).Port}";

        var (code, _, stderr) = await RunAsync("--urls", address, "--data-dir", "data");

        Assert.NotEqual(0, code);
        string line = SingleLine(stderr);
        Assert.StartsWith("Error: ", line, StringComparison.Ordinal);
        Assert.Contains(address, line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_cwd.Path, "data"))); // no admin account made for a server that never served
    }

    [Fact]
    public async Task DataDirectoryUnderAFile_OneErrorLineNamingThePath()
    {
        File.WriteAllText(Path.Combine(_cwd.Path, "occupied"), "a file, not a directory");
        string wanted = Path.Combine(_cwd.Path, "occupied", "data");

        var (code, _, stderr) = await RunAsync("--urls", $"http://127.0.0.1:{LoopbackPort.Free()}", "--data-dir", "occupied/data");

        Assert.Equal(1, code);
        string line = SingleLine(stderr);
        Assert.StartsWith($"Error: cannot create the data directory {wanted}: ", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DataDirectoryIsAFile_OneErrorLineNamingThePath()
    {
        string file = Path.Combine(_cwd.Path, "occupied");
        File.WriteAllText(file, "a file, not a directory");

        var (code, _, stderr) = await RunAsync("--urls", $"http://127.0.0.1:{LoopbackPort.Free()}", "--data-dir", file);

        Assert.Equal(1, code);
        Assert.Equal($"Error: the data directory {file} is a file", SingleLine(stderr));
    }

    [Fact]
    public async Task MissingTlsCertificate_OneErrorLine_NoDataDirectoryCreated()
    {
        string key = Path.Combine(_cwd.Path, "key.pem");
        File.WriteAllText(key, "not used");

        var (code, _, stderr) = await RunAsync("--urls", $"https://127.0.0.1:{LoopbackPort.Free()}", "--data-dir", "data", "--tls-cert", "missing.pem", "--tls-key", key);

        Assert.Equal(1, code);
        Assert.Equal($"Error: the TLS certificate {Path.Combine(_cwd.Path, "missing.pem")} does not exist", SingleLine(stderr));
        Assert.False(Directory.Exists(Path.Combine(_cwd.Path, "data")));
    }

    [Fact]
    public async Task CorruptTlsCertificate_OneErrorLineNamingIt()
    {
        string cert = Path.Combine(_cwd.Path, "cert.pem");
        string key = Path.Combine(_cwd.Path, "key.pem");
        File.WriteAllText(cert, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
        File.WriteAllText(key, "not a key");

        var (code, _, stderr) = await RunAsync("--urls", $"https://127.0.0.1:{LoopbackPort.Free()}", "--data-dir", "data", "--tls-cert", cert, "--tls-key", key);

        Assert.Equal(1, code);
        Assert.StartsWith($"Error: cannot load the TLS certificate {cert} with the key {key}: ", SingleLine(stderr), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_cwd.Path, "data")));
    }

    [Fact]
    public async Task DefaultStart_NoPerRequestLines_AdminPasswordStillPrinted()
    {
        // No admin password given: the first start must print the generated one, however quiet.
        using var server = Serve(accessLogFlag: false, withAdminPassword: false);
        await server.Process.StartAsync();
        // Printed before the server listens; the output reader may still be behind, briefly.
        var printed = System.Text.RegularExpressions.Match.Empty;
        for (int i = 0; i < 300 && !printed.Success; i++)
        {
            printed = System.Text.RegularExpressions.Regex.Match(server.Process.Logs, "wharfd: created the admin account; its password is: (\\S+)");
            if (!printed.Success)
            {
                await Task.Delay(100);
            }
        }

        Assert.True(printed.Success, server.Process.Logs);
        await SendRequestsAsync(server.Port, printed.Groups[1].Value);
        Assert.Equal(0, await server.Process.StopAsync(RunTimeout));

        string logs = server.Process.Logs;
        Assert.Contains("Application is shutting down", logs, StringComparison.Ordinal); // the log is complete
        Assert.DoesNotContain("/v2/_catalog", logs, StringComparison.Ordinal);
        Assert.DoesNotContain("/v2/no/such/manifests", logs, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AccessLog_FlagOrVariable_OneLinePerRequest(bool accessLogFlag)
    {
        using var server = Serve(accessLogFlag, withAdminPassword: true, accessLogVariable: !accessLogFlag);
        await server.Process.StartAsync();
        int mark = server.Process.LogMark;
        await SendRequestsAsync(server.Port, WharfdProcess.AdminPassword);
        Assert.Equal(0, await server.Process.StopAsync(RunTimeout));

        var lines = server.Process.LogsSince(mark).Split('\n');
        Assert.Single(lines, l => l.Contains("\"GET /v2/_catalog HTTP/1.1\" 401 ", StringComparison.Ordinal));
        string manifest = Assert.Single(lines, l => l.Contains("\"GET /v2/no/such/manifests/latest HTTP/1.1\" ", StringComparison.Ordinal));
        // client - user [time] "request" status bytes duration
        Assert.Matches(@"127\.0\.0\.1 - admin \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] ""GET /v2/no/such/manifests/latest HTTP/1\.1"" 404 [1-9]\d* \d+\.\dms$", manifest);
    }

    [Fact]
    public async Task AccessLogAndMetrics_BlobPulls_CountTheBytesTheBodySent()
    {
        // The blob body goes straight from the file into the connection's pipe; the access log's
        // counting must neither lose those bytes nor put a copying stream in their way.
        using var server = Serve(accessLogFlag: true, withAdminPassword: true, accessLogVariable: false, "--Registry:OpenRegistry=true", "--Metrics:Enabled=true");
        await server.Process.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.Port}/") };
        byte[] content = System.Security.Cryptography.RandomNumberGenerator.GetBytes(3_000_000);
        var digest = await RegistryPush.PushBlobAsync(client, "lab/logged", content);
        string path = $"v2/lab/logged/blobs/{digest}";
        double before = await BlobBytesSentAsync(client);
        int mark = server.Process.LogMark;

        Assert.Equal(content, await client.GetByteArrayAsync(new Uri(path, UriKind.Relative)));
        using (var ranged = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative)))
        {
            ranged.Headers.TryAddWithoutValidation("Range", "bytes=100-199");
            using var resp = await client.SendAsync(ranged);
            Assert.Equal(HttpStatusCode.PartialContent, resp.StatusCode);
            Assert.Equal(content[100..200], await resp.Content.ReadAsByteArrayAsync());
        }

        using (var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, new Uri(path, UriKind.Relative))))
        {
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        }

        Assert.Equal(3_000_100, await BlobBytesSentAsync(client) - before);
        Assert.Equal(0, await server.Process.StopAsync(RunTimeout));
        var lines = server.Process.LogsSince(mark).Split('\n');
        Assert.Single(lines, l => l.Contains($"\"GET /{path} HTTP/1.1\" 200 3000000 ", StringComparison.Ordinal));
        Assert.Single(lines, l => l.Contains($"\"GET /{path} HTTP/1.1\" 206 100 ", StringComparison.Ordinal));
        Assert.Single(lines, l => l.Contains($"\"HEAD /{path} HTTP/1.1\" 200 0 ", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("--Registry:OpenRegistry=true")]
    [InlineData("--Registry:OpenRegistry", "true")]
    public async Task ConfigurationArguments_WithASection_ReachTheHost(params string[] setting)
    {
        int port = LoopbackPort.Free();
        using var server = new ServerProcess("wharfd", () =>
        {
            var start = WharfdProcess.CreateStartInfo($"http://127.0.0.1:{port}", Path.Combine(_cwd.Path, "data"));
            start.WorkingDirectory = _cwd.Path;
            foreach (string a in setting)
            {
                start.ArgumentList.Add(a);
            }

            return start;
        }, new Uri($"http://127.0.0.1:{port}/v2/"));
        await server.StartAsync();

        // Open: an anonymous client may list, which a registry with accounts refuses with 401.
        using var anonymous = new HttpClient();
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(new Uri($"http://127.0.0.1:{port}/v2/_catalog"))).StatusCode);
    }

    [Fact]
    public async Task RelativeDataDirectory_ThroughDotnetRun_LandsInTheCallersDirectory()
    {
        // The README's first command, from another directory, with the build the tests use.
        string project = Path.Combine(RepositoryRoot(), "src", "Wharf.Server");
        int port = LoopbackPort.Free();
        using var server = new ServerProcess("wharfd (dotnet run)", () =>
        {
            var start = new ProcessStartInfo(DotnetHost()) { WorkingDirectory = _cwd.Path };
            foreach (string a in new[] { "run", "--no-build", "-c", BuildConfiguration(), "--project", project, "--", "--data-dir", "./wharf-data", "--urls", $"http://127.0.0.1:{port}" })
            {
                start.ArgumentList.Add(a);
            }

            start.Environment[AdminBootstrap.AdminPasswordVariable] = WharfdProcess.AdminPassword;
            return start;
        }, new Uri($"http://127.0.0.1:{port}/v2/"));
        await server.StartAsync();

        string expected = Path.Combine(_cwd.Path, "wharf-data");
        Assert.True(File.Exists(Path.Combine(expected, "registry.db")), server.Logs);
        Assert.Contains($"wharfd: data directory {expected}", server.Logs, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(project, "wharf-data")));
    }

    private static async Task SendRequestsAsync(int port, string adminPassword)
    {
        using var anonymous = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(new Uri("v2/_catalog", UriKind.Relative))).StatusCode);
        using var admin = WharfEndpoint.Client(new Uri($"http://127.0.0.1:{port}/"), "admin", adminPassword);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync(new Uri("v2/no/such/manifests/latest", UriKind.Relative))).StatusCode);
    }

    /// <summary>The registry's counter of blob body bytes on /metrics (absent until the first pull: 0).</summary>
    private static async Task<double> BlobBytesSentAsync(HttpClient client)
    {
        string text = await client.GetStringAsync(new Uri("metrics", UriKind.Relative));
        string? line = text.Split('\n').SingleOrDefault(l => l.StartsWith("wharf_registry_blob_bytes_sent_total ", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private sealed record Served(ServerProcess Process, int Port) : IDisposable
    {
        public void Dispose() => Process.Dispose();
    }

    private Served Serve(bool accessLogFlag, bool withAdminPassword, bool accessLogVariable = false, params string[] arguments)
    {
        int port = LoopbackPort.Free();
        string dataDirectory = Path.Combine(_cwd.Path, "data");
        var process = new ServerProcess("wharfd", () =>
        {
            var start = WharfdProcess.CreateStartInfo($"http://127.0.0.1:{port}", dataDirectory);
            start.WorkingDirectory = _cwd.Path;
            // wharfd's own defaults, not the quieter ones the other tests ask for.
            start.Environment.Remove("Logging__LogLevel__Microsoft.AspNetCore");
            start.Environment.Remove("WHARF_ACCESS_LOG");
            if (!withAdminPassword)
            {
                start.Environment.Remove(AdminBootstrap.AdminPasswordVariable);
            }

            if (accessLogFlag)
            {
                start.ArgumentList.Add("--access-log");
            }

            if (accessLogVariable)
            {
                start.Environment["WHARF_ACCESS_LOG"] = "1";
            }

            foreach (string a in arguments)
            {
                start.ArgumentList.Add(a);
            }

            return start;
        }, new Uri($"http://127.0.0.1:{port}/v2/"));
        return new Served(process, port);
    }

    private async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var start = WharfdProcess.CreateStartInfo("http://127.0.0.1:1", _cwd.Path);
        start.ArgumentList.Clear();
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "wharfd.dll"));
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        start.WorkingDirectory = _cwd.Path;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(RunTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    private static string SingleLine(string text) => Assert.Single(text.Split('\n', StringSplitOptions.RemoveEmptyEntries));

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Wharf.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Wharf.slnx above {AppContext.BaseDirectory}");
    }

    // bin/<configuration>/<framework>/: the configuration this test (and the wharfd next to it) was built in.
    private static string BuildConfiguration() => new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;

    private static string DotnetHost()
    {
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return !string.IsNullOrEmpty(host) && File.Exists(host) ? host : "dotnet";
    }
}
