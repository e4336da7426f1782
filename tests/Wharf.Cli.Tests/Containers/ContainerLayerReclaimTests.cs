namespace Wharf.Cli.Tests.Containers;

/// <summary>A container keeps its image and layers; once it is pruned, pruning images frees them.</summary>
[Collection("containers")]
public sealed class ContainerLayerReclaimTests(ContainerFixture fixture) : IDisposable
{
    private readonly WharfProcess _wharf = Jobs.JobHelpers.Pulled(fixture);

    public void Dispose() => _wharf.Dispose();

    private string[] ChainDirs()
    {
        string root = Path.Combine(_wharf.GraphRoot, "wharf", "layers");
        return Directory.Exists(root) ? [.. Directory.GetDirectories(root).Select(Path.GetFileName).Where(n => n is not ("tmp" or "pulled"))!] : [];
    }

    [Fact]
    public void Prune_ContainerThenImages_LayersFreedOnlyWhenNothingUsesThem()
    {
        _wharf.Check("run", "--name", "keeper", fixture.Image, "true");
        string[] layers = ChainDirs();
        Assert.NotEmpty(layers);

        // The stopped container still uses its image: image prune -a keeps both.
        _wharf.Check("image", "prune", "-a", "-f");
        Assert.NotEmpty(_wharf.Check("images", "-q"));
        Assert.Equal(layers, ChainDirs());

        _wharf.Check("container", "prune", "-f");
        Assert.Equal(layers, ChainDirs());
        _wharf.Check("image", "prune", "-a", "-f");

        Assert.Empty(_wharf.Check("images", "-a", "-q"));
        Assert.Empty(ChainDirs());
    }

    [Fact]
    public void RmiForce_ImageAContainerUses_ContainerGoesFirstThenLayersFreedAndUsageDrops()
    {
        _wharf.Check("run", "--name", "last", fixture.Image, "true");
        Assert.NotEmpty(ChainDirs());
        long withLayers = new Wharf.Engine.Storage.ImageStore(_wharf.GraphRoot).UsedBytes();

        // As podman: rmi -f removes the containers created from the image, so nothing is left
        // standing on its layers.
        _wharf.Check("rmi", "-f", fixture.Image);

        Assert.Empty(_wharf.Check("ps", "-a", "-q"));
        Assert.Empty(ChainDirs());
        long after = new Wharf.Engine.Storage.ImageStore(_wharf.GraphRoot).UsedBytes();
        Assert.True(after < withLayers, $"usage {after} did not drop below {withLayers}");
        string[] df = _wharf.Check("system", "df").Split('\n');
        Assert.Matches(@"^Images\s+0\s+0\s+0B\s+0B \(0%\)$", df[1]);
        Assert.Empty(_wharf.Check("system", "check"));
    }
}
