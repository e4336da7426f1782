namespace Wharf.Cli.Tests.Containers;

/// <summary>A container's hostname, as podman sets it: its short ID unless told otherwise.</summary>
[Collection("containers")]
public sealed class HostnameTests(ContainerFixture fixture) : IDisposable
{
    private readonly WharfProcess _wharf = Jobs.JobHelpers.Pulled(fixture);

    public void Dispose() => _wharf.Dispose();

    [Fact]
    public void Run_DefaultNetwork_HostnameIsShortContainerId()
    {
        string output = _wharf.Check("run", "--name", "named", fixture.Image, "sh", "-c", "hostname; cat /etc/hostname; echo $HOSTNAME");
        string id = _wharf.Check("ps", "-a", "-q").Trim();

        Assert.Matches("^[0-9a-f]{12}$", id);
        Assert.Equal($"{id}\n{id}\n{id}\n", output);
        _wharf.Check("rm", "named");
    }

    [Fact]
    public void Run_HostnameFlag_Overrides()
    {
        Assert.Equal("box\n", _wharf.Check("run", "--rm", "--hostname", "box", fixture.Image, "hostname"));
    }

    [Fact]
    public void Run_NetworkHost_HostsName()
    {
        Assert.Equal(Environment.MachineName + "\n", _wharf.Check("run", "--rm", "--network", "host", fixture.Image, "hostname"));
    }
}
