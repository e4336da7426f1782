using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Wharf.Cli.Tests.Containers;

/// <summary>--restart of a detached container: the monitor restarts it as podman's conmon has it restarted, until stop or kill.</summary>
[Collection("containers")]
public sealed class RunRestartTests(ContainerFixture fixture) : IDisposable
{
    private readonly WharfProcess _wharf = CreatePulled(fixture);

    private static WharfProcess CreatePulled(ContainerFixture fixture)
    {
        var w = new WharfProcess();
        w.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        return w;
    }

    public void Dispose()
    {
        _wharf.Run("rm", "-a", "-f");
        _wharf.Dispose();
    }

    private (int ExitCode, string Stdout, string Stderr) Podman(params string[] args)
    {
        string dir = Path.Combine(fixture.Root, "podman");
        return Tools.Run("podman", ["--root", Path.Combine(dir, "storage"), "--runroot", Path.Combine(dir, "run"), "--tmpdir", Path.Combine(dir, "tmp"), "--storage-driver", "vfs", "--runtime", "runc", .. args]);
    }

    [Fact]
    public void RunDetached_RestartOnFailureN_RestartedNTimesThenExited()
    {
        string id = _wharf.Check("run", "-d", "--restart", "on-failure:2", fixture.Image, "sh", "-c", "echo ran; exit 3").Trim();

        Assert.Equal("3\n", _wharf.Check("wait", id));
        Assert.Equal("ran\nran\nran\n", _wharf.Check("logs", id));
        Assert.Equal("2\n", _wharf.Check("container", "inspect", "--format", "{{.RestartCount}}", id));

        string podmanId = Podman("create", "--restart", "on-failure:2", "localhost/bb:1", "true").Stdout.Trim();
        try
        {
            var podman = JsonNode.Parse(Podman("container", "inspect", "--format", "{{json .HostConfig.RestartPolicy}}", podmanId).Stdout)!;
            var wharf = JsonNode.Parse(_wharf.Check("container", "inspect", "--format", "{{json .HostConfig.RestartPolicy}}", id))!;
            Assert.Equal(podman.ToJsonString(), wharf.ToJsonString());
        }
        finally
        {
            Podman("rm", "-f", podmanId);
        }
    }

    [Fact]
    public void RunDetached_RestartAlways_RestartsUntilStopped()
    {
        string id = _wharf.Check("run", "-d", "--restart", "always", fixture.Image, "sh", "-c", "echo ran; sleep 0.2").Trim();
        var clock = Stopwatch.StartNew();
        while (_wharf.Check("container", "inspect", "--format", "{{.RestartCount}}", id) is "0\n" && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            Thread.Sleep(100);
        }

        _wharf.Check("stop", "-t", "2", id);

        Assert.NotEqual("0\n", _wharf.Check("container", "inspect", "--format", "{{.RestartCount}}", id));
        Assert.Equal("exited\n", _wharf.Check("container", "inspect", "--format", "{{.State.Status}}", id));
        Thread.Sleep(1000);
        Assert.Equal("exited\n", _wharf.Check("container", "inspect", "--format", "{{.State.Status}}", id));
    }

    [Theory]
    [InlineData("--restart bogus")]
    [InlineData("--restart on-failure:x")]
    [InlineData("--rm --restart always")]
    public void Create_BadRestart_Exits125WithPodmansMessage(string flags)
    {
        var podman = Podman(["create", .. flags.Split(' '), "localhost/bb:1", "true"]);
        var wharf = _wharf.Run(["create", .. flags.Split(' '), fixture.Image, "true"]);

        Assert.Equal(125, podman.ExitCode);
        Assert.Equal(125, wharf.ExitCode);
        Assert.Equal(podman.Stderr, wharf.Stderr);
    }
}
