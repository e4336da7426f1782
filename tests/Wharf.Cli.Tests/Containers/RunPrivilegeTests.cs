namespace Wharf.Cli.Tests.Containers;

/// <summary>
/// run's --init, --privileged, --timeout, --mount, -dt, --workdir and --gpus against real runc, each
/// compared with real podman on the same image where podman has the flag.
/// </summary>
[Collection("containers")]
public sealed class RunPrivilegeTests(ContainerFixture fixture) : IDisposable
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

    private static readonly string[] PodmanUlimits = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

    private (int ExitCode, string Stdout, string Stderr) Podman(params string[] args)
    {
        string dir = Path.Combine(fixture.Root, "podman");
        return Tools.Run("podman", ["--root", Path.Combine(dir, "storage"), "--runroot", Path.Combine(dir, "run"), "--tmpdir", Path.Combine(dir, "tmp"), "--storage-driver", "vfs", "--runtime", "runc", .. args]);
    }

    [Fact]
    public void Run_Init_CatatonitIsPid1WithTheCommandAsItsChild()
    {
        const string Script = "tr '\\0' ' ' < /proc/1/cmdline; echo; test -x /run/podman-init && echo init-bound";
        string wharf = _wharf.Check("run", "--rm", "--init", fixture.Image, "sh", "-c", Script);
        var podman = Podman(["run", "--rm", .. PodmanUlimits, "--init", "localhost/bb:1", "sh", "-c", Script]);

        Assert.Equal(0, podman.ExitCode);
        Assert.Equal(podman.Stdout, wharf);
        Assert.StartsWith("/run/podman-init -- sh -c ", wharf, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_Privileged_AllCapabilitiesHostDevicesWritableSys()
    {
        const string Script = "grep CapEff /proc/self/status; test -c /dev/loop-control && echo host-devices; grep -E '^sysfs /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1";
        string wharf = _wharf.Check("run", "--rm", "--privileged", fixture.Image, "sh", "-c", Script);
        var podman = Podman(["run", "--rm", .. PodmanUlimits, "--privileged", "localhost/bb:1", "sh", "-c", Script]);

        Assert.Equal(0, podman.ExitCode);
        Assert.Equal(podman.Stdout, wharf);
        Assert.Contains("host-devices\nrw\n", wharf, StringComparison.Ordinal);
        Assert.Equal("CapEff:\t00000000800405fb\n", _wharf.Check("run", "--rm", fixture.Image, "busybox", "grep", "CapEff", "/proc/self/status"));
    }

    [Fact]
    public void Run_Timeout_KilledAfterItExitCodeAsPodmans()
    {
        const string Script = "echo started; while :; do :; done";
        var podman = Podman(["run", "--rm", .. PodmanUlimits, "--timeout", "1", "localhost/bb:1", "sh", "-c", Script]);
        var wharf = _wharf.Run("run", "--rm", "--timeout", "1", fixture.Image, "sh", "-c", Script);

        Assert.Equal(255, podman.ExitCode);
        Assert.Equal(podman.ExitCode, wharf.ExitCode);
        Assert.Equal("started\n", wharf.Stdout);
    }

    [Fact]
    public void RunDetached_Timeout_WaitReportsMinusOneAsPodman()
    {
        string id = _wharf.Check("run", "-d", "--timeout", "1", fixture.Image, "sh", "-c", "while :; do :; done").Trim();

        Assert.Equal("-1\n", _wharf.Check("wait", id));
        Assert.Equal("-1\n", _wharf.Check("container", "inspect", "--format", "{{.State.ExitCode}}", id));
    }

    [Fact]
    public void Run_MountBindTmpfsVolume_MountedWithTheirOptions()
    {
        string src = Path.Combine(_wharf.Dir, "src");
        Directory.CreateDirectory(src);
        File.WriteAllText(Path.Combine(src, "f"), "from-host\n");
        const string Script = "cat /x/f; touch /x/g 2>/dev/null || echo x-ro; grep ' /t ' /proc/mounts | cut -d' ' -f4; echo kept > /v/data";

        string output = _wharf.Check("run", "--rm",
            "--mount", $"type=bind,source={src},target=/x,readonly",
            "--mount", "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=700",
            "--mount", "type=volume,src=flagvol,destination=/v",
            fixture.Image, "sh", "-c", Script);

        Assert.Equal("from-host\nx-ro\nrw,nosuid,nodev,relatime,size=1024k,mode=700\n", output);
        Assert.Contains("flagvol", _wharf.Check("volume", "ls", "-q"), StringComparison.Ordinal);
        Assert.Equal("kept\n", _wharf.Check("run", "--rm", "-v", "flagvol:/data", fixture.Image, "cat", "/data/data"));
    }

    [Theory]
    [InlineData("src=/tmp,dst=/x")]
    [InlineData("type=bind,src=/tmp")]
    [InlineData("type=bind,src=/tmp,dst=/x,foo=1")]
    [InlineData("type=weird,dst=/x")]
    [InlineData("type=bind,src=/nonexistent-wharf-src,dst=/x")]
    public void Create_BadMount_Exits125WithPodmansMessage(string mount)
    {
        var podman = Podman("create", "--mount", mount, "localhost/bb:1", "true");
        var wharf = _wharf.Run("create", "--mount", mount, fixture.Image, "true");

        Assert.Equal(125, podman.ExitCode);
        Assert.Equal(125, wharf.ExitCode);
        Assert.Equal(podman.Stderr, wharf.Stderr);
        Assert.Equal(string.Empty, _wharf.Check("ps", "-a", "-q"));
    }

    [Fact]
    public void RunDetachedWithTerminal_CombinedDt_LogHasTheTerminalsOutput()
    {
        string id = _wharf.Check("run", "-dt", fixture.Image, "sh", "-c", "tty; echo dt-ok").Trim();

        Assert.Equal("0\n", _wharf.Check("wait", id));
        Assert.Equal("/dev/pts/0\r\ndt-ok\r\n", _wharf.Check("logs", id));
        Assert.Equal("true\n", _wharf.Check("container", "inspect", "--format", "{{.Config.Tty}}", id));
    }

    [Fact]
    public void Run_CombinedItdAndTi_ReadAsEachFlag()
    {
        string id = _wharf.Check("run", "-itd", "--name", "itd", fixture.Image, "sh").Trim();
        Assert.Matches("^[0-9a-f]{64}$", id);
        Assert.Equal("true true\n", _wharf.Check("container", "inspect", "--format", "{{.Config.Tty}} {{.Config.OpenStdin}}", "itd"));
        _wharf.Check("create", "-ti", "--name", "ti", fixture.Image, "sh");
        Assert.Equal("true true\n", _wharf.Check("container", "inspect", "--format", "{{.Config.Tty}} {{.Config.OpenStdin}}", "ti"));
    }

    [Theory]
    [InlineData("/nope/deep", "does not exist on container")]
    [InlineData("/bin/sh", "exists on container")]
    public void Run_WorkdirMissingOrNotADirectory_Exits126AsPodman(string workdir, string message)
    {
        var podman = Podman(["run", "--rm", .. PodmanUlimits, "-w", workdir, "localhost/bb:1", "pwd"]);
        var wharf = _wharf.Run("run", "-w", workdir, fixture.Image, "pwd");

        Assert.Equal(126, podman.ExitCode);
        Assert.Equal(126, wharf.ExitCode);
        static string WithoutId(string s) => System.Text.RegularExpressions.Regex.Replace(s, "[0-9a-f]{64}", "ID");
        Assert.Equal(WithoutId(podman.Stderr), WithoutId(wharf.Stderr));
        Assert.Contains(message, wharf.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_GpusAllAndCount_NvidiaCdiDevices()
    {
        string dir = Path.Combine(_wharf.Dir, "cdi");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "nvidia.yaml"), """
            cdiVersion: "0.5.0"
            kind: nvidia.com/gpu
            devices:
              - name: "0"
                containerEdits:
                  deviceNodes:
                    - path: /dev/nvidia0
                      hostPath: /dev/null
              - name: "1"
                containerEdits:
                  deviceNodes:
                    - path: /dev/nvidia1
                      hostPath: /dev/zero
              - name: all
                containerEdits:
                  deviceNodes:
                    - path: /dev/nvidia0
                      hostPath: /dev/null
                    - path: /dev/nvidia1
                      hostPath: /dev/zero
            containerEdits:
              env:
                - NVIDIA_VISIBLE_DEVICES=void
            """);
        _wharf.Env["WHARF_CDI_SPEC_DIRS"] = dir;
        const string Script = "ls /dev | grep nvidia | tr '\\n' ' '; echo $NVIDIA_VISIBLE_DEVICES";

        Assert.Equal("nvidia0 nvidia1 void\n", _wharf.Check("run", "--rm", "--gpus", "all", fixture.Image, "sh", "-c", Script));
        Assert.Equal("nvidia0 void\n", _wharf.Check("run", "--rm", "--gpus", "1", fixture.Image, "sh", "-c", Script));
        Assert.Equal("nvidia1 void\n", _wharf.Check("run", "--rm", "--gpus", "device=1", fixture.Image, "sh", "-c", Script));
    }

    [Fact]
    public void Run_GpusWithoutSpec_ErrorNamesTheSpecDirectories()
    {
        string dir = Path.Combine(_wharf.Dir, "empty-cdi");
        Directory.CreateDirectory(dir);
        _wharf.Env["WHARF_CDI_SPEC_DIRS"] = dir;

        var result = _wharf.Run("run", "--rm", "--gpus", "all", fixture.Image, "true");

        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith($"Error: setting up CDI devices: unresolvable CDI devices nvidia.com/gpu=all: {dir} hold no CDI spec for it", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, _wharf.Check("ps", "-a", "-q"));
        Assert.Equal(125, _wharf.Run("create", "--gpus", "some", fixture.Image, "true").ExitCode);
    }

    [Fact]
    public void Run_PublishOnTheHostNetwork_DiscardedWithPodmansWarning()
    {
        var podman = Podman(["run", "--rm", .. PodmanUlimits, "--network", "host", "-p", "8080:80", "localhost/bb:1", "true"]);
        var wharf = _wharf.Run("run", "--name", "published", "--network", "host", "-p", "8080:80", fixture.Image, "true");

        Assert.Equal(0, podman.ExitCode);
        Assert.Equal(0, wharf.ExitCode);
        Assert.Equal(podman.Stderr, wharf.Stderr);
        Assert.Equal(string.Empty, _wharf.Check("port", "published"));
    }
}
