using System.Text.Json.Nodes;
using Wharf.Engine.Containers;

namespace Wharf.Engine.Tests.Containers;

public sealed class ResourceLimitsTests
{
    private static JsonObject Spec(ResourceLimits limits, bool cgroupLimits) => RuntimeSpec.Build(new RuntimeSpec.Input
    {
        Container = new ContainerRecord
        {
            Id = new string('a', 64),
            Name = "n",
            ImageName = "i",
            ImageId = new string('b', 64),
            Command = ["sh"],
            Resources = limits,
        },
        Rootfs = "/r",
        UserData = "/u",
        Args = ["sh"],
        Env = [],
        Cwd = "/",
        Uid = 0,
        Gid = 0,
        Hostname = "h",
        CgroupLimits = cgroupLimits,
    });

    [Theory]
    [InlineData("512", 512)]
    [InlineData("64m", 64L << 20)]
    [InlineData("64MB", 64L << 20)]
    [InlineData("1.5g", 3L << 29)]
    [InlineData("2k", 2048)]
    [InlineData("1 GiB", 1L << 30)]
    public void Parse_Memory_AsGoUnitsRamInBytes(string value, long bytes)
    {
        var limits = ResourceLimits.Parse(new ResourceRequest { Memory = value });

        Assert.Equal(bytes, limits.Memory);
        Assert.Equal(2 * bytes, limits.MemorySwap);
    }

    [Fact]
    public void Parse_Cpus_QuotaOverPodmansPeriod()
    {
        var limits = ResourceLimits.Parse(new ResourceRequest { Cpus = "1.5", CpuShares = "512", PidsLimit = "-1" });

        Assert.Equal(150_000, limits.CpuQuota);
        Assert.Equal(100_000UL, limits.CpuPeriod);
        Assert.Equal(1_500_000_000, limits.NanoCpus);
        Assert.Equal(512UL, limits.CpuShares);
        Assert.Equal(-1, limits.PidsLimit);
    }

    [Theory]
    [InlineData("lots", null, null, "invalid value for memory: invalid size: 'lots'")]
    [InlineData("10m", "5m", null, "minimum memoryswap limit should be larger than memory limit, see usage")]
    [InlineData(null, null, "x", "invalid argument \"x\" for \"--pids-limit\" flag: parsing \"x\": invalid syntax")]
    public void Parse_BadValue_PodmansMessage(string? memory, string? swap, string? pids, string message)
    {
        var e = Assert.Throws<WharfException>(() => ResourceLimits.Parse(new ResourceRequest { Memory = memory, MemorySwap = swap, PidsLimit = pids }));

        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Build_Limits_InLinuxResourcesBesideTheDeviceRules()
    {
        var limits = ResourceLimits.Parse(new ResourceRequest { Memory = "64m", Cpus = "2", PidsLimit = "50", CpusetCpus = "0" });

        var resources = Spec(limits, cgroupLimits: true)["linux"]!["resources"]!;

        Assert.Equal(64L << 20, resources["memory"]!["limit"]!.GetValue<long>());
        Assert.Equal(200_000, resources["cpu"]!["quota"]!.GetValue<long>());
        Assert.Equal("0", resources["cpu"]!["cpus"]!.GetValue<string>());
        Assert.Equal(50, resources["pids"]!["limit"]!.GetValue<long>());
        Assert.NotNull(resources["devices"]);
    }

    [Fact]
    public void Build_LimitsWhereTheyCannotApply_LeftOut()
    {
        var limits = ResourceLimits.Parse(new ResourceRequest { Memory = "64m" });

        var resources = Spec(limits, cgroupLimits: false)["linux"]!["resources"]!.AsObject();

        Assert.Equal(["devices"], resources.Select(kv => kv.Key));
    }

    [Fact]
    public void Build_Always_ContainersCgroupReadOnlyAtSysFsCgroup()
    {
        var cgroup = Spec(new ResourceLimits(), cgroupLimits: true)["mounts"]!.AsArray().Single(m => (string?)m!["destination"] == "/sys/fs/cgroup")!;

        Assert.Equal("cgroup", (string?)cgroup["type"]);
        Assert.Contains("ro", cgroup["options"]!.AsArray().Select(o => (string?)o));
    }
}
