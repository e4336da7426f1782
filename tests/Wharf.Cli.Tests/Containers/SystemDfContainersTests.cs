namespace Wharf.Cli.Tests.Containers;

/// <summary><c>system df</c> counts containers as <c>ps -a</c> does, and an image a container uses as active.</summary>
[Collection("containers")]
public sealed class SystemDfContainersTests(ContainerFixture fixture) : IDisposable
{
    private readonly WharfProcess _wharf = Jobs.JobHelpers.Pulled(fixture);

    public void Dispose() => _wharf.Dispose();

    [Fact]
    public void SystemDf_StoppedContainer_CountedAndItsImageActive()
    {
        _wharf.Check("run", "--name", "wrote", fixture.Image, "sh", "-c", "head -c 5000 /dev/zero > /data");
        int listed = _wharf.Check("ps", "-a", "-q").Trim().Split('\n').Length;

        string[] lines = _wharf.Check("system", "df").Split('\n');

        Assert.Equal("TYPE           TOTAL       ACTIVE      SIZE        RECLAIMABLE", lines[0]);
        Assert.Matches(@"^Images\s+1\s+1\s+\S+\s+0B \(0%\)$", lines[1]);
        Assert.Matches($@"^Containers\s+{listed}\s+0\s+[0-9.]+kB\s+[0-9.]+kB \(100%\)$", lines[2]);
        Assert.Equal(1, listed);
    }

    [Fact]
    public void SystemDfVerbose_ImageUsedByContainer_ContainersColumnCountsIt()
    {
        _wharf.Check("run", "--name", "one", fixture.Image, "true");
        _wharf.Check("run", "--name", "two", fixture.Image, "true");

        string[] lines = _wharf.Check("system", "df", "-v").Split('\n');

        Assert.Matches(@"\s2\s*$", lines[3]);
    }
}
