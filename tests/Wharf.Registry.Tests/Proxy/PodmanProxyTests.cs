using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Proxy;

/// <summary>Real podman pulling through a proxy-cache project whose upstream is a real docker-registry.</summary>
public sealed class PodmanProxyTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private DockerRegistry _upstream = null!;
    private WharfServer _server = null!;

    public async Task InitializeAsync()
    {
        Assert.True(Podman.IsInstalled, "podman is not installed");
        _upstream = await DockerRegistry.StartAsync("upstream");
        _server = await WharfServer.StartAsync();
        long registry = await ProxySetup.RegisterAsync(_server, "origin", _upstream.Url);
        await ProxySetup.CreateProxyProjectAsync(_server, "dockerhub-cache", registry, isPublic: true);
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _upstream?.Dispose();
    }

    [Fact]
    public async Task PodmanPull_ThroughProxy_ThenAgainWithUpstreamDown()
    {
        string origin = _upstream.Url.Authority;
        string host = _server.BaseAddress.Authority;
        // Anonymous pulls and pushes: an empty auth file of the test's own.
        using var scratch = new TempDirectory("wharf-proxy-podman-");
        string authFile = Path.Combine(scratch.Path, "auth.json");
        await File.WriteAllTextAsync(authFile, "{}");
        using (var seeder = new Podman())
        {
            await seeder.ImportTinyImageAsync("localhost/alpine:3.19", "hello through the proxy\n");
            var push = await seeder.RunAsync("push", "--authfile", authFile, "--tls-verify=false", "localhost/alpine:3.19", $"{origin}/library/alpine:3.19");
            Assert.True(push.ExitCode == 0, push.ToString());
        }

        using (var first = new Podman())
        {
            var pull = await first.RunAsync("pull", "--authfile", authFile, "--tls-verify=false", $"{host}/dockerhub-cache/library/alpine:3.19");
            output.WriteLine(pull.ToString());
            Assert.True(pull.ExitCode == 0, pull.ToString());
        }

        await ProxySetup.WhenStoredAsync(_server);
        await _upstream.StopAsync();
        _server.Clock.Advance(TimeSpan.FromHours(1));

        using var second = new Podman();
        var again = await second.RunAsync("pull", "--authfile", authFile, "--tls-verify=false", $"{host}/dockerhub-cache/library/alpine:3.19");
        output.WriteLine(again.ToString());
        Assert.True(again.ExitCode == 0, again.ToString());
        var run = await second.RunAsync("image", "inspect", "--format", "{{.RepoTags}}", $"{host}/dockerhub-cache/library/alpine:3.19");
        Assert.True(run.ExitCode == 0, run.ToString());
    }
}
