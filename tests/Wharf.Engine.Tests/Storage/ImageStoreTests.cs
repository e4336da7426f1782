using Wharf.Content;
using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine.Tests.Storage;

public sealed class ImageStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-store-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ImageRecord Record(int i) => new()
    {
        Id = i.ToString("x64", System.Globalization.CultureInfo.InvariantCulture),
        Digest = "sha256:" + i.ToString("x64", System.Globalization.CultureInfo.InvariantCulture),
        ManifestMediaType = MediaTypes.OciManifest,
        Names = [$"localhost/img{i}:latest"],
    };

    [Fact]
    public async Task Update_ManyWritersAtOnce_NoUpdateLost()
    {
        var tasks = Enumerable.Range(1, 40).Select(i => Task.Run(() =>
        {
            // A store object per writer, as separate wharf processes would have.
            new ImageStore(_dir).Update(images =>
            {
                images.Add(Record(i));
                return 0;
            });
        }));

        await Task.WhenAll(tasks);

        Assert.Equal(40, new ImageStore(_dir).ReadImages().Count);
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "wharf", "tmp")));
    }

    [Fact]
    public async Task WriteBlob_WrongDigest_NothingStored()
    {
        var store = new ImageStore(_dir);
        var d = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Compute("abc"u8), Size = 3 };

        await Assert.ThrowsAsync<ContentException>(() => store.WriteBlobAsync(d, new MemoryStream("abd"u8.ToArray()), CancellationToken.None));

        Assert.False(store.HasBlob(d));
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "wharf", "tmp")));
    }

    [Fact]
    public async Task CollectGarbage_BlobMarkedInflight_Kept()
    {
        var store = new ImageStore(_dir);
        var kept = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Compute("keep"u8), Size = 4 };
        var dropped = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Compute("drop"u8), Size = 4 };
        await store.WriteBlobAsync(kept, new MemoryStream("keep"u8.ToArray()), CancellationToken.None);
        await store.WriteBlobAsync(dropped, new MemoryStream("drop"u8.ToArray()), CancellationToken.None);

        using (store.MarkInflight([kept.Digest.ToString()]))
        {
            store.Update(images => store.CollectGarbage(images));
            Assert.True(store.HasBlob(kept));
            Assert.False(store.HasBlob(dropped));
        }

        store.Update(images => store.CollectGarbage(images));
        Assert.False(store.HasBlob(kept));
    }

    [Fact]
    public async Task WriteBlob_GzipLayer_UncompressedSizeRecordedWhileWriting()
    {
        var store = new ImageStore(_dir);
        byte[] raw = new byte[3_000_000];
        new Random(3).NextBytes(raw.AsSpan(0, 1_000_000));
        using var packed = new MemoryStream();
        using (var gz = new System.IO.Compression.GZipStream(packed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            gz.Write(raw);
        }

        byte[] body = packed.ToArray();
        var d = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Compute(body), Size = body.Length };

        await store.WriteBlobAsync(d, new MemoryStream(body), CancellationToken.None);

        Assert.Equal("3000000", File.ReadAllText(store.BlobPath(d.Digest) + ".usize"));
        Assert.Equal(3_000_000, store.UncompressedSize(d));
    }

    [Fact]
    public async Task WriteBlob_LabelledGzipButNot_StoredAndSizeIsStoredSize()
    {
        var store = new ImageStore(_dir);
        byte[] body = new byte[200_000];
        new Random(5).NextBytes(body);
        var d = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Compute(body), Size = body.Length };

        await store.WriteBlobAsync(d, new MemoryStream(body), CancellationToken.None);

        Assert.True(store.HasBlob(d));
        Assert.Equal(200_000, store.UncompressedSize(d));
    }

    [Fact]
    public async Task WriteBlob_GzipWrongDigest_NoBlobNoSizeRecorded()
    {
        var store = new ImageStore(_dir);
        using var packed = new MemoryStream();
        using (var gz = new System.IO.Compression.GZipStream(packed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            gz.Write(new byte[500_000]);
        }

        byte[] body = packed.ToArray();
        var d = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Compute("other"u8), Size = body.Length };

        await Assert.ThrowsAsync<ContentException>(() => store.WriteBlobAsync(d, new MemoryStream(body), CancellationToken.None));

        Assert.False(File.Exists(store.BlobPath(d.Digest) + ".usize"));
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "wharf", "tmp")));
    }
}
