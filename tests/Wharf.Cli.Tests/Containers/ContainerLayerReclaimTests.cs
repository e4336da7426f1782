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
}
