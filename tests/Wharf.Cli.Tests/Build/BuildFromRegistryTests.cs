using Wharf.Cli.Tests.Containers;

namespace Wharf.Cli.Tests.Build;

/// <summary>FROM an image that is only in a registry (wharfd on 127.0.0.1): pulled, then built upon.</summary>
[Collection("containers")]
public sealed class BuildFromRegistryTests(ContainerFixture fixture) : IDisposable
{
    private readonly WharfProcess _wharf = new();

    public void Dispose() => _wharf.Dispose();

    [Fact]
    public void Build_FromRegistryImage_PullsAndRunsOnIt()
    {
        string context = Path.Combine(_wharf.Dir, "ctx");
        Directory.CreateDirectory(context);
        File.WriteAllText(Path.Combine(context, "Dockerfile"), $"ARG BASE={fixture.Image}\nFROM $BASE\nRUN cat /etc/motd > /copied\nCMD [\"cat\", \"/copied\"]\n");
        var (code, stdout, stderr) = _wharf.Run("build", "--tls-verify=false", "-t", "onbase", context);
        Assert.True(code == 0, stderr);
        Assert.StartsWith($"STEP 1/3: FROM {fixture.Image}\n", stdout, StringComparison.Ordinal);
        Assert.Equal("from the image\n", _wharf.Check("run", "--rm", "onbase"));

        // --pull fetches the base again; the RUN step is still a cache hit (same base image ID).
        var again = _wharf.Run("build", "--pull", "--tls-verify=false", "-t", "onbase", context);
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Contains("--> Using cache", again.Stdout, StringComparison.Ordinal);
    }
}
