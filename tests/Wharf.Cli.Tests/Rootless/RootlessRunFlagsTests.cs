using System.Diagnostics;
using Wharf.Cli.Tests.Containers;

namespace Wharf.Cli.Tests.Rootless;

/// <summary>run's -p and cgroup limits as an unprivileged user: slirp4netns forwards the port; limits follow podman's rootless rule.</summary>
[Collection("containers")]
public sealed class RootlessRunFlagsTests(ContainerFixture fixture)
{
    [Fact]
    public async Task Run_PublishAsUnprivilegedUser_HostReachesTheContainersServer()
    {
        using var user = new RootlessUser.Session(RootlessUser.WithRanges);
        user.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        int port = LoopbackPort.Free();

        user.Check("run", "-d", "--name", "web", "-p", $"127.0.0.1:{port}:8080", fixture.Image, "busybox", "httpd", "-f", "-p", "8080", "-h", "/etc");

        Assert.Equal($"8080/tcp -> 127.0.0.1:{port}\n", user.Check("port", "web"));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        string? body = null;
        var clock = Stopwatch.StartNew();
        while (body is null)
        {
            try
            {
                body = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/motd"));
            }
            catch (HttpRequestException) when (clock.Elapsed < TimeSpan.FromSeconds(20))
            {
                await Task.Delay(200);
            }
        }

        Assert.Equal("from the image\n", body);
        user.Check("rm", "-f", "web");
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/motd")));
    }

    [Fact]
    public void Run_MemoryAsUnprivilegedUser_AsPodmanRootless()
    {
        using var user = new RootlessUser.Session(RootlessUser.WithRanges);
        user.Check("pull", "-q", "--tls-verify=false", fixture.Image);

        var (code, stdout, stderr) = user.Run("run", "--rm", "-m", "64m", fixture.Image, "sh", "-c", "cat /sys/fs/cgroup/memory.max 2>/dev/null || echo unlimited");

        Assert.Equal(0, code);
        if (!File.Exists("/sys/fs/cgroup/cgroup.controllers"))
        {
            // podman 4.3's own line on a cgroup v1 host, and no limit.
            Assert.Equal("Resource limits are not supported and ignored on cgroups V1 rootless systems\n", stderr);
            Assert.Equal("unlimited\n", stdout);
        }
        else
        {
            Assert.True(stdout == "67108864\n" || stderr.Contains("is not delegated to this user", StringComparison.Ordinal), $"stdout {stdout}, stderr {stderr}");
        }
    }
}
