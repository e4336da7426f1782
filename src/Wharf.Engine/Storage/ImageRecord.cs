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

    /// <summary>
    /// Digests of image indexes (manifest lists) this image was pulled or published through: the
    /// index's entry for the store's platform. A reference pinned to the index digest (what a job
    /// records for a multi-platform tag) finds this image without asking the registry again.
    /// Absent for an image that came by its own manifest digest.
    /// </summary>
    [JsonPropertyName("listDigests")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? ListDigests { get; set; }

    /// <summary>Whether <paramref name="digest"/> names this image: its manifest's digest, or an index's it came through.</summary>
    public bool HasDigest(string digest) => Digest == digest || (ListDigests?.Contains(digest) ?? false);

    /// <summary>
    /// Records that the index <paramref name="listDigest"/> resolved to <paramref name="target"/>
    /// in this store: it moves off any other image (a store keeps one platform's image per index,
    /// the one pulled or published last), as a name moves.
    /// </summary>
    public static void MoveListDigest(List<ImageRecord> images, ImageRecord target, string listDigest)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(target);
        foreach (var other in images)
        {
            if (!ReferenceEquals(other, target) && other.ListDigests?.Remove(listDigest) == true && other.ListDigests.Count == 0)
            {
                other.ListDigests = null;
            }
        }

        target.ListDigests ??= [];
        if (!target.ListDigests.Contains(listDigest))
        {
            target.ListDigests.Add(listDigest);
        }
    }

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
