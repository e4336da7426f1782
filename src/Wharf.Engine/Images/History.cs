using System.Text.Json.Nodes;
using Wharf.Engine.Containers;
using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine;

/// <summary>One row of podman image history, newest first.</summary>
/// <param name="Id">The 64-hex ID of the local image whose top layer this entry made, or <c>&lt;missing&gt;</c>.</param>
/// <param name="Size">The uncompressed size of the layer the entry added; 0 for an empty layer.</param>
public sealed record HistoryRow(string Id, DateTimeOffset? Created, string CreatedBy, long Size, string Comment, IReadOnlyList<string> Tags);

public sealed record HistoryReport(IReadOnlyList<HistoryRow> Entries);

public static class ImageHistory
{
    public const string Missing = "<missing>";
}

public sealed partial class LocalImages
{
    /// <summary>
    /// podman image history: the config's history entries, newest first. As libimage does, the
    /// entries are walked from the top layer down (an entry that is not <c>empty_layer</c> moves to the
    /// layer below); an entry gets the ID of a local image whose top layer is that layer (the image
    /// itself first, each ID once), else <c>&lt;missing&gt;</c>.
    /// </summary>
    public HistoryReport History(string name)
    {
        var image = LookupImage(name);
        var all = Store.ReadImages();
        var (layers, diffIds, history) = ReadLayers(image);
        var chain = LayerStore.ChainIds(diffIds);

        // Every local image by the chain ID of its top layer; this image first.
        var byTop = new Dictionary<string, List<ImageRecord>>(StringComparer.Ordinal);
        foreach (var other in all.OrderBy(i => i.Id == image.Id ? 0 : 1))
        {
            try
            {
                var ids = other.Id == image.Id ? diffIds : ReadLayers(other).DiffIds;
                if (ids.Count > 0)
                {
                    string top = LayerStore.ChainIds(ids)[^1];
                    (byTop.TryGetValue(top, out var list) ? list : byTop[top] = []).Add(other);
                }
            }
            catch (Exception e) when (e is IOException or System.Text.Json.JsonException or FormatException or InvalidOperationException)
            {
                // A damaged image elsewhere in the store does not hide this one's history.
            }
        }

        var used = new HashSet<string>(StringComparer.Ordinal);
        var entries = new List<HistoryRow>();
        int layer = layers.Count - 1;
        for (int x = history.Count - 1; x >= 0; x--)
        {
            var h = history[x] as JsonObject ?? [];
            bool empty = h["empty_layer"]?.GetValue<bool>() ?? false;
            string id = ImageHistory.Missing;
            IReadOnlyList<string> tags = [];
            long size = 0;
            if (layer >= 0)
            {
                if (!empty)
                {
                    size = Store.UncompressedSize(layers[layer]);
                }

                if (byTop.TryGetValue(chain[layer], out var owners) && owners.FirstOrDefault(o => !used.Contains(o.Id)) is { } owner)
                {
                    id = owner.Id;
                    tags = owner.Names;
                    used.Add(owner.Id);
                }

                if (!empty)
                {
                    layer--;
                }
            }

            entries.Add(new HistoryRow(
                id,
                h["created"] is JsonValue c && DateTimeOffset.TryParse(c.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t) ? t : null,
                h["created_by"]?.GetValue<string>() ?? string.Empty,
                size,
                h["comment"]?.GetValue<string>() ?? string.Empty,
                tags));
        }

        return new HistoryReport(entries);
    }

    private (IReadOnlyList<Descriptor> Layers, IReadOnlyList<string> DiffIds, JsonArray History) ReadLayers(ImageRecord image)
    {
        var manifest = ManifestParser.Parse(Store.ReadBlob(image.Digest), image.ManifestMediaType);
        var config = JsonNode.Parse(Store.ReadBlob(manifest.Config!.Digest)) as JsonObject ?? [];
        var diffIds = (config["rootfs"]?["diff_ids"] as JsonArray ?? []).Select(d => d?.GetValue<string>() ?? string.Empty).ToList();
        return (manifest.Layers ?? [], diffIds, config["history"] as JsonArray ?? []);
    }
}
