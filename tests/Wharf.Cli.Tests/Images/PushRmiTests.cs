namespace Wharf.Cli.Tests.Images;

[Collection("registry")]
public class PushRmiTests(RegistryFixture registry)
{
    [Fact]
    public void Push_TaggedByImageId_PodmanPullsTheSameImage()
    {
        using var wharf = new WharfRunner();
        wharf.Run("pull", "-q", "--tls-verify=false", $"{registry.Open}/lab/fixture:1");
        string target = $"{registry.Open}/other/pushed:demo";
        Assert.Equal(0, wharf.Run("tag", registry.ImageId[..12], target).ExitCode);

        var push = wharf.Run("push", "--tls-verify=false", target);

        Assert.Equal(0, push.ExitCode);
        Assert.Empty(push.Stdout);
        Assert.Equal("Getting image source signatures", push.ErrLines[0]);
        Assert.Equal("Writing manifest to image destination", push.ErrLines[^2]);
        Assert.Equal("Storing signatures", push.ErrLines[^1]);
        string pulled = registry.Podman("pull", "-q", "--tls-verify=false", target).Trim();
        Assert.Equal(registry.ImageId, pulled);
    }

    [Fact]
    public void Push_SecondTime_SkipsBlobsTheRegistryHas()
    {
        using var wharf = new WharfRunner();
        wharf.Run("pull", "-q", "--tls-verify=false", $"{registry.Open}/lab/fixture:1");
        string target = $"{registry.Open}/lab/fixture:again";

        var push = wharf.Run("push", "--tls-verify=false", $"{registry.Open}/lab/fixture:1", target);

        Assert.Equal(0, push.ExitCode);
        Assert.Equal(registry.ImageId, registry.Podman("pull", "-q", "--tls-verify=false", target).Trim());
    }

    [Fact]
    public void Rmi_ByNameThenById_UntaggedDeletedAndBlobsGone()
    {
        using var wharf = new WharfRunner();
        string name = $"{registry.Open}/lab/fixture:1";
        wharf.Run("pull", "-q", "--tls-verify=false", name);
        wharf.Run("tag", name, "mine:v2");

        var byIdRefused = wharf.Run("rmi", registry.ImageId[..4]);
        Assert.Equal(125, byIdRefused.ExitCode);
        Assert.Equal(
            $"Error: unable to delete image \"{registry.ImageId}\" by ID with more than one tag ([{name} localhost/mine:v2]): please force removal\n",
            byIdRefused.Stderr);

        Assert.Equal("Untagged: localhost/mine:v2\n", wharf.Run("rmi", "mine:v2").Stdout);
        Assert.Equal($"Untagged: {name}\nDeleted: {registry.ImageId}\n", wharf.Run("rmi", registry.ImageId[..12]).Stdout);
        Assert.Empty(wharf.Run("images", "-q").Stdout);
        Assert.Empty(Directory.GetFiles(Path.Combine(wharf.GraphRoot, "wharf", "blobs", "sha256")));

        var missing = wharf.Run("rmi", "nosuch:1");
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal("Error: nosuch:1: image not known\n", missing.Stderr);
    }

    [Fact]
    public void Rmi_ForceAll_RemovesEverything()
    {
        using var wharf = new WharfRunner();
        string name = $"{registry.Open}/lab/fixture:1";
        wharf.Run("pull", "-q", "--tls-verify=false", name);
        wharf.Run("tag", name, "a", "b");

        var result = wharf.Run("rmi", "-a", "-f");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains($"Deleted: {registry.ImageId}", result.Stdout, StringComparison.Ordinal);
        Assert.Equal("REPOSITORY  TAG         IMAGE ID    CREATED     SIZE\n", wharf.Run("images").Stdout);
    }

    [Fact]
    public void Inspect_PulledImage_PodmanKeysAndTemplate()
    {
        using var wharf = new WharfRunner();
        string name = $"{registry.Open}/lab/fixture:1";
        wharf.Run("pull", "-q", "--tls-verify=false", name);

        var json = wharf.Run("inspect", name).Stdout;
        Assert.StartsWith("[", json, StringComparison.Ordinal);
        foreach (string key in new[] { "Id", "Digest", "RepoTags", "RepoDigests", "Created", "Config", "Architecture", "Os", "Size", "RootFS", "History" })
        {
            Assert.Contains($"\"{key}\":", json, StringComparison.Ordinal);
        }

        Assert.Equal(registry.ImageId + "\n", wharf.Run("inspect", "--format", "{{.Id}}", "fixture:1").Stdout);
    }
}
