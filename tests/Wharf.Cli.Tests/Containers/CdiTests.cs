namespace Wharf.Cli.Tests.Containers;

/// <summary>--device with CDI specs (YAML and JSON) naming ordinary device nodes, as GPUs would be named.</summary>
[Collection("containers")]
public sealed class CdiTests(ContainerFixture fixture) : IDisposable
{
    private readonly WharfProcess _wharf = new();

    public void Dispose() => _wharf.Dispose();

    private string WriteSpecs()
    {
        string dir = Path.Combine(_wharf.Dir, "cdi");
        Directory.CreateDirectory(dir);
        string libDir = Path.Combine(_wharf.Dir, "driver");
        Directory.CreateDirectory(libDir);
        File.WriteAllText(Path.Combine(libDir, "libfake.so.1"), "driver library\n");
        string marker = Path.Combine(_wharf.Dir, "hook-ran");
        File.WriteAllText(Path.Combine(dir, "gpu.yaml"), $"""
            cdiVersion: "0.5.0"
            kind: example.com/gpu
            devices:
              - name: "0"
                containerEdits:
                  deviceNodes:
                    - path: /dev/gpu0
                      hostPath: /dev/null
              - name: "1"
                containerEdits:
                  deviceNodes:
                    - path: /dev/gpu1
                      hostPath: /dev/zero
              - name: all
                containerEdits:
                  deviceNodes:
                    - path: /dev/gpu0
                      hostPath: /dev/null
                    - path: /dev/gpu1
                      hostPath: /dev/zero
            containerEdits:
              env:
                - GPU_DRIVER=fake
              mounts:
                - hostPath: {libDir}/libfake.so.1
                  containerPath: /usr/lib/libfake.so.1
                  options: [ro, nosuid, nodev, bind]
              hooks:
                - hookName: createRuntime
                  path: /bin/sh
                  args: [sh, -c, "touch {marker}"]
            """);
        File.WriteAllText(Path.Combine(dir, "other.json"), """
            {"cdiVersion":"0.6.0","kind":"example.com/fpga","devices":[{"name":"a","containerEdits":{"deviceNodes":[{"path":"/dev/fpga-a","hostPath":"/dev/zero"}],"env":["FPGA=a"]}}]}
            """);
        _wharf.Env["WHARF_CDI_SPEC_DIRS"] = dir;
        return marker;
    }

    [Fact]
    public void Run_CdiAll_DeviceNodesMountsEnvAndHook()
    {
        string marker = WriteSpecs();
        string output = _wharf.Check("run", "--rm", "--tls-verify=false", "--device", "example.com/gpu=all", fixture.Image, "sh", "-c",
            "test -c /dev/gpu0 && test -c /dev/gpu1 && echo nodes; head -c 4 /dev/gpu1 | wc -c; echo $GPU_DRIVER; cat /usr/lib/libfake.so.1");
        Assert.Equal("nodes\n4\nfake\ndriver library\n", output);
        Assert.True(File.Exists(marker));
    }

    [Fact]
    public void Run_CdiSingleDeviceAndJsonSpec_OnlyThatDevice()
    {
        WriteSpecs();
        string output = _wharf.Check("run", "--rm", "--tls-verify=false", "--device", "example.com/gpu=0", "--device", "example.com/fpga=a", fixture.Image, "sh", "-c",
            "test -c /dev/gpu0 && echo gpu0; test -e /dev/gpu1 || echo no-gpu1; test -c /dev/fpga-a && echo $FPGA");
        Assert.Equal("gpu0\nno-gpu1\na\n", output);
    }

    [Fact]
    public void Run_UnknownCdiDevice_Fails125()
    {
        WriteSpecs();
        var (code, _, stderr) = _wharf.Run("run", "--rm", "--tls-verify=false", "--device", "example.com/gpu=7", fixture.Image, "true");
        Assert.Equal(125, code);
        Assert.Contains("unresolvable CDI devices example.com/gpu=7", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_HostDevice_AppearsInside()
    {
        Assert.Equal("ok\n", _wharf.Check("run", "--rm", "--tls-verify=false", "--device", "/dev/zero:/dev/myzero", fixture.Image, "sh", "-c", "test -c /dev/myzero && echo ok"));
    }
}
