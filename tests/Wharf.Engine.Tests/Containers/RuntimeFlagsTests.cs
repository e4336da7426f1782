using System.Text.Json.Nodes;
using Wharf.Engine.Containers;

namespace Wharf.Engine.Tests.Containers;

public sealed class RuntimeFlagsTests
{
    private static JsonObject Spec(RuntimeFlags flags) => RuntimeSpec.Build(new RuntimeSpec.Input
    {
        Container = new ContainerRecord
        {
            Id = new string('a', 64),
            Name = "n",
            ImageName = "i",
            ImageId = new string('b', 64),
            Command = ["sh"],
            ManagedMounts = ["/etc/hosts", "/run/.containerenv"],
            RuntimeFlags = flags,
        },
        Rootfs = "/r",
        UserData = "/u",
        Args = ["sh"],
        Env = [],
        Cwd = "/",
        Uid = 0,
        Gid = 0,
        Hostname = "h",
    });

    private static List<string> Destinations(JsonObject spec) =>
        [.. spec["mounts"]!.AsArray().Select(m => m!["destination"]!.GetValue<string>())];

    [Theory]
    [InlineData("", "", 11)]
    [InlineData("ALL", "", -1)]
    [InlineData("", "ALL", 0)]
    [InlineData("net_admin,CAP_SYS_ADMIN", "chown", 12)]
    [InlineData("sys_admin", "ALL", 1)]
    public void Capabilities_AddAndDrop_MergedAsPodman(string add, string drop, int expected)
    {
        var flags = new RuntimeFlags
        {
            CapAdd = [.. add.Split(',', StringSplitOptions.RemoveEmptyEntries)],
            CapDrop = [.. drop.Split(',', StringSplitOptions.RemoveEmptyEntries)],
        };

        var caps = flags.Capabilities();

        // ALL: every capability up to cap_last_cap that this process's bounding set still has.
        int all = int.Parse(File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim(), System.Globalization.CultureInfo.InvariantCulture) + 1;
        ulong bounding = ulong.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("CapBnd:", StringComparison.Ordinal))[7..].Trim(), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
        int allowed = Enumerable.Range(0, Math.Min(all, 41)).Count(bit => (bounding & (1UL << bit)) != 0);
        Assert.Equal(expected == -1 ? allowed : expected, caps.Count);
        Assert.Equal(caps.Count, caps.Distinct().Count());
    }

    [Fact]
    public void Apply_ReadOnly_TmpfsMountsBeforeTheFilesWharfBindsIntoRun()
    {
        var spec = Spec(new RuntimeFlags { ReadOnly = true, Tmpfs = ["/scratch:size=1m"] });

        Assert.True(spec["root"]!["readonly"]!.GetValue<bool>());
        var mounts = Destinations(spec);
        Assert.True(mounts.IndexOf("/run") < mounts.IndexOf("/run/.containerenv"), string.Join(' ', mounts));
        Assert.Contains("/tmp", mounts);
        Assert.Contains("/var/tmp", mounts);
        var scratch = spec["mounts"]!.AsArray().First(m => m!["destination"]!.GetValue<string>() == "/scratch")!;
        Assert.Equal("[\"size=1m\"]", scratch["options"]!.ToJsonString());
    }

    [Fact]
    public void Apply_Defaults_SpecUnchanged()
    {
        var spec = Spec(new RuntimeFlags());

        Assert.False(spec["root"]!["readonly"]!.GetValue<bool>());
        Assert.DoesNotContain("/tmp", Destinations(spec));
        Assert.Null(spec["process"]!["noNewPrivileges"]);
        Assert.Equal(["pid", "ipc", "uts", "mount"], spec["linux"]!["namespaces"]!.AsArray().Select(n => n!["type"]!.GetValue<string>()));
    }

    [Theory]
    [InlineData("512", 512)]
    [InlineData("64m", 64L << 20)]
    [InlineData("1G", 1L << 30)]
    public void Apply_ShmSize_ReplacesPodmansDefault(string size, long bytes)
    {
        var spec = Spec(new RuntimeFlags { ShmSize = size });

        var shm = spec["mounts"]!.AsArray().First(m => m!["destination"]!.GetValue<string>() == "/dev/shm")!;
        var sizes = shm["options"]!.AsArray().Select(o => o!.GetValue<string>()).Where(o => o.StartsWith("size=", StringComparison.Ordinal)).ToList();
        Assert.Equal([$"size={bytes}"], sizes);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5m")]
    [InlineData("5t")]
    [InlineData("")]
    public void Validate_BadShmSize_Fails(string size)
    {
        Assert.Throws<WharfException>(() => new RuntimeFlags { ShmSize = size }.Validate());
    }
}
