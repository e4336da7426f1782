using System.Text.Encodings.Web;
using System.Text.Json;
using Wharf.Engine.Containers;
using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine.Images;

/// <summary>The manifest format an image is written in: podman's <c>--format oci|docker</c>.</summary>
public enum ImageFormat
{
    Oci,
    Docker,
}

/// <summary>Media types per format, and the one conversion of a layer's type between them.</summary>
public static class ImageFormats
{
    public static ImageFormat Parse(string text) => text switch
    {
        "oci" => ImageFormat.Oci,
        "docker" => ImageFormat.Docker,
        _ => throw new WharfException($"unrecognized image type \"{text}\""),
    };

    public static string ManifestMediaType(ImageFormat format) =>
        format == ImageFormat.Docker ? MediaTypes.DockerManifest : MediaTypes.OciManifest;

    public static string ConfigMediaType(ImageFormat format) =>
        format == ImageFormat.Docker ? MediaTypes.DockerConfig : MediaTypes.OciConfig;

    public static string GzipLayerMediaType(ImageFormat format) =>
        format == ImageFormat.Docker ? MediaTypes.DockerLayerGzip : MediaTypes.OciLayerGzip;

    /// <summary>
    /// A layer's media type in <paramref name="format"/>. Docker schema2 has no zstd or
    /// uncompressed layer type, so such a layer cannot go into a docker manifest; foreign and
    /// unknown types pass through as they are.
    /// </summary>
    public static string ConvertLayer(string mediaType, ImageFormat format) => (mediaType, format) switch
    {
        (MediaTypes.OciLayerGzip, ImageFormat.Docker) => MediaTypes.DockerLayerGzip,
        (MediaTypes.DockerLayerGzip, ImageFormat.Oci) => MediaTypes.OciLayerGzip,
        (MediaTypes.OciLayerZstd or MediaTypes.OciLayerTar, ImageFormat.Docker) => throw new WharfException($"a layer of type {mediaType} cannot be written in docker format"),
        _ => mediaType,
    };
}

/// <summary>
/// A new layer: its compressed blob in a file until stored, the blob's descriptor (digest of the
/// compressed bytes), and the diff ID (digest of the uncompressed tar) the config lists.
/// </summary>
public sealed record Layer(Descriptor Blob, Digest DiffId, long UncompressedSize, string BlobFile)
{
    /// <summary>Writes <paramref name="changes"/> (a directory diff) as a gzip layer into <paramref name="blobFile"/>.</summary>
    public static async Task<Layer> FromChangesAsync(IReadOnlyList<ContainerChange> changes, string blobFile, ImageFormat format, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(changes);
        var (diffId, digest, size, tarSize) = await LayerTar.WriteAsync(changes, blobFile, cancellationToken).ConfigureAwait(false);
        var blob = new Descriptor { MediaType = ImageFormats.GzipLayerMediaType(format), Digest = digest, Size = size };
        return new Layer(blob, diffId, tarSize, blobFile);
    }
}

/// <summary>An image as written: its manifest, config and layer descriptors in the store.</summary>
public sealed record WrittenImage(Descriptor Manifest, Descriptor Config, IReadOnlyList<Descriptor> Layers, DateTimeOffset? Created)
{
    /// <summary>podman's image ID: the config digest's hex.</summary>
    public string Id => Config.Digest.Encoded;
}

/// <summary>
/// The one place images are written to the local store: commit, build and load all end here, so
/// the config and manifest have one shape, one media-type rule and one way to be digested.
/// Digests are taken over the exact bytes stored (CONVENTIONS: never over re-serialised JSON).
/// </summary>
public sealed class ImageWriter(ImageStore store)
{
    /// <summary>
    /// Escapes only what JSON requires, as Go's encoder (podman's) nearly does: the default encoder
    /// would write every <c>+</c> of a media type as <c>\u002B</c> and every quote in a history line as <c>\u0022</c>.
    /// </summary>
    private static readonly OciJsonContext Json = new(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    private readonly ImageStore _store = store ?? throw new ArgumentNullException(nameof(store));

    /// <summary>In-flight marks on the blobs written since the last <see cref="Register"/>.</summary>
    private readonly List<IDisposable> _held = [];

    /// <summary>
    /// Marks a blob in use until the image is registered: a concurrent rmi or prune collects blobs
    /// no image names, and a new image's blobs are stored before the image is.
    /// </summary>
    private void Hold(Descriptor blob) => _held.Add(_store.MarkInflight([blob.Digest.ToString()]));

    /// <summary>The config's bytes as written: field order that of <see cref="ImageConfig"/> (the spec's).</summary>
    public static byte[] Serialize(ImageConfig config) => JsonSerializer.SerializeToUtf8Bytes(config, Json.ImageConfig);

    public static byte[] Serialize(ImageManifest manifest) => JsonSerializer.SerializeToUtf8Bytes(manifest, Json.ImageManifest);

    /// <summary>Reads an image's config as the typed model (unknown fields kept for writing back).</summary>
    public ImageConfig ReadConfig(ImageRecord image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var manifest = ManifestParser.Parse(_store.ReadBlob(image.Digest), image.ManifestMediaType);
        return ParseConfig(_store.ReadBlob(manifest.Config!.Digest));
    }

    public static ImageConfig ParseConfig(byte[] bytes)
    {
        try
        {
            return JsonSerializer.Deserialize(bytes, OciJsonContext.Default.ImageConfig) ?? new ImageConfig();
        }
        catch (JsonException e)
        {
            throw new WharfException($"image config is not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>
    /// Stores a new layer's blob once it reads back as what the config will list (see
    /// <see cref="LayerCheck"/>); the returned descriptor is what the manifest lists, its size the
    /// bytes actually written. A layer that fails the check is never stored.
    /// </summary>
    public async Task<Descriptor> WriteLayerAsync(Layer layer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var check = await LayerCheck.VerifyAsync(layer.BlobFile, layer.DiffId, null, cancellationToken).ConfigureAwait(false);
        if (check.Digest != layer.Blob.Digest || check.Size != layer.Blob.Size)
        {
            throw new WharfException($"writing layer {layer.DiffId}: the blob reads back as {check.Digest} ({check.Size} bytes), written as {layer.Blob.Digest} ({layer.Blob.Size} bytes)");
        }

        return await StoreLayerAsync(layer.Blob, layer.BlobFile, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Stores a layer that arrived as a file (a docker-archive's), checked end to end against the
    /// diff ID its config lists; gzip or plain tar, as the bytes say.
    /// </summary>
    public async Task<(Descriptor Blob, long TarSize)> WriteLayerAsync(string file, Digest diffId, string name, CancellationToken cancellationToken)
    {
        var check = await LayerCheck.VerifyAsync(file, diffId, name, cancellationToken).ConfigureAwait(false);
        if (check.StreamEnd < check.Size)
        {
            // Zero padding after the gzip member is read, but not stored: Go's gzip reader (podman,
            // skopeo) takes it for a broken next member ("gzip: invalid header"), so the blob this
            // image is pushed and saved with is the member alone.
            string trimmed = file + ".member";
            try
            {
                await CopyPrefixAsync(file, trimmed, check.StreamEnd, cancellationToken).ConfigureAwait(false);
                return await WriteLayerAsync(trimmed, diffId, name, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                File.Delete(trimmed);
            }
        }

        bool gzip = check.Digest != check.DiffId;
        var blob = new Descriptor { MediaType = gzip ? MediaTypes.OciLayerGzip : MediaTypes.OciLayerTar, Digest = check.Digest, Size = check.Size };
        return (await StoreLayerAsync(blob, file, cancellationToken).ConfigureAwait(false), check.TarSize);
    }

    /// <summary>Copies the first <paramref name="length"/> bytes of <paramref name="source"/> to a new file.</summary>
    private static async Task CopyPrefixAsync(string source, string target, long length, CancellationToken cancellationToken)
    {
        var input = File.OpenRead(source);
        await using (input.ConfigureAwait(false))
        {
            var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write);
            await using (output.ConfigureAwait(false))
            {
                byte[] buffer = new byte[1 << 16];
                while (length > 0)
                {
                    int n = await input.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length)), cancellationToken).ConfigureAwait(false);
                    if (n == 0)
                    {
                        throw new EndOfStreamException($"{source} ended before byte {length}");
                    }

                    await output.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    length -= n;
                }
            }
        }
    }

    private async Task<Descriptor> StoreLayerAsync(Descriptor blob, string file, CancellationToken cancellationToken)
    {
        Hold(blob);
        if (_store.HasBlob(blob))
        {
            return blob;
        }

        var stream = File.OpenRead(file);
        await using (stream.ConfigureAwait(false))
        {
            await _store.WriteBlobAsync(blob, stream, cancellationToken).ConfigureAwait(false);
        }

        return blob;
    }

    public Task<Descriptor> WriteConfigAsync(ImageConfig config, ImageFormat format, CancellationToken cancellationToken) =>
        WriteConfigAsync(Serialize(config), format, cancellationToken);

    /// <summary>Stores config bytes as given (load keeps an archive's bytes, so the image ID stays the same).</summary>
    public async Task<Descriptor> WriteConfigAsync(byte[] configBytes, ImageFormat format, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(configBytes);
        var descriptor = new Descriptor { MediaType = ImageFormats.ConfigMediaType(format), Digest = Digest.Compute(configBytes), Size = configBytes.Length };
        Hold(descriptor);
        await _store.WriteBlobAsync(descriptor, new MemoryStream(configBytes), cancellationToken).ConfigureAwait(false);
        return descriptor;
    }

    /// <summary>Stores the manifest for a stored config and layers, each layer's media type converted to <paramref name="format"/>.</summary>
    public Task<WrittenImage> WriteManifestAsync(Descriptor config, IReadOnlyList<Descriptor> layers, ImageFormat format, DateTimeOffset? created, CancellationToken cancellationToken) =>
        WriteManifestAsync(config, layers, format, created, null, cancellationToken);

    /// <param name="annotations">The manifest's annotations (<c>build --annotation</c>); none when null or empty.</param>
    public async Task<WrittenImage> WriteManifestAsync(Descriptor config, IReadOnlyList<Descriptor> layers, ImageFormat format, DateTimeOffset? created, IReadOnlyDictionary<string, string>? annotations, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(layers);
        var converted = layers.Select(l => new Descriptor { MediaType = ImageFormats.ConvertLayer(l.MediaType, format), Digest = l.Digest, Size = l.Size }).ToList();
        string manifestType = ImageFormats.ManifestMediaType(format);
        byte[] bytes = Serialize(new ImageManifest
        {
            MediaType = manifestType,
            Config = new Descriptor { MediaType = ImageFormats.ConfigMediaType(format), Digest = config.Digest, Size = config.Size },
            Layers = converted,
            Annotations = annotations is { Count: > 0 } ? annotations : null,
        });
        var manifest = new Descriptor { MediaType = manifestType, Digest = Digest.Compute(bytes), Size = bytes.Length };
        Hold(manifest);
        await _store.WriteBlobAsync(manifest, new MemoryStream(bytes), cancellationToken).ConfigureAwait(false);
        return new WrittenImage(manifest, config, converted, created);
    }

    /// <summary>Config then manifest, for callers with nothing to report in between.</summary>
    public Task<WrittenImage> WriteAsync(ImageConfig config, IReadOnlyList<Descriptor> layers, ImageFormat format, CancellationToken cancellationToken) =>
        WriteAsync(config, layers, format, null, cancellationToken);

    public async Task<WrittenImage> WriteAsync(ImageConfig config, IReadOnlyList<Descriptor> layers, ImageFormat format, IReadOnlyDictionary<string, string>? annotations, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);
        var configDescriptor = await WriteConfigAsync(config, format, cancellationToken).ConfigureAwait(false);
        return await WriteManifestAsync(configDescriptor, layers, format, config.CreatedTime, annotations, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Records a written image in the store's index. <paramref name="name"/>, when given, moves to
    /// it from any other image (a name points at one image); names the same image already had stay.
    /// </summary>
    public ImageRecord Register(WrittenImage image, string? name, IEnumerable<string> locations, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(time);

        // The index never lists an image whose blobs are not all stored under their final names.
        foreach (var blob in image.Layers.Prepend(image.Config).Prepend(image.Manifest))
        {
            // A base layer from a read-only store is copied in: the new image is the user's own.
            if (!_store.HasBlob(blob) && !_store.CopyFromReadOnly(blob))
            {
                throw new WharfException($"recording image {image.Id[..12]}: blob {blob.Digest} ({blob.Size} bytes) is not in the store");
            }
        }

        var now = time.GetUtcNow();
        var record = new ImageRecord
        {
            Id = image.Id,
            Digest = image.Manifest.Digest.ToString(),
            ManifestMediaType = image.Manifest.MediaType,
            ManifestSize = image.Manifest.Size,
            Locations = [.. locations],
            Created = image.Created ?? now,
            Added = now,
            Size = image.Layers.Sum(_store.UncompressedSize) + image.Config.Size + image.Manifest.Size,
            Blobs = [image.Config.Digest.ToString(), .. image.Layers.Select(l => l.Digest.ToString())],
        };
        var registered = _store.Update(images =>
        {
            var names = images.FirstOrDefault(i => i.Id == record.Id)?.Names ?? [];
            if (name is not null)
            {
                foreach (var other in images)
                {
                    other.Names.Remove(name);
                }

                names.Remove(name);
                names.Insert(0, name);
            }

            var stored = record with { Names = names };
            images.RemoveAll(i => i.Id == record.Id);
            images.Add(stored);
            return stored;
        });
        Release();
        return registered;
    }

    /// <summary>
    /// Ends the in-flight marks on what was written; <see cref="Register"/> does it, a caller that
    /// records the image itself (load, through <see cref="LocalImageTarget"/>) calls it after, or on failure.
    /// </summary>
    public void Release()
    {
        foreach (var mark in _held)
        {
            mark.Dispose();
        }

        _held.Clear();
    }
}
