namespace Wharf.Cli.Tests.Images;

[Collection("registry")]
public sealed class WharfdTests(RegistryFixture registry)
{
    [Fact]
    public async Task Wharfd_SecondOnTheSameDataDirectory_RefusesNamingTheHolder()
    {
        using var first = WharfdProcess.Start();
        int port = LoopbackPort.Free();
        var (code, _, stderr) = Tools.Run("dotnet", Path.Combine(AppContext.BaseDirectory, "wharfd.dll"), "--urls", $"http://127.0.0.1:{port}", "--data-dir", first.DataDirectory);

        Assert.Equal(1, code);
        string line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"Error: the data directory {first.DataDirectory} is in use by another wharfd (PID {first.Process.ProcessId}); one wharfd serves one data directory in the embedded mode", line);

        // The first one still serves, and the lock dies with its holder: a new wharfd starts after a kill.
        using var http = new HttpClient();
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await http.GetAsync(new Uri($"http://{first.Host}/v2/"))).StatusCode);
        first.Process.Kill();
        using var second = WharfdProcess.Start(new WharfdOptions { DataDirectory = first.DataDirectory });
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await http.GetAsync(new Uri($"http://{second.Host}/v2/"))).StatusCode);
    }

    [Fact]
    public async Task Start_PortInUse_FailsAndLeavesNoProcess()
    {
        using var data = new TempDirectory("wharf-leak");
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        int port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;

        var e = await Assert.ThrowsAsync<ServerExitedException>(() => WharfdProcess.StartAsync(new WharfdOptions { Port = port, DataDirectory = data.Path }));

        Assert.Contains($"127.0.0.1:{port}: address already in use", e.Message, StringComparison.Ordinal);
        Assert.Empty(Daemons.WithCommandLine(data.Path));
    }

    [Fact]
    public async Task Start_CancelledWhileWaitingForTheServer_KillsIt()
    {
        // wharfd runs and answers on its port, but the probe asks another one where nothing listens,
        // so the start is still waiting when the test gives up on it.
        using var data = new TempDirectory("wharf-leak");
        var start = WharfdProcess.CreateStartInfo($"http://127.0.0.1:{LoopbackPort.Free()}", data.Path);
        using var server = new ServerProcess("wharfd", () => start, new Uri($"http://127.0.0.1:{LoopbackPort.Free()}/v2/"));
        using var cancel = new CancellationTokenSource();
        var starting = server.StartAsync(cancel.Token);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (server.ProcessId is null && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(50);
        }

        int pid = Assert.IsType<int>(server.ProcessId);
        Assert.Equal([pid], Daemons.WithCommandLine(data.Path));

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => starting);
        Assert.Null(server.ProcessId);
        Assert.Empty(Daemons.WithCommandLine(data.Path));
    }

    [Fact]
    public async Task PushPullMount_AgainstWharfd_PodmanSeesTheSameImage()
    {
        // Metrics are off by default; Harbor's switch turns them on (an environment variable here, as a deployment might).
        using var fixture = WharfdProcess.Start(new WharfdOptions { Environment = new Dictionary<string, string> { ["Metrics__Enabled"] = "true" } });
        await fixture.CreateProjectAsync("lab");
        using var wharf = new WharfRunner();
        wharf.Run("pull", "-q", "--tls-verify=false", $"{registry.Open}/lab/fixture:1");
        var anonymous = wharf.Run("push", "--tls-verify=false", "fixture:1", $"{fixture.Host}/lab/app:1");
        Assert.Equal(125, anonymous.ExitCode);

        // Bearer token auth: wharfd's token service, answered by wharf's auth handler.
        var login = wharf.Run("login", "--tls-verify=false", "-u", "admin", "-p", WharfdProcess.AdminPassword, fixture.Host);
        Assert.Equal("Login Succeeded!\n", login.Stdout);
        string podmanAuth = Path.Combine(wharf.Dir, "podman-auth.json");
        RegistryFixture.PodmanAt(Path.Combine(wharf.Dir, "podman"), "login", "--tls-verify=false", "--authfile", podmanAuth, "-u", "admin", "-p", WharfdProcess.AdminPassword, fixture.Host);
        Assert.Equal(File.ReadAllBytes(podmanAuth), File.ReadAllBytes(wharf.AuthJson));
        Assert.Equal(125, wharf.Run("login", "--tls-verify=false", "-u", "admin", "-p", "wrong", $"{fixture.Host}/x").ExitCode);

        var push = wharf.Run("push", "--tls-verify=false", "fixture:1", $"{fixture.Host}/lab/app:1");
        Assert.Equal(0, push.ExitCode);
        // A second repository of the same project: the blobs come by cross-repository mount.
        var second = wharf.Run("push", "--tls-verify=false", "fixture:1", $"{fixture.Host}/lab/copy:1");
        Assert.Equal(0, second.ExitCode);
        using (var http = new HttpClient())
        {
            string metrics = await http.GetStringAsync(new Uri($"http://{fixture.Host}/metrics"));
            var line = metrics.Split('\n').Single(l => l.StartsWith("wharf_registry_blobs_mounted_total ", StringComparison.Ordinal));
            Assert.Equal("2", line.Split(' ')[1]);
        }

        Assert.Equal(registry.ImageId, RegistryFixture.PodmanAt(Path.Combine(wharf.Dir, "podman"), "pull", "-q", "--tls-verify=false", "--authfile", podmanAuth, $"{fixture.Host}/lab/copy:1").Trim());
        Assert.Equal(0, wharf.Run("rmi", "-a").ExitCode);
        var pull = wharf.Run("pull", "--tls-verify=false", $"{fixture.Host}/lab/app:1");
        Assert.Equal(registry.ImageId + "\n", pull.Stdout);
        Assert.Contains($"{fixture.Host}/lab/app", wharf.Run("search", "--tls-verify=false", $"{fixture.Host}/app").Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Https_PrivateCaInCertsD_VerifiedWithoutTlsVerifyFalse()
    {
        using var fixture = WharfdProcess.Start(new WharfdOptions { Https = true });
        await fixture.CreateProjectAsync("lab");
        using var wharf = new WharfRunner();
        wharf.Run("pull", "-q", "--tls-verify=false", $"{registry.Open}/lab/fixture:1");

        var untrusted = wharf.Run("login", "-u", "admin", "-p", WharfdProcess.AdminPassword, fixture.Host);
        Assert.Equal(125, untrusted.ExitCode);
        Assert.Contains("certificate", untrusted.Stderr, StringComparison.Ordinal);

        // --cert-dir, as podman takes it.
        string certDir = Path.Combine(wharf.Dir, "certs");
        Directory.CreateDirectory(certDir);
        File.Copy(fixture.CertificatePath, Path.Combine(certDir, "ca.crt"));
        Assert.Equal("Login Succeeded!\n", wharf.Run("login", "--cert-dir", certDir, "-u", "admin", "-p", WharfdProcess.AdminPassword, fixture.Host).Stdout);
        Assert.Equal(0, wharf.Run("push", "--cert-dir", certDir, "fixture:1", $"{fixture.Host}/lab/secure:1").ExitCode);

        // certs.d/HOST:PORT under the configuration directory, found without a flag.
        string hostDir = Path.Combine(wharf.Dir, "etc", "certs.d", fixture.Host);
        Directory.CreateDirectory(hostDir);
        File.Copy(fixture.CertificatePath, Path.Combine(hostDir, "ca.crt"));
        Assert.Equal(0, wharf.Run("rmi", "-a").ExitCode);
        var pull = wharf.Run("pull", "-q", $"{fixture.Host}/lab/secure:1");
        Assert.Equal(registry.ImageId + "\n", pull.Stdout);
    }
}
