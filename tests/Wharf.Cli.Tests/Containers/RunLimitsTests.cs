using System.Text.Json.Nodes;

namespace Wharf.Cli.Tests.Containers;

/// <summary>
/// cgroup limits of run/create (--memory, --cpus, --cpu-shares, --pids-limit...) against real runc,
/// with real podman on the same image as the reference for what the container sees and inspect shows.
/// </summary>
[Collection("containers")]
public sealed class RunLimitsTests(ContainerFixture fixture) : IDisposable
{
    /// <summary>The container's own limits, from cgroup v2's files or v1's per-controller ones.</summary>
    private const string ReadLimits =
        "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
        + "cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us; "
        + "cat /sys/fs/cgroup/cpu.weight 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.shares; "
        + "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max";

    private static readonly string[] Limits = ["--memory", "64m", "--cpus", "1.5", "--cpu-shares", "512", "--pids-limit", "50"];

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

    private string PodmanRun(params string[] args) =>
        fixture.Podman(["run", "--rm", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", .. args]);

    [Fact]
    public void Run_MemoryCpusSharesPids_ContainerCgroupHasThemAsPodmansHas()
    {
        string wharf = _wharf.Check(["run", "--rm", .. Limits, fixture.Image, "sh", "-c", ReadLimits]);
        string podman = PodmanRun([.. Limits, "localhost/bb:1", "sh", "-c", ReadLimits]);

        Assert.Equal(podman, wharf);
        Assert.StartsWith("67108864\n", wharf, StringComparison.Ordinal);
        Assert.EndsWith("50\n", wharf, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_NoLimits_NoneInTheContainersCgroup()
    {
        string output = _wharf.Check("run", "--rm", fixture.Image, "sh", "-c", "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max");

        Assert.Equal("max\n", output);
    }

    [Fact]
    public void Run_HostNetworkWithPidsLimit_LimitApplies()
    {
        Assert.Equal("7\n", _wharf.Check("run", "--rm", "--network", "host", "--pids-limit", "7", fixture.Image, "sh", "-c", "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max"));
    }

    [Fact]
    public void Inspect_Limits_HostConfigFieldsAsPodmans()
    {
        string[] flags = [.. Limits, "--memory-reservation", "32m"];
        _wharf.Check(["create", "--name", "limited", .. flags, fixture.Image, "true"]);
        string podmanId = fixture.Podman(["create", .. flags, "localhost/bb:1", "true"]).Trim();
        try
        {
            var wharf = JsonNode.Parse(_wharf.Check("container", "inspect", "--format", "{{json .HostConfig}}", "limited"))!;
            var podman = JsonNode.Parse(fixture.Podman("container", "inspect", "--format", "{{json .HostConfig}}", podmanId))!;
            foreach (string field in new[] { "Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares", "CpuQuota", "CpuPeriod", "PidsLimit" })
            {
                Assert.True(wharf[field]!.ToJsonString() == podman[field]!.ToJsonString(), $"{field}: wharf {wharf[field]}, podman {podman[field]}");
            }
        }
        finally
        {
            fixture.Podman("rm", "-f", podmanId);
        }
    }

    [Theory]
    [InlineData("-m lots")]
    [InlineData("--memory 10m --memory-swap 5m")]
    [InlineData("--memory 1g --memory-reservation 2g")]
    [InlineData("--cpus 1 --cpu-quota 5000")]
    public void Create_BadLimit_Exits125WithPodmansMessageCreatesNothing(string flags)
    {
        string dir = Path.Combine(fixture.Root, "podman");
        var podman = Tools.Run("podman", ["--root", Path.Combine(dir, "storage"), "--runroot", Path.Combine(dir, "run"), "--tmpdir", Path.Combine(dir, "tmp"), "--storage-driver", "vfs", "--runtime", "runc", "create", .. flags.Split(' '), "localhost/bb:1", "true"]);

        var wharf = _wharf.Run(["create", .. flags.Split(' '), fixture.Image, "true"]);

        Assert.Equal(125, podman.ExitCode);
        Assert.Equal(125, wharf.ExitCode);
        Assert.Equal(podman.Stderr, wharf.Stderr);
        Assert.Equal(string.Empty, _wharf.Check("ps", "-a", "-q"));
    }
}
