using System.Text.Json.Nodes;

namespace Wharf.Cli.Tests.Containers;

/// <summary>run and create flags as podman reads them: bundled short flags, the last of a repeated flag, labels, replace, env-host.</summary>
[Collection("containers")]
public sealed class RunFlagsTests(ContainerFixture fixture) : IDisposable
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

    [Fact]
    public void Run_BundledShortFlags_ReadAsEachFlag()
    {
        Assert.Equal("hi\n", _wharf.Check("run", "--rm", "-iq", fixture.Image, "echo", "hi"));
    }

    [Fact]
    public void Create_RepeatedSingleValueFlag_LastOneWins()
    {
        _wharf.Check("create", "--name", "first", "--name", "second", "-w", "/tmp", "-w", "/etc", fixture.Image, "true");

        Assert.Equal("/etc\n", _wharf.Check("container", "inspect", "--format", "{{.Config.WorkingDir}}", "second"));
        Assert.Equal(125, _wharf.Run("container", "inspect", "first").ExitCode);
    }

    [Fact]
    public void Create_Label_RecordedAndShownByInspectAndPs()
    {
        _wharf.Check("create", "--name", "labelled", "--label", "tier=web", "-l", "bare", "--label", "tier=db", fixture.Image, "true");

        var labels = JsonNode.Parse(_wharf.Check("container", "inspect", "--format", "{{json .Config.Labels}}", "labelled"))!.AsObject();
        Assert.Equal("db", (string?)labels["tier"]);
        Assert.Equal(string.Empty, (string?)labels["bare"]);
        var ps = JsonNode.Parse(_wharf.Check("ps", "-a", "--format", "json"))!.AsArray();
        Assert.Equal("db", (string?)ps.Single()!["Labels"]!["tier"]);
    }

    [Fact]
    public void Create_ReplaceOnATakenName_RemovesTheOldContainer()
    {
        string old = _wharf.Check("create", "--name", "svc", fixture.Image, "true").Trim();
        var clash = _wharf.Run("create", "--name", "svc", fixture.Image, "true");
        Assert.Equal(125, clash.ExitCode);

        string replaced = _wharf.Check("create", "--replace", "--name", "svc", fixture.Image, "true").Trim();

        Assert.NotEqual(old, replaced);
        Assert.Equal(replaced + "\n", _wharf.Check("ps", "-a", "-q", "--no-trunc"));
    }

    [Fact]
    public void Run_EnvHost_PassesWharfsEnvironment()
    {
        _wharf.Env["WHARF_FLAG_PROBE"] = "from-host";

        Assert.Equal("from-host\n", _wharf.Check("run", "--rm", "--env-host", fixture.Image, "sh", "-c", "echo $WHARF_FLAG_PROBE"));
        Assert.Equal("\n", _wharf.Check("run", "--rm", fixture.Image, "sh", "-c", "echo $WHARF_FLAG_PROBE"));
    }

    [Fact]
    public void Run_CapDropAllCapAddOne_OnlyThatCapability()
    {
        // CAP_NET_ADMIN is bit 12; names are taken with or without CAP_, in any case.
        Assert.Equal("CapEff:\t0000000000001000\n", _wharf.Check("run", "--rm", "--cap-drop", "ALL", "--cap-add", "net_admin", fixture.Image, "busybox", "grep", "CapEff", "/proc/self/status"));
        Assert.Equal("CapEff:\t0000000000000000\n", _wharf.Check("run", "--rm", "--cap-drop=all", fixture.Image, "busybox", "grep", "CapEff", "/proc/self/status"));
    }

    [Theory]
    [InlineData("--cap-add=chown --cap-drop=CAP_CHOWN", "capability \"CAP_CHOWN\" cannot be dropped and added")]
    [InlineData("--cap-add=NOT_A_CAP", "unknown capability \"NOT_A_CAP\"")]
    [InlineData("--security-opt=seccomp=/etc/profile.json", "--security-opt seccomp=/etc/profile.json is not supported by wharf")]
    [InlineData("--tmpfs=relative", "invalid --tmpfs \"relative\"")]
    [InlineData("--shm-size=lots", "invalid --shm-size \"lots\"")]
    [InlineData("--pid=container:x", "--pid container:x is not supported by wharf")]
    public void Create_BadRuntimeFlag_Exits125AndCreatesNothing(string flags, string message)
    {
        var result = _wharf.Run(["create", .. flags.Split(' '), fixture.Image, "true"]);

        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith("Error: " + message, result.Stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, _wharf.Check("ps", "-a", "-q"));
    }

    [Fact]
    public void Run_ReadOnly_RootfsRefusesWritesTmpfsOnTmp()
    {
        const string Script = "touch /probe 2>/dev/null && echo root-rw || echo root-ro; touch /tmp/probe 2>/dev/null && echo tmp-rw || echo tmp-ro";

        Assert.Equal("root-ro\ntmp-rw\n", _wharf.Check("run", "--rm", "--read-only", fixture.Image, "sh", "-c", Script));
        Assert.Equal("root-ro\ntmp-ro\n", _wharf.Check("run", "--rm", "--read-only", "--read-only-tmpfs=false", fixture.Image, "sh", "-c", Script));
        Assert.Equal("root-rw\ntmp-rw\n", _wharf.Check("run", "--rm", fixture.Image, "sh", "-c", Script));
    }

    [Fact]
    public void Run_TmpfsAndShmSize_MountedWithTheirSizes()
    {
        string mounts = _wharf.Check("run", "--rm", "--tmpfs", "/scratch:rw,size=1m", "--shm-size", "2m", fixture.Image, "cat", "/proc/mounts");

        Assert.Contains(mounts.Split('\n'), l => l.StartsWith("tmpfs /scratch tmpfs ", StringComparison.Ordinal) && l.Contains("size=1024k", StringComparison.Ordinal));
        Assert.Contains(mounts.Split('\n'), l => l.StartsWith("shm /dev/shm tmpfs ", StringComparison.Ordinal) && l.Contains("size=2048k", StringComparison.Ordinal));
    }

    [Fact]
    public void Run_NoNewPrivileges_SetForTheProcess()
    {
        Assert.Equal("NoNewPrivs:\t1\n", _wharf.Check("run", "--rm", "--security-opt", "no-new-privileges", fixture.Image, "busybox", "grep", "NoNewPrivs", "/proc/self/status"));
        Assert.Equal("NoNewPrivs:\t0\n", _wharf.Check("run", "--rm", "--security-opt", "label=disable", fixture.Image, "busybox", "grep", "NoNewPrivs", "/proc/self/status"));
    }

    [Fact]
    public void Run_PidAndIpcHost_ShareTheHostsNamespaces()
    {
        // In its own PID namespace the command is PID 1.
        Assert.Equal("cat\n", _wharf.Check("run", "--rm", fixture.Image, "cat", "/proc/1/comm"));
        Assert.NotEqual("cat\n", _wharf.Check("run", "--rm", "--pid", "host", fixture.Image, "cat", "/proc/1/comm"));

        string hostIpc = new FileInfo("/proc/self/ns/ipc").LinkTarget!;
        Assert.Equal(hostIpc + "\n", _wharf.Check("run", "--rm", "--ipc=host", fixture.Image, "busybox", "readlink", "/proc/self/ns/ipc"));
        Assert.NotEqual(hostIpc + "\n", _wharf.Check("run", "--rm", fixture.Image, "busybox", "readlink", "/proc/self/ns/ipc"));
    }

    [Fact]
    public void Run_WorkdirThatDoesNotExist_Exits126AsPodman()
    {
        var result = _wharf.Run("run", "--rm", "-w", "/no/such", fixture.Image, "pwd");

        Assert.Equal(126, result.ExitCode);
        Assert.StartsWith("Error: workdir \"/no/such\" does not exist on container ", result.Stderr, StringComparison.Ordinal);
        Assert.Equal("/scratch/in\n", _wharf.Check("run", "--rm", "--tmpfs", "/scratch", "-w", "/scratch/in", fixture.Image, "pwd"));
    }

    [Fact]
    public void Run_ImageWorkdirMissingFromRootfs_IsCreated()
    {
        // podman creates an image's WORKDIR that no layer made (as podman build leaves it).
        _wharf.Check("create", "--name", "base", fixture.Image, "true");
        _wharf.Check("commit", "-q", "--change", "WORKDIR /made/by/image", "base", "localhost/workdir:1");

        Assert.Equal("/made/by/image\n", _wharf.Check("run", "--rm", "localhost/workdir:1", "pwd"));
    }

    [Fact]
    public void Run_GroupAdd_NamesAndGidsAddedToTheProcess()
    {
        Assert.Equal("0 44 1234\n", _wharf.Check("run", "--rm", "--group-add", "video", "--group-add", "1234", fixture.Image, "id", "-G"));

        var unknown = _wharf.Run("run", "--rm", "--group-add", "nosuchgroup", fixture.Image, "true");
        Assert.Equal(125, unknown.ExitCode);
        Assert.Contains("unable to find group nosuchgroup", unknown.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_Tz_ZoneFileBecomesLocaltime()
    {
        string zone = "/usr/share/zoneinfo/Europe/Berlin";
        Assert.True(File.Exists(zone), "tzdata is required on the host");
        string expected = Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(File.ReadAllBytes(zone)));

        Assert.StartsWith(expected, _wharf.Check("run", "--rm", "--tz", "Europe/Berlin", fixture.Image, "busybox", "md5sum", "/etc/localtime"), StringComparison.Ordinal);
    }

    [Fact]
    public void Create_TzUnknownZone_Exits125()
    {
        var result = _wharf.Run("create", "--tz", "Mars/Olympus", fixture.Image, "true");

        Assert.Equal(125, result.ExitCode);
        Assert.Equal("Error: finding timezone: unknown time zone Mars/Olympus\n", result.Stderr);
    }
}
