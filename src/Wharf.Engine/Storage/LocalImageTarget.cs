using System.Text.Json;
using Wharf.Content;
using Wharf.Oci;

namespace Wharf.Engine.Storage;

/// <summary>
/// The local store as a copy target: blobs go in as they come, and tagging a manifest registers
/// (or renames) an image in the index. A name moves from whatever image had it before.
/// </summary>
public sealed class LocalImageTarget : ITarget
{
    private readonly ImageStore _store;
    private readonly TimeProvider _time;

    public LocalImageTarget(ImageStore store, TimeProvider? time = null)
    {
        _store = store;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>A repository (<c>host/path</c>) the content came from, recorded as a mount source.</summary>
    public string? Location { get; init; }

    public Task<bool> ExistsAsync(Descriptor descriptor, CancellationToken cancellationToken) => Task.FromResult(_store.HasBlob(descriptor));

    public Task<Stream> FetchAsync(Descriptor descriptor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        return Task.FromResult(_store.OpenBlob(descriptor.Digest));
    }

    public async Task PushAsync(Descriptor descriptor, Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        await _store.WriteBlobAsync(descriptor, content, cancellationToken).ConfigureAwait(false);
        if (!MediaTypes.IsManifest(descriptor.MediaType) && descriptor.MediaType is not (MediaTypes.OciConfig or MediaTypes.DockerConfig))
        {
            // Measure the layer's uncompressed size now, while other layers are still downloading.
            await Task.Run(() => _store.UncompressedSize(descriptor), cancellationToken).ConfigureAwait(false);
        }
    }

    public Task<Descriptor> ResolveAsync(string reference, CancellationToken cancellationToken)
    {
        var image = _store.ReadImages().FirstOrDefault(i => i.Names.Contains(reference) || i.Id == reference || i.Digest == reference)
            ?? throw new ContentNotFoundException($"{reference}: image not known");
        return Task.FromResult(ManifestDescriptor(image));
    }

    public static Descriptor ManifestDescriptor(ImageRecord image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return new Descriptor { MediaType = image.ManifestMediaType, Digest = Digest.Parse(image.Digest), Size = image.ManifestSize };
    }

    public Task TagAsync(Descriptor descriptor, string reference, CancellationToken cancellationToken)
    {
        Register(descriptor, reference.Length == 0 ? null : reference);
        return Task.CompletedTask;
    }

    /// <summary>Records the image whose manifest is <paramref name="manifest"/>, giving it <paramref name="name"/>.</summary>
    /// <param name="listDigest">the index the manifest was chosen from, when it was (a multi-platform pull)</param>
    public ImageRecord Register(Descriptor manifest, string? name, Digest? listDigest = null)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        byte[] body = _store.ReadBlob(manifest.Digest);
        var parsed = ManifestParser.Parse(body, manifest.MediaType);
        if (parsed.IsIndex || parsed.Config is null)
        {
            throw new WharfException($"{manifest.Digest}: a manifest list cannot be stored as one image");
        }

        byte[] configBytes = _store.ReadBlob(parsed.Config.Digest);
        ImageConfig? config;
        try
        {
            config = JsonSerializer.Deserialize(configBytes, OciJsonContext.Default.ImageConfig);
        }
        catch (JsonException e)
        {
            throw new WharfException($"{parsed.Config.Digest}: image config is not valid JSON: {e.Message}", e);
        }

        long size = parsed.Layers.Sum(_store.UncompressedSize) + body.Length + configBytes.Length;
        var now = _time.GetUtcNow();
        string id = parsed.Config.Digest.Encoded;
        var fresh = new ImageRecord
        {
            Id = id,
            Digest = manifest.Digest.ToString(),
            ManifestMediaType = parsed.MediaType,
            ManifestSize = body.Length,
            Created = config?.CreatedTime ?? now,
            Added = now,
            Size = size,
            Blobs = [parsed.Config.Digest.ToString(), .. parsed.Layers.Select(l => l.Digest.ToString())],
        };

        return _store.Update(images =>
        {
            if (name is not null)
            {
                foreach (var other in images)
                {
                    if (other.Id != id)
                    {
                        other.Names.Remove(name);
                    }
                }
            }

            var record = images.FirstOrDefault(i => i.Id == id);
            if (record is null)
            {
                record = fresh;
                images.Add(record);
            }

            if (name is not null)
            {
                record.Names.Remove(name);
                record.Names.Insert(0, name);
            }

            if (listDigest is { } index)
            {
                ImageRecord.MoveListDigest(images, record, index.ToString());
            }

            if (Location is { } location && !record.Locations.Contains(location))
            {
                record.Locations.Add(location);
            }

            return record;
        });
    }
}
