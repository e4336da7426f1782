using Wharf.Engine.Images;
using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine.Tests.SystemVerbs;

/// <summary>wharf system check over a store holding one real image: damage made behind the store's back is found and repaired.</summary>
public sealed class StoreCheckTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-check-").FullName;
    private readonly ImageStore _store;

    public StoreCheckTests()
    {
        _store = new ImageStore(Path.Combine(_dir, "graph"));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<(ImageRecord Image, Descriptor Layer)> ImageAsync(string name)
    {
        var writer = new ImageWriter(_store);
        // A layer of its own per image (one file holding the name), so damage to one image's layer is not another's.
        string upper = Path.Combine(_dir, "upper-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(upper);
        await File.WriteAllTextAsync(Path.Combine(upper, "name"), name);
        var changes = Wharf.Engine.Containers.ContainerChanges.Compute(upper, [], [], []);
        var layer = await Layer.FromChangesAsync(changes, Path.Combine(_dir, Guid.NewGuid().ToString("N")), ImageFormat.Oci, default);
        var stored = await writer.WriteLayerAsync(layer, default);
        var config = new ImageConfig { Architecture = "amd64", Os = "linux", Author = name, RootFs = new RootFs { DiffIds = [layer.DiffId.ToString()] } };
        var image = await writer.WriteAsync(config, [stored], ImageFormat.Oci, default);
        return (writer.Register(image, name, [], TimeProvider.System), stored);
    }

    private SystemCheckReport Check(bool quick = false, bool repair = false) =>
        new StoreCheck(_store, new SystemCheckOptions { Quick = quick, Repair = repair }).Run();

    [Fact]
    public async Task Run_SoundStore_NoProblems()
    {
        await ImageAsync("localhost/a:1");

        var report = Check();

        Assert.Empty(report.Problems);
        Assert.True(report.Clean);
    }

    [Fact]
    public async Task Run_LayerBlobDeleted_ImageReportedAndRepairRemovesOnlyIt()
    {
        var (broken, layer) = await ImageAsync("localhost/broken:1");
        File.Delete(_store.BlobPath(layer.Digest));
        var (kept, _) = await ImageAsync("localhost/kept:1");

        var report = Check();

        Assert.False(report.Clean);
        var problem = Assert.Single(report.Problems);
        Assert.Equal($"image {broken.ShortId} (localhost/broken:1): layer blob {layer.Digest} is missing", problem.ToString());

        var repaired = Check(repair: true);
        Assert.True(repaired.Clean);
        Assert.Contains($"image {broken.Id} (localhost/broken:1)", repaired.Removed);
        Assert.Equal([kept.Id], _store.ReadImages().Select(i => i.Id));
        Assert.Empty(Check().Problems);
    }

    [Fact]
    public async Task Run_LayerBlobTruncated_BlobAndImageReported()
    {
        var (image, layer) = await ImageAsync("localhost/a:1");
        string path = _store.BlobPath(layer.Digest);
        byte[] bytes = await File.ReadAllBytesAsync(path);
        await File.WriteAllBytesAsync(path, bytes[..10]);

        var report = Check(quick: true);

        Assert.Equal(
            [$"blob {layer.Digest}: 10 bytes, its manifest says {layer.Size}", $"image {image.ShortId} (localhost/a:1): layer blob {layer.Digest} has 10 bytes, the manifest says {layer.Size}"],
            report.Problems.Select(p => p.ToString()));
        Check(repair: true);
        Assert.False(File.Exists(path));
        Assert.Empty(_store.ReadImages());
    }

    [Fact]
    public async Task Run_BlobContentChangedSameSize_FoundUnlessQuick()
    {
        var (image, layer) = await ImageAsync("localhost/a:1");
        string path = _store.BlobPath(layer.Digest);
        byte[] bytes = await File.ReadAllBytesAsync(path);
        bytes[^1] ^= 0xff;
        await File.WriteAllBytesAsync(path, bytes);

        Assert.Empty(Check(quick: true).Problems);
        var report = Check();

        Assert.StartsWith($"blob {layer.Digest}: its content has digest sha256:", report.Problems[0].ToString(), StringComparison.Ordinal);
        Assert.Equal($"image {image.ShortId} (localhost/a:1): layer blob {layer.Digest} is damaged", report.Problems[1].ToString());
    }

    [Fact]
    public async Task Run_LeftoverOfDeadProcess_ReportedThenRemovedByNextUpdate()
    {
        await ImageAsync("localhost/a:1");
        // PID 0 never names a live process: what a killed writer leaves under tmp/ and layers/tmp/.
        await File.WriteAllTextAsync(Path.Combine(_store.Root, "tmp", "0-images.json.abc"), "{");
        Directory.CreateDirectory(Path.Combine(_store.Root, "layers", "tmp", "0-abc", "diff"));
        Directory.CreateDirectory(Path.Combine(_store.Root, "layers", "pulled", new string('e', 64)));

        var report = Check();

        Assert.Equal(["layers/pulled/" + new string('e', 64), "layers/tmp/0-abc", "tmp/0-images.json.abc"], report.Problems.Select(p => p.Subject).Order(StringComparer.Ordinal));
        _store.Update(_ => 0);
        Assert.Empty(Check().Problems);
    }

    [Fact]
    public async Task Run_LayerDirWithWrongDiffId_ReportedAndRepairRemovesIt()
    {
        var (_, _) = await ImageAsync("localhost/a:1");
        var config = ImageWriter.ParseConfig(_store.ReadBlob(_store.ReadImages()[0].Blobs[0]));
        string chain = Digest.Parse(config.RootFs.DiffIds[0]).Encoded;
        string dir = Path.Combine(_store.Root, "layers", chain);
        Directory.CreateDirectory(Path.Combine(dir, "diff"));
        await File.WriteAllTextAsync(Path.Combine(dir, "diffid"), "sha256:" + new string('d', 64));

        var report = Check();

        Assert.Equal($"layer {chain}: unpacked with diff ID sha256:{new string('d', 64)}, its image says {config.RootFs.DiffIds[0]}", Assert.Single(report.Problems).ToString());
        Check(repair: true);
        Assert.False(Directory.Exists(dir));
        Assert.Single(_store.ReadImages());
    }
}
