using System.Text.Json;
using Wharf.Oci;

namespace Wharf.Content.Tests;

public class CopyEngineTests
{
    [Fact]
    public async Task Copy_Image_AllBlobsThenManifestThenTag()
    {
        var source = new MemoryTarget();
        var root = source.AddImage("v1", layers: 3);
        var destination = new MemoryTarget();

        var copied = await CopyEngine.CopyAsync(source, "v1", destination, "copy", new CopyOptions(), CancellationToken.None);

        Assert.Equal(root, copied);
        Assert.Equal(5, destination.Blobs.Count);
        Assert.Equal(root, destination.Tags["copy"]);
        Assert.All(source.Blobs, kv => Assert.Equal(kv.Value, destination.Blobs[kv.Key]));
    }

    [Fact]
    public async Task Copy_DestinationHasSomeBlobs_SkipsThemAndReportsSkipped()
    {
        var source = new MemoryTarget();
        var root = source.AddImage("v1", layers: 2);
        var destination = new MemoryTarget();
        var manifest = ManifestParser.Parse(source.Blobs[root.Digest], root.MediaType);
        var existing = manifest.Layers[0];
        destination.Blobs[existing.Digest] = source.Blobs[existing.Digest];
        var events = new List<CopyEvent>();

        await CopyEngine.CopyAsync(source, "v1", destination, "v1", new CopyOptions { Progress = e => { lock (events) { events.Add(e); } } }, CancellationToken.None);

        Assert.DoesNotContain(existing.Digest, destination.Pushed);
        Assert.Contains(events, e => e.Kind == CopyEventKind.Skipped && e.Descriptor.Digest == existing.Digest);
        Assert.Contains(manifest.Layers[1].Digest, destination.Pushed);
    }

    [Fact]
    public async Task Copy_ManyLayers_NeverMoreTransfersThanConcurrency()
    {
        var source = new MemoryTarget();
        source.AddImage("big", layers: 20);
        var destination = new MemoryTarget { PushDelay = TimeSpan.FromMilliseconds(20) };

        await CopyEngine.CopyAsync(source, "big", destination, "big", new CopyOptions { Concurrency = 3 }, CancellationToken.None);

        Assert.InRange(destination.MaxConcurrent, 1, 3);
        Assert.Equal(22, destination.Blobs.Count);
    }

    [Fact]
    public async Task CopyGraph_IndexWithSelector_CopiesOnlyTheChosenPlatform()
    {
        var source = new MemoryTarget();
        var amd = source.AddImage("amd", 1, "amd64");
        var arm = source.AddImage("arm", 1, "arm64");
        var index = new ImageIndex
        {
            MediaType = MediaTypes.OciIndex,
            Manifests =
            [
                amd with { Platform = new Platform { Architecture = "amd64", Os = "linux" } },
                arm with { Platform = new Platform { Architecture = "arm64", Os = "linux" } },
            ],
        };
        var root = source.Add(MediaTypes.OciIndex, JsonSerializer.SerializeToUtf8Bytes(index, OciJsonContext.Default.ImageIndex));
        var destination = new MemoryTarget();

        var chosen = await CopyEngine.CopyGraphAsync(source, destination, root, new CopyOptions
        {
            SelectManifest = ms => ms.First(m => m.Platform!.Architecture == "arm64"),
        }, CancellationToken.None);

        Assert.Equal(arm.Digest, chosen.Digest);
        Assert.True(destination.Blobs.ContainsKey(arm.Digest));
        Assert.False(destination.Blobs.ContainsKey(amd.Digest));
        Assert.False(destination.Blobs.ContainsKey(root.Digest));
    }

    [Fact]
    public async Task Copy_SourceBlobCorrupted_FailsAndDestinationHasNoManifest()
    {
        var source = new MemoryTarget();
        var root = source.AddImage("v1", layers: 1);
        var layer = ManifestParser.Parse(source.Blobs[root.Digest], root.MediaType).Layers[0];
        source.Blobs[layer.Digest] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
        var destination = new MemoryTarget();

        await Assert.ThrowsAsync<ContentException>(() => CopyEngine.CopyAsync(source, "v1", destination, "v1", new CopyOptions(), CancellationToken.None));

        Assert.False(destination.Blobs.ContainsKey(root.Digest));
        Assert.Empty(destination.Tags);
    }

    [Fact]
    public async Task Copy_MountableDestination_MountsInsteadOfUploading()
    {
        var source = new MemoryTarget();
        source.AddImage("v1", layers: 2);
        var destination = new MountingTarget();

        await CopyEngine.CopyAsync(source, "v1", destination, "v1", new CopyOptions { MountCandidates = _ => ["lab/base"] }, CancellationToken.None);

        Assert.Equal(3, destination.Mounted.Count);
        Assert.Single(destination.Pushed);
    }

    [Fact]
    public async Task Copy_TransferDropsOnce_BlobSentAgainFromTheStart()
    {
        var source = new MemoryTarget();
        source.AddImage("v1", layers: 1);
        var destination = new FlakyTarget();

        await CopyEngine.CopyAsync(source, "v1", destination, "v1", new CopyOptions { IsTransient = e => e is IOException }, CancellationToken.None);

        Assert.Equal(3, destination.Blobs.Count);
        Assert.Equal(1, destination.Failures);
    }

    [Fact]
    public async Task Copy_FailureNotTransient_NoRetry()
    {
        var source = new MemoryTarget();
        source.AddImage("v1", layers: 1);
        var destination = new FlakyTarget();

        await Assert.ThrowsAsync<IOException>(() => CopyEngine.CopyAsync(source, "v1", destination, "v1", new CopyOptions(), CancellationToken.None));
        Assert.Equal(1, destination.Failures);
    }

    private sealed class FlakyTarget : ITarget
    {
        private readonly MemoryTarget _inner = new();

        public int Failures;

        public IDictionary<Digest, byte[]> Blobs => _inner.Blobs;

        public async Task PushAsync(Descriptor descriptor, Stream content, CancellationToken cancellationToken)
        {
            if (descriptor.MediaType == MediaTypes.OciLayerGzip && Interlocked.CompareExchange(ref Failures, 1, 0) == 0)
            {
                // Read part of the body, then "lose the connection".
                await content.ReadExactlyAsync(new byte[4], cancellationToken);
                throw new IOException("connection reset by peer");
            }

            await _inner.PushAsync(descriptor, content, cancellationToken);
        }

        public Task<bool> ExistsAsync(Descriptor descriptor, CancellationToken cancellationToken) => _inner.ExistsAsync(descriptor, cancellationToken);

        public Task<Stream> FetchAsync(Descriptor descriptor, CancellationToken cancellationToken) => _inner.FetchAsync(descriptor, cancellationToken);

        public Task<Descriptor> ResolveAsync(string reference, CancellationToken cancellationToken) => _inner.ResolveAsync(reference, cancellationToken);

        public Task TagAsync(Descriptor descriptor, string reference, CancellationToken cancellationToken) => _inner.TagAsync(descriptor, reference, cancellationToken);
    }

    private sealed class MountingTarget : ITarget, IMountable
    {
        private readonly MemoryTarget _inner = new();

        public List<Digest> Mounted { get; } = [];

        public IReadOnlyCollection<Digest> Pushed => _inner.Pushed;

        public Task<bool> MountAsync(Descriptor descriptor, string fromRepository, CancellationToken cancellationToken)
        {
            lock (Mounted)
            {
                Mounted.Add(descriptor.Digest);
            }

            _inner.Blobs[descriptor.Digest] = [];
            return Task.FromResult(true);
        }

        public Task<bool> ExistsAsync(Descriptor descriptor, CancellationToken cancellationToken) => _inner.ExistsAsync(descriptor, cancellationToken);

        public Task<Stream> FetchAsync(Descriptor descriptor, CancellationToken cancellationToken) => _inner.FetchAsync(descriptor, cancellationToken);

        public Task PushAsync(Descriptor descriptor, Stream content, CancellationToken cancellationToken) => _inner.PushAsync(descriptor, content, cancellationToken);

        public Task<Descriptor> ResolveAsync(string reference, CancellationToken cancellationToken) => _inner.ResolveAsync(reference, cancellationToken);

        public Task TagAsync(Descriptor descriptor, string reference, CancellationToken cancellationToken) => _inner.TagAsync(descriptor, reference, cancellationToken);
    }
}
