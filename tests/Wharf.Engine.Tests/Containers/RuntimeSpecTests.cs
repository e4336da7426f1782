using System.Text.Json.Nodes;
using Wharf.Engine.Containers;

namespace Wharf.Engine.Tests.Containers;

public sealed class RuntimeSpecTests
{
    private static ulong HostHardNofile()
    {
        string text = File.ReadAllLines("/proc/self/limits").First(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        string hard = text[26..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        return hard == "unlimited" ? ulong.MaxValue : ulong.Parse(hard, System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void Rlimits_AboveHostHardLimit_ClampedToIt()
    {
        var limits = RuntimeSpec.Rlimits(["nofile=999999999:999999999", "nproc=1024:2048"]);
        var nofile = limits.First(l => l!["type"]!.GetValue<string>() == "RLIMIT_NOFILE")!;
        Assert.Equal(Math.Min(999999999UL, HostHardNofile()), nofile["hard"]!.GetValue<ulong>());
        var nproc = limits.First(l => l!["type"]!.GetValue<string>() == "RLIMIT_NPROC")!;
        Assert.True(nproc["soft"]!.GetValue<ulong>() <= 1024);
    }

    [Fact]
    public void Rlimits_Default_HostHardLimit()
    {
        var nofile = RuntimeSpec.Rlimits([]).First(l => l!["type"]!.GetValue<string>() == "RLIMIT_NOFILE")!;
        Assert.Equal(HostHardNofile(), nofile["hard"]!.GetValue<ulong>());
    }

    [Theory]
    [InlineData("nofile")]
    [InlineData("nofile=abc")]
    [InlineData("bogus=1:2")]
    [InlineData("nofile=10:5")]
    public void ParseUlimit_Invalid_Fails(string value)
    {
        Assert.Throws<WharfException>(() => RuntimeSpec.ParseUlimit(value));
    }

    [Fact]
    public void ParseUlimit_MinusOne_IsUnlimited()
    {
        Assert.Equal(("RLIMIT_CORE", ulong.MaxValue, ulong.MaxValue), RuntimeSpec.ParseUlimit("core=-1"));
    }

    [Fact]
    public void Build_HostNetwork_NoNetworkNamespaceAndPodmansCapabilities()
    {
        var c = new ContainerRecord
        {
            Id = new string('a', 64),
            Name = "n",
            ImageName = "i",
            ImageId = new string('b', 64),
            Command = ["sh"],
            ManagedMounts = ["/etc/hosts"],
            Mounts = [new MountRecord("/srv", "/data", true)],
        };
        var spec = RuntimeSpec.Build(new RuntimeSpec.Input
        {
            Container = c,
            Rootfs = "/r",
            UserData = "/u",
            Args = ["sh"],
            Env = ["A=1"],
            Cwd = "/",
            Uid = 1000,
            Gid = 1000,
            Hostname = "h",
        });
        var ns = spec["linux"]!["namespaces"]!.AsArray().Select(n => n!["type"]!.GetValue<string>()).ToList();
        Assert.Equal(["pid", "ipc", "uts", "mount"], ns);
        Assert.Equal(11, spec["process"]!["capabilities"]!["bounding"]!.AsArray().Count);
        var mounts = spec["mounts"]!.AsArray().Select(m => m!["destination"]!.GetValue<string>()).ToList();
        Assert.Contains("/etc/hosts", mounts);
        var data = spec["mounts"]!.AsArray().First(m => m!["destination"]!.GetValue<string>() == "/data")!;
        Assert.Equal("[\"ro\",\"rprivate\",\"rbind\"]", data["options"]!.ToJsonString());

        var isolated = RuntimeSpec.Build(new RuntimeSpec.Input
        {
            Container = c with { Settings = new ContainerSettings { Network = "none" } },
            Rootfs = "/r",
            UserData = "/u",
            Args = ["sh"],
            Env = [],
            Cwd = "/",
            Uid = 0,
            Gid = 0,
            Hostname = "h",
        });
        Assert.Contains(isolated["linux"]!["namespaces"]!.AsArray(), n => n!["type"]!.GetValue<string>() == "network");
        _ = JsonNode.Parse(spec.ToJsonString());
    }
}
