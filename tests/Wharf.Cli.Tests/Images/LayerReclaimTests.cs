namespace Wharf.Cli.Tests.Images;

/// <summary>Removing images gives their unpacked layers back (and so their share of the quota), once nothing uses them.</summary>
[Collection("registry")]
public sealed class LayerReclaimTests(RegistryFixture registry)
{
    private static string[] ChainDirs(WharfRunner wharf)
    {
        string root = Path.Combine(wharf.GraphRoot, "wharf", "layers");
        return Directory.Exists(root)
            ? [.. Directory.GetDirectories(root).Select(Path.GetFileName).Where(n => n is not ("tmp" or "pulled"))!]
            : [];
    }

    private string Pull(WharfRunner wharf)
    {
        var pull = wharf.Run("pull", "-q", "--tls-verify=false", $"{registry.Open}/lab/fixture:1");
        Assert.True(pull.ExitCode == 0, pull.Stderr);
        Assert.NotEmpty(ChainDirs(wharf));
        return pull.Stdout.Trim();
    }

    [Fact]
    public void Rmi_LastImage_UnpackedLayersFreedAndUsageDrops()
    {
        using var wharf = new WharfRunner();
        Pull(wharf);
        long withImage = new Wharf.Engine.Storage.ImageStore(wharf.GraphRoot).UsedBytes();

        Assert.Equal(0, wharf.Run("rmi", $"{registry.Open}/lab/fixture:1").ExitCode);

        Assert.Empty(ChainDirs(wharf));
        Assert.True(new Wharf.Engine.Storage.ImageStore(wharf.GraphRoot).UsedBytes() < withImage);
    }

    [Fact]
    public void Rmi_OneOfTwoNames_LayersKept()
    {
        using var wharf = new WharfRunner();
        Pull(wharf);
        wharf.Run("tag", $"{registry.Open}/lab/fixture:1", "other:1");
        string[] before = ChainDirs(wharf);

        Assert.Equal(0, wharf.Run("rmi", $"{registry.Open}/lab/fixture:1").ExitCode);

        Assert.Equal(before, ChainDirs(wharf));
    }

    [Fact]
    public void ImagePrune_DanglingImage_LayersFreed()
    {
        using var wharf = new WharfRunner();
        Pull(wharf);
        wharf.Run("untag", $"{registry.Open}/lab/fixture:1");

        Assert.Equal(0, wharf.Run("image", "prune", "-f").ExitCode);

        Assert.Empty(ChainDirs(wharf));
    }

    [Fact]
    public void SystemPrune_Force_DeletedImagesAndReclaimedSpace()
    {
        using var wharf = new WharfRunner();
        string id = Pull(wharf);
        wharf.Run("untag", $"{registry.Open}/lab/fixture:1");

        var prune = wharf.Run("system", "prune", "-f");

        Assert.Equal(0, prune.ExitCode);
        Assert.Matches($"^Deleted Images\n{id}\nTotal reclaimed space: [0-9.]+[kM]B\n$", prune.Stdout);
        Assert.Empty(ChainDirs(wharf));
        Assert.Empty(wharf.Run("images", "-a", "-q").Stdout);
    }

    [Fact]
    public void SystemPrune_NothingToDo_PodmansOutput()
    {
        using var wharf = new WharfRunner();
        Pull(wharf);

        var prune = wharf.Run("system", "prune", "-a", "-f", "--volumes");
        var none = wharf.Run("system", "prune", "-f");

        Assert.Equal(0, prune.ExitCode);
        Assert.StartsWith("Deleted Images\n", prune.Stdout, StringComparison.Ordinal);
        Assert.Equal("Total reclaimed space: 0B\n", none.Stdout);
    }

    [Fact]
    public void SystemPrune_NotConfirmed_PromptAndNothingRemoved()
    {
        using var wharf = new WharfRunner();
        Pull(wharf);
        wharf.Run("untag", $"{registry.Open}/lab/fixture:1");

        var prune = wharf.RunWithInput("n\n", "system", "prune");

        Assert.Equal(0, prune.ExitCode);
        Assert.StartsWith("WARNING! This command removes:\n\t- all stopped containers\n", prune.Stdout, StringComparison.Ordinal);
        Assert.EndsWith("Are you sure you want to continue? [y/N] ", prune.Stdout, StringComparison.Ordinal);
        Assert.NotEmpty(ChainDirs(wharf));
        Assert.NotEmpty(wharf.Run("images", "-a", "-q").Stdout);
    }
}
