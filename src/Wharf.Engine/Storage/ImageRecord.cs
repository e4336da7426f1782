using System.Text.Json.Serialization;

namespace Wharf.Engine.Storage;

/// <summary>One local image: a manifest and its config, with the names that point at it.</summary>
public sealed record ImageRecord
{
    /// <summary>The config digest's hex: podman's image ID.</summary>
    [JsonPropertyName("id")]
    public required string Id { get; init; }

    /// <summary>The manifest digest.</summary>
    [JsonPropertyName("digest")]
    public required string Digest { get; init; }

    [JsonPropertyName("manifestMediaType")]
    public required string ManifestMediaType { get; init; }

    [JsonPropertyName("manifestSize")]
    public long ManifestSize { get; init; }

    /// <summary>Full names, <c>host/path:tag</c>, newest first.</summary>
    [JsonPropertyName("names")]
    public List<string> Names { get; init; } = [];

    /// <summary>Repositories (<c>host/path</c>) known to hold this image's blobs: mount sources for push.</summary>
    [JsonPropertyName("locations")]
    public List<string> Locations { get; init; } = [];

    /// <summary>The config's <c>created</c>.</summary>
    [JsonPropertyName("created")]
    public DateTimeOffset Created { get; init; }

    /// <summary>When this store first got the image.</summary>
    [JsonPropertyName("added")]
    public DateTimeOffset Added { get; init; }

    /// <summary>Uncompressed layer bytes plus manifest and config: podman's SIZE.</summary>
    [JsonPropertyName("size")]
    public long Size { get; init; }

    /// <summary>Blobs this image holds on to: config and layers (the manifest is <see cref="Digest"/>).</summary>
    [JsonPropertyName("blobs")]
    public List<string> Blobs { get; init; } = [];

    [JsonIgnore]
    public string ShortId => Id[..12];

    /// <summary>
    /// The read-only store (<c>additionalimagestores</c>) this image was found in; null for the
    /// user's own store. Never written: an index only lists its own images.
    /// </summary>
    [JsonIgnore]
    public string? ReadOnlyStore { get; init; }

    [JsonIgnore]
    public bool ReadOnly => ReadOnlyStore is not null;
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(List<ImageRecord>))]
[JsonSerializable(typeof(InflightRecord))]
internal sealed partial class StoreJsonContext : JsonSerializerContext;

/// <summary>
/// Blobs a running pull or load is about to use; garbage collection keeps them. <c>Reserved</c>:
/// the blobs (digest → size) the pull will add, counted against the quota until they land in blobs/.
/// </summary>
internal sealed record InflightRecord(int Pid, List<string> Digests, Dictionary<string, long>? Reserved = null);
