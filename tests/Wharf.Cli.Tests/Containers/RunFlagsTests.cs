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
}
