using System.Collections.Concurrent;
using Wharf.Oci;

namespace Wharf.Content.Tests;

/// <summary>An in-memory target that counts pushes and the most transfers seen at once.</summary>
internal sealed class MemoryTarget : ITarget
{
    private int _active;

    public ConcurrentDictionary<Digest, byte[]> Blobs { get; } = new();

    public ConcurrentDictionary<string, Descriptor> Tags { get; } = new();

    public ConcurrentBag<Digest> Pushed { get; } = [];

    public int MaxConcurrent;

    public TimeSpan PushDelay { get; init; }

    public Task<bool> ExistsAsync(Descriptor descriptor, CancellationToken cancellationToken) => Task.FromResult(Blobs.ContainsKey(descriptor.Digest));

    public Task<Stream> FetchAsync(Descriptor descriptor, CancellationToken cancellationToken) =>
        Blobs.TryGetValue(descriptor.Digest, out var b) ? Task.FromResult<Stream>(new MemoryStream(b)) : throw new ContentNotFoundException(descriptor.Digest.ToString());

    public async Task PushAsync(Descriptor descriptor, Stream content, CancellationToken cancellationToken)
    {
        int now = Interlocked.Increment(ref _active);
        InterlockedMax(ref MaxConcurrent, now);
        try
        {
            var buffer = new MemoryStream();
            await content.CopyToAsync(buffer, cancellationToken);
            if (PushDelay > TimeSpan.Zero)
            {
                await Task.Delay(PushDelay, cancellationToken);
            }

            Blobs[descriptor.Digest] = buffer.ToArray();
            Pushed.Add(descriptor.Digest);
        }
        finally
        {
            Interlocked.Decrement(ref _active);
        }
    }

    public Task<Descriptor> ResolveAsync(string reference, CancellationToken cancellationToken) =>
        Tags.TryGetValue(reference, out var d) ? Task.FromResult(d) : throw new ContentNotFoundException(reference);

    public Task TagAsync(Descriptor descriptor, string reference, CancellationToken cancellationToken)
    {
        Tags[reference] = descriptor;
        return Task.CompletedTask;
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }

    public Descriptor Add(string mediaType, byte[] content)
    {
        var d = new Descriptor { MediaType = mediaType, Digest = Digest.Compute(content), Size = content.Length };
        Blobs[d.Digest] = content;
        return d;
    }

    /// <summary>An image of <paramref name="layers"/> random layers, tagged <paramref name="tag"/>.</summary>
    public Descriptor AddImage(string tag, int layers, string architecture = "amd64")
    {
        var layerDescriptors = Enumerable.Range(0, layers).Select(_ => Add(MediaTypes.OciLayerGzip, Guid.NewGuid().ToByteArray())).ToList();
        var config = Add(MediaTypes.OciConfig, System.Text.Encoding.UTF8.GetBytes($"{{\"architecture\":\"{architecture}\",\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[]}},\"n\":\"{Guid.NewGuid()}\"}}"));
        var manifest = new ImageManifest { MediaType = MediaTypes.OciManifest, Config = config, Layers = layerDescriptors };
        var d = Add(MediaTypes.OciManifest, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(manifest, OciJsonContext.Default.ImageManifest));
        Tags[tag] = d;
        return d;
    }
}
