using Wharf.Engine.Containers;

namespace Wharf.Engine.Tests.Containers;

public sealed class CdiSpecTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-cdi-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Apply_YamlSpecWithNumbers_NodesEnvAndAllowRules()
    {
        File.WriteAllText(Path.Combine(_dir, "a.yaml"), """
            cdiVersion: 0.5.0
            kind: vendor.example/gpu
            devices:
            - name: "0"
              containerEdits:
                deviceNodes:
                - {path: /dev/g0, hostPath: /dev/null, permissions: rw, fileMode: 0600}
            containerEdits:
              env: [A=1, A=2]
            """);
        var edits = new DeviceEdits();
        Cdi.Apply(["vendor.example/gpu=0"], [_dir], edits);
        var node = Assert.Single(edits.Nodes);
        Assert.Equal(("/dev/g0", "c", 1L, 3L, "rw", 0x180u), (node.ContainerPath, node.Type, node.Major, node.Minor, node.Permissions, node.FileMode));
        Assert.Equal(["A=2"], edits.Env);
    }

    [Fact]
    public void Apply_LaterDirectory_OverridesDevice()
    {
        string a = Directory.CreateDirectory(Path.Combine(_dir, "etc")).FullName, b = Directory.CreateDirectory(Path.Combine(_dir, "run")).FullName;
        File.WriteAllText(Path.Combine(a, "x.json"), """{"cdiVersion":"0.5.0","kind":"v.example/c","devices":[{"name":"d","containerEdits":{"env":["FROM=etc"]}}]}""");
        File.WriteAllText(Path.Combine(b, "x.json"), """{"cdiVersion":"0.5.0","kind":"v.example/c","devices":[{"name":"d","containerEdits":{"env":["FROM=run"]}}]}""");
        var edits = new DeviceEdits();
        Cdi.Apply(["v.example/c=d"], [a, b], edits);
        Assert.Equal(["FROM=run"], edits.Env);
    }

    [Fact]
    public void IsCdiName_DistinguishesHostPaths()
    {
        Assert.True(Cdi.IsCdiName("nvidia.com/gpu=all"));
        Assert.False(Cdi.IsCdiName("/dev/null"));
        Assert.False(Cdi.IsCdiName("/dev/null:/dev/x:rw"));
    }
}
