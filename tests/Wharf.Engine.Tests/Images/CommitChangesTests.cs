using Wharf.Engine.Images;
using Wharf.Oci;

namespace Wharf.Engine.Tests.Images;

/// <summary>commit -c: the same config edits as the Dockerfile instructions of the same name.</summary>
public sealed class CommitChangesTests
{
    private static readonly ContainerConfig Base = new() { Env = ["PATH=/bin", "X=old", "Y=1"], Cmd = ["sh"] };

    [Theory]
    [InlineData("ENV=X=new")]
    [InlineData("ENV X=new")]
    [InlineData("ENV X new")]
    public void Apply_EnvOfExistingVariable_ReplacedInPlace(string change)
    {
        var run = CommitChanges.Apply(Base, change);

        Assert.Equal(["PATH=/bin", "X=new", "Y=1"], run.Env);
    }

    [Fact]
    public void Apply_EnvSeveralWithQuotes_NewOnesAppended()
    {
        var run = CommitChanges.Apply(Base, "ENV Z=\"a b\" Y=2");

        Assert.Equal(["PATH=/bin", "X=old", "Y=2", "Z=a b"], run.Env);
    }

    [Fact]
    public void Apply_ExposeVolumeLabel_AsBuildWritesThem()
    {
        var run = CommitChanges.Apply(Base, "EXPOSE 80 53/udp");
        run = CommitChanges.Apply(run, "VOLUME [\"/data\",\"/logs\"]");
        run = CommitChanges.Apply(run, "LABEL team=hpc");

        Assert.Equal(["80/tcp", "53/udp"], run.ExposedPorts!.Keys);
        Assert.Equal(["/data", "/logs"], run.Volumes!.Keys);
        Assert.Equal("hpc", run.Labels!["team"]);
    }

    [Fact]
    public void Apply_CmdShellForm_WrappedInShell()
    {
        Assert.Equal(["/bin/sh", "-c", "echo hi"], CommitChanges.Apply(Base, "CMD echo hi").Cmd);
        Assert.Equal(["cat", "/f"], CommitChanges.Apply(Base, "CMD [\"cat\",\"/f\"]").Cmd);
    }

    [Theory]
    [InlineData("FROBNICATE x", "unknown change instruction \"FROBNICATE\"")]
    [InlineData("CMD [\"unterminated", "processing change \"CMD [\"unterminated\"")]
    [InlineData("ENV NOVALUE", "expected KEY=VALUE")]
    public void Apply_BadChange_WharfExceptionNamingIt(string change, string expected)
    {
        var e = Assert.Throws<WharfException>(() => CommitChanges.Apply(Base, change));

        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }
}
