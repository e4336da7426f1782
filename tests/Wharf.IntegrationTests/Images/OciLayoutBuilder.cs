using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Wharf.IntegrationTests.Images;

public sealed record BlobDescriptor(string MediaType, string Digest, long Size);

public sealed record BuiltImage(
    byte[] ManifestBytes,
    BlobDescriptor Manifest,
    BlobDescriptor Config,
    IReadOnlyList<BlobDescriptor> Layers,
    IReadOnlyList<string> DiffIds,
    string Architecture)
{
    public IEnumerable<BlobDescriptor> Blobs => [Config, .. Layers];
}

public sealed record BuiltIndex(byte[] IndexBytes, BlobDescriptor Index, IReadOnlyList<BuiltImage> Images);

/// <summary>
/// Writes an OCI image layout (image-spec image-layout.md: <c>oci-layout</c>, <c>index.json</c>,
/// <c>blobs/sha256/&lt;hex&gt;</c>) holding images made on the spot: a config and gzip'd tar layers of
/// random bytes, so every image is new to the registry and layer sizes are what the test asked for.
/// </summary>
public sealed class OciLayoutBuilder
{
    public const string ManifestMediaType = "application/vnd.oci.image.manifest.v1+json";
    public const string IndexMediaType = "application/vnd.oci.image.index.v1+json";
    public const string ConfigMediaType = "application/vnd.oci.image.config.v1+json";
    public const string LayerMediaType = "application/vnd.oci.image.layer.v1.tar+gzip";

    private readonly JsonArray _refs = [];

    public OciLayoutBuilder(string directory)
    {
        Directory = directory;
        System.IO.Directory.CreateDirectory(BlobDirectory);
        File.WriteAllText(Path.Combine(directory, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""");
        WriteIndexJson();
    }

    public string Directory { get; }

    private string BlobDirectory => Path.Combine(Directory, "blobs", "sha256");

    /// <summary>The reference skopeo and podman use for a tag in this layout.</summary>
    public string Reference(string tag) => $"oci:{Directory}:{tag}";

    /// <summary>
    /// An image whose layers are those of <paramref name="baseImage"/> (when given), then new random
    /// layers of <paramref name="layerSizes"/> bytes (before compression).
    /// </summary>
    public async Task<BuiltImage> AddImageAsync(
        IReadOnlyList<long> layerSizes,
        string architecture = "amd64",
        BuiltImage? baseImage = null,
        CancellationToken cancellationToken = default)
    {
        var layers = new List<BlobDescriptor>(baseImage?.Layers ?? []);
        var diffIdList = new List<string>(baseImage?.DiffIds ?? []);
        for (var i = 0; i < layerSizes.Count; i++)
        {
            var (layer, diffId) = await WriteLayerAsync(layers.Count, layerSizes[i], cancellationToken);
            layers.Add(layer);
            diffIdList.Add(diffId);
        }
        var diffIds = new JsonArray([.. diffIdList.Select(d => (JsonNode)JsonValue.Create(d))]);
        var history = new JsonArray([.. diffIdList.Select((_, i) =>
            (JsonNode)new JsonObject { ["created"] = "2026-01-01T00:00:00Z", ["created_by"] = $"integration test layer {i}" })]);

        var config = new JsonObject
        {
            ["created"] = "2026-01-01T00:00:00Z",
            ["architecture"] = architecture,
            ["os"] = "linux",
            ["config"] = new JsonObject
            {
                ["Env"] = new JsonArray("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
                ["Cmd"] = new JsonArray("/bin/sh"),
            },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = diffIds },
            ["history"] = history,
        };
        if (architecture == "arm64")
        {
            config["variant"] = "v8";
        }
        var configDescriptor = WriteBlob(ConfigMediaType, Encoding.UTF8.GetBytes(config.ToJsonString()));

        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = ManifestMediaType,
            ["config"] = ToJson(configDescriptor),
            ["layers"] = new JsonArray([.. layers.Select(l => (JsonNode)ToJson(l))]),
        };
        var manifestBytes = Encoding.UTF8.GetBytes(manifest.ToJsonString());
        var manifestDescriptor = WriteBlob(ManifestMediaType, manifestBytes);
        return new BuiltImage(manifestBytes, manifestDescriptor, configDescriptor, layers, diffIdList, architecture);
    }

    /// <summary>An image index over images already added, each with its platform (image-spec image-index.md).</summary>
    public BuiltIndex AddIndex(IReadOnlyList<BuiltImage> images)
    {
        var manifests = new JsonArray();
        foreach (var image in images)
        {
            var entry = ToJson(image.Manifest);
            var platform = new JsonObject { ["architecture"] = image.Architecture, ["os"] = "linux" };
            if (image.Architecture == "arm64")
            {
                platform["variant"] = "v8";
            }
            entry["platform"] = platform;
            manifests.Add(entry);
        }
        var index = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = IndexMediaType,
            ["manifests"] = manifests,
        };
        var bytes = Encoding.UTF8.GetBytes(index.ToJsonString());
        return new BuiltIndex(bytes, WriteBlob(IndexMediaType, bytes), images);
    }

    /// <summary>Names a manifest or index in index.json with <c>org.opencontainers.image.ref.name</c>.</summary>
    public void Tag(string tag, BlobDescriptor descriptor)
    {
        var entry = ToJson(descriptor);
        entry["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = tag };
        _refs.Add(entry);
        WriteIndexJson();
    }

    private void WriteIndexJson()
    {
        var index = new JsonObject { ["schemaVersion"] = 2, ["manifests"] = _refs.DeepClone() };
        File.WriteAllText(Path.Combine(Directory, "index.json"), index.ToJsonString());
    }

    private async Task<(BlobDescriptor Layer, string DiffId)> WriteLayerAsync(int number, long size, CancellationToken cancellationToken)
    {
        var temporary = Path.Combine(Directory, $".layer-{Guid.NewGuid():N}");
        using var compressedHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var uncompressedHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long compressedSize;
        await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
        {
            await using (var compressedTap = new HashingWriteStream(file, compressedHash))
            await using (var gzip = new GZipStream(compressedTap, CompressionLevel.Fastest, leaveOpen: true))
            await using (var tarTap = new HashingWriteStream(gzip, uncompressedHash))
            await using (var tar = new TarWriter(tarTap, TarEntryFormat.Pax, leaveOpen: true))
            {
                var directory = new PaxTarEntry(TarEntryType.Directory, $"layer{number}/") { Mode = (UnixFileMode)0b111_101_101 };
                await tar.WriteEntryAsync(directory, cancellationToken);
                var entry = new PaxTarEntry(TarEntryType.RegularFile, $"layer{number}/data.bin")
                {
                    Mode = (UnixFileMode)0b110_100_100,
                    DataStream = new RandomStream(size),
                };
                await tar.WriteEntryAsync(entry, cancellationToken);
            }
            compressedSize = file.Length;
        }
        var digest = "sha256:" + Convert.ToHexStringLower(compressedHash.GetHashAndReset());
        File.Move(temporary, Path.Combine(BlobDirectory, digest["sha256:".Length..]), overwrite: true);
        var diffId = "sha256:" + Convert.ToHexStringLower(uncompressedHash.GetHashAndReset());
        return (new BlobDescriptor(LayerMediaType, digest, compressedSize), diffId);
    }

    private BlobDescriptor WriteBlob(string mediaType, byte[] content)
    {
        var hex = Convert.ToHexStringLower(SHA256.HashData(content));
        File.WriteAllBytes(Path.Combine(BlobDirectory, hex), content);
        return new BlobDescriptor(mediaType, "sha256:" + hex, content.Length);
    }

    private static JsonObject ToJson(BlobDescriptor descriptor) => new()
    {
        ["mediaType"] = descriptor.MediaType,
        ["digest"] = descriptor.Digest,
        ["size"] = descriptor.Size,
    };
}
