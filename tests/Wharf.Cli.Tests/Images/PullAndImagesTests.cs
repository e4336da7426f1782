namespace Wharf.Cli.Tests.Images;

[Collection("registry")]
public class PullAndImagesTests(RegistryFixture registry)
{
    [Fact]
    public void Pull_ImagePushedByPodman_PrintsPodmansLinesAndImageId()
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run("pull", "--tls-verify=false", $"{registry.Open}/lab/fixture:1");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(registry.ImageId + "\n", result.Stdout);
        var lines = result.ErrLines;
        Assert.Equal($"Trying to pull {registry.Open}/lab/fixture:1...", lines[0]);
        Assert.Equal("Getting image source signatures", lines[1]);
        Assert.Matches("^Copying blob sha256:[0-9a-f]{64}$", lines[2]);
        Assert.Equal($"Copying config sha256:{registry.ImageId}", lines[3]);
        Assert.Equal("Writing manifest to image destination", lines[4]);
        Assert.Equal("Storing signatures", lines[5]);
        Assert.Equal(6, lines.Length);
    }

    private static string[] Cells(string line) =>
        System.Text.RegularExpressions.Regex.Split(line.Trim(), "  +");

    [Fact]
    public void Pull_Quiet_PrintsOnlyTheId()
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run("pull", "-q", "--tls-verify=false", $"{registry.Open}/lab/fixture:1");

        Assert.Equal(registry.ImageId + "\n", result.Stdout);
        Assert.Empty(result.Stderr);
    }

    [Fact]
    public void Images_AfterPull_SameTableAsPodmanImages()
    {
        using var wharf = new WharfRunner();
        string name = $"{registry.Open}/lab/fixture:1";
        wharf.Run("pull", "-q", "--tls-verify=false", name);
        wharf.Run("tag", name, "localhost/other:2");
        string podmanStore = Path.Combine(wharf.Dir, "podman");
        RegistryFixture.PodmanAt(podmanStore, "pull", "-q", "--tls-verify=false", name);
        RegistryFixture.PodmanAt(podmanStore, "tag", name, "localhost/other:2");

        string ours = wharf.Run("images").Stdout;
        string theirs = RegistryFixture.PodmanAt(podmanStore, "images");

        // Same header (so the same column widths) and the same cells; CREATED may tick between the two runs.
        string[] ourLines = ours.Split('\n'), theirLines = theirs.Split('\n');
        Assert.True(ourLines.Length == theirLines.Length && ourLines.Length == 4, $"podman:\n{theirs}\nwharf:\n{ours}");
        // CREATED can tick ("9 seconds" → "10 seconds") between the two runs and widen its column,
        // so compare the header's cells and every column start up to CREATED.
        Assert.Equal(Cells(theirLines[0]), Cells(ourLines[0]));
        foreach (string column in new[] { "TAG", "IMAGE ID", "CREATED" })
        {
            Assert.Equal(theirLines[0].IndexOf(column, StringComparison.Ordinal), ourLines[0].IndexOf(column, StringComparison.Ordinal));
        }

        for (int i = 1; i < ourLines.Length - 1; i++)
        {
            string[] a = Cells(theirLines[i]), b = Cells(ourLines[i]);
            Assert.Equal(a.Length, b.Length);
            Assert.Equal(a[..3], b[..3]);
            Assert.Equal(a[^1], b[^1]);
            Assert.Equal(theirLines[i].IndexOf(a[2], StringComparison.Ordinal), ourLines[i].IndexOf(b[2], StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Images_QuietDigestsNoTruncJsonAndTemplate_ShowTheImage()
    {
        using var wharf = new WharfRunner();
        string name = $"{registry.Open}/lab/fixture:1";
        wharf.Run("pull", "-q", "--tls-verify=false", name);
        wharf.Run("tag", name, "extra:2");

        Assert.Equal(registry.ImageId[..12] + "\n", wharf.Run("images", "-q").Stdout);
        Assert.Contains("sha256:" + registry.ImageId, wharf.Run("images", "--no-trunc").Stdout, StringComparison.Ordinal);
        string digests = wharf.Run("images", "--digests").Stdout;
        Assert.StartsWith("REPOSITORY", digests, StringComparison.Ordinal);
        Assert.Contains("DIGEST", digests.Split('\n')[0], StringComparison.Ordinal);
        Assert.Contains("\"Id\": \"" + registry.ImageId + "\"", wharf.Run("images", "--format", "json").Stdout, StringComparison.Ordinal);
        Assert.Equal($"{registry.Open}/lab/fixture 1\nlocalhost/extra 2\n", wharf.Run("images", "--format", "{{.Repository}} {{.Tag}}").Stdout);
        Assert.Equal($"{registry.Open}/lab/fixture 1\nlocalhost/extra 2\n", wharf.Run("images", "--filter", "reference=extra", "--format", "{{.Repository}} {{.Tag}}").Stdout);
        Assert.Empty(wharf.Run("images", "--filter", "reference=nomatch", "--noheading").Stdout);
    }

    [Fact]
    public void Pull_UnknownTag_PodmansErrorAndExit125()
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run("pull", "--tls-verify=false", $"{registry.Open}/lab/fixture:nosuch");

        Assert.Equal(125, result.ExitCode);
        Assert.Equal(
            $"Error: initializing source docker://{registry.Open}/lab/fixture:nosuch: reading manifest nosuch in {registry.Open}/lab/fixture: manifest unknown: manifest unknown",
            result.ErrLines[^1]);
    }

    [Fact]
    public void Pull_ShortNameThroughSearchRegistries_ResolvesAndStoresFullName()
    {
        using var wharf = new WharfRunner($"unqualified-search-registries = [\"{registry.Open}\"]\n[[registry]]\nlocation = \"{registry.Open}\"\ninsecure = true\n");

        var result = wharf.Run("pull", "lab/fixture:1");

        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("Resolving \"lab/fixture\" using unqualified-search registries (", result.ErrLines[0], StringComparison.Ordinal);
        Assert.Contains($"{registry.Open}/lab/fixture", wharf.Run("images").Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Pull_ShortNameMissingEverywhere_OneErrorPerRegistryAsPodman()
    {
        int closed = LoopbackPort.Free();
        using var wharf = new WharfRunner(
            $"unqualified-search-registries = [\"{registry.Open}\", \"127.0.0.1:{closed}\"]\n" +
            $"[[registry]]\nlocation = \"{registry.Open}\"\ninsecure = true\n[[registry]]\nlocation = \"127.0.0.1:{closed}\"\ninsecure = true\n");

        var result = wharf.Run("pull", "nosuch/x");

        Assert.Equal(125, result.ExitCode);
        var lines = result.ErrLines;
        Assert.Equal($"Trying to pull {registry.Open}/nosuch/x:latest...", lines[1]);
        Assert.Equal($"Trying to pull 127.0.0.1:{closed}/nosuch/x:latest...", lines[2]);
        Assert.Equal("Error: 2 errors occurred while pulling:", lines[3]);
        Assert.Equal($" * initializing source docker://{registry.Open}/nosuch/x:latest: reading manifest latest in {registry.Open}/nosuch/x: manifest unknown: manifest unknown", lines[4]);
        Assert.EndsWith($"dial tcp 127.0.0.1:{closed}: connect: connection refused", lines[5], StringComparison.Ordinal);
    }

    [Fact]
    public void Pull_ShortNameWithoutSearchRegistries_ShortNameError()
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run("pull", "foo");

        Assert.Equal(125, result.ExitCode);
        Assert.Matches("^Error: short-name \"foo\" did not resolve to an alias and no unqualified-search registries are defined in \".*registries.conf\"$", result.ErrLines[0]);
    }

    [Theory]
    [InlineData("pull", "Bad:Ref")]
    [InlineData("pull", "a//b")]
    [InlineData("tag", "nosuch:1")]
    [InlineData("inspect", "nosuch")]
    [InlineData("push", "nosuch:1")]
    public void Command_BadInput_OneErrorLineAndExit125(string verb, string argument)
    {
        using var wharf = new WharfRunner();

        var result = verb == "tag" ? wharf.Run(verb, argument, "x:1") : wharf.Run(verb, argument);

        Assert.Equal(125, result.ExitCode);
        var line = Assert.Single(result.ErrLines);
        Assert.StartsWith("Error: ", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Tag_MissingSource_PodmansMessage()
    {
        using var wharf = new WharfRunner();
        Assert.Equal("Error: nosuch:1: image not known\n", wharf.Run("tag", "nosuch:1", "x").Stderr);
    }
}
