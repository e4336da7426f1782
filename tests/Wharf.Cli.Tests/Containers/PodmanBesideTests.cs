namespace Wharf.Cli.Tests.Containers;

/// <summary>The podman-beside-wharf fixture cleans up after a test whatever state the test left.</summary>
[Collection("containers")]
public sealed class PodmanBesideTests(ContainerFixture fixture)
{
    [Fact]
    public void Dispose_TestLeftARunningContainer_RemovesItsOwnAndNoOtherInstances()
    {
        using var neighbour = new PodmanBeside(fixture);
        string kept = neighbour.Unique("kept");
        neighbour.Check("create", "--name", kept, "localhost/bb:1", "true");

        // What a test that failed half-way leaves: a running container, the empty store used.
        var podman = new PodmanBeside(fixture);
        string left = podman.Unique("left");
        podman.Check(["run", "-d", "--name", left, .. PodmanBeside.Limits, "localhost/bb:1", "sleep", "300"]);
        Assert.Equal(0, podman.RunEmpty("ps", "-a").ExitCode);
        string dir = podman.Directory;

        podman.Dispose();

        var names = neighbour.Check("ps", "-a", "--format", "{{.Names}}").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.DoesNotContain(left, names);
        Assert.Contains(kept, names);
        Assert.False(Directory.Exists(dir));
    }
}
