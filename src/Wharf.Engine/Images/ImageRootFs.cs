using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Oci;

namespace Wharf.Engine.Images;

/// <summary>
/// Reads an image config's <c>rootfs.diff_ids</c> (image-spec config.md, "rootfs"), which an image
/// from anywhere may have mangled: every way it can be wrong is a <see cref="WharfException"/>
/// naming the image and the field, never a null dereference or a cast failure further on.
/// </summary>
public static class ImageRootFs
{
    /// <summary>The diff IDs, one per layer of the manifest, each a valid digest.</summary>
    public static IReadOnlyList<string> DiffIds(JsonNode? config, int layerCount, string image)
    {
        if (config is not JsonObject root)
        {
            throw new WharfException($"image {image}: config is not a JSON object");
        }

        if (root["rootfs"] is not JsonObject rootfs)
        {
            throw new WharfException($"image {image}: config has no \"rootfs\" object");
        }

        if (rootfs["diff_ids"] is not JsonArray list)
        {
            throw new WharfException($"image {image}: config has no \"rootfs.diff_ids\" list");
        }

        var diffIds = new List<string>(list.Count);
        for (int i = 0; i < list.Count; i++)
        {
            if (list[i] is not JsonValue value || value.GetValueKind() != JsonValueKind.String)
            {
                string found = list[i] is null ? "null" : list[i]!.GetValueKind().ToString().ToLowerInvariant();
                throw new WharfException($"image {image}: rootfs.diff_ids[{i}] is {found}, not a digest string");
            }

            string text = value.GetValue<string>();
            if (!Digest.TryParse(text, out _, out string? error))
            {
                throw new WharfException($"image {image}: rootfs.diff_ids[{i}]: {error}");
            }

            diffIds.Add(text);
        }

        if (diffIds.Count != layerCount)
        {
            throw new WharfException($"image {image}: {layerCount} layers but {diffIds.Count} diff IDs in its config");
        }

        return diffIds;
    }
}
