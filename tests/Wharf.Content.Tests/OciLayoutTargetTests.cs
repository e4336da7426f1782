using Wharf.Oci;

namespace Wharf.Content.Tests;

public sealed class OciLayoutTargetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-layout-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Copy_IntoLayoutAndBack_SameDigestsAndRefName()
    {
        var source = new MemoryTarget();
        var root = source.AddImage("v1", layers: 2);
        var layout = new OciLayoutTarget(_dir).Initialize();

        await CopyEngine.CopyAsync(source, "v1", layout, "localhost/app:v1", new CopyOptions(), CancellationToken.None);
        var back = new MemoryTarget();
        await CopyEngine.CopyAsync(new OciLayoutTarget(_dir), "localhost/app:v1", back, "x", new CopyOptions(), CancellationToken.None);

        Assert.Equal("{\"imageLayoutVersion\":\"1.0.0\"}", File.ReadAllText(Path.Combine(_dir, "oci-layout")));
        Assert.True(File.Exists(Path.Combine(_dir, "blobs", "sha256", root.Digest.Encoded)));
        var entry = Assert.Single(layout.ReadIndex());
        Assert.Equal("localhost/app:v1", entry.Annotations![OciLayoutTarget.RefNameAnnotation]);
        Assert.Equal(source.Blobs.Keys.Select(k => k.ToString()).Order(), back.Blobs.Keys.Select(k => k.ToString()).Order());
    }

    [Fact]
    public async Task Push_WrongContent_NothingUnderTheFinalName()
    {
        var layout = new OciLayoutTarget(_dir).Initialize();
        var d = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Compute("right"u8), Size = 5 };

        await Assert.ThrowsAsync<ContentException>(() => layout.PushAsync(d, new MemoryStream("wrong"u8.ToArray()), CancellationToken.None));

        Assert.False(await layout.ExistsAsync(d, CancellationToken.None));
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "blobs", "sha256")));
    }

    [Fact]
    public async Task Resolve_UnknownRef_ThrowsNotFound()
    {
        var layout = new OciLayoutTarget(_dir).Initialize();
        await Assert.ThrowsAsync<ContentNotFoundException>(() => layout.ResolveAsync("nope", CancellationToken.None));
    }
}
