using System.Formats.Tar;
using System.Globalization;
using System.Text;
using Wharf.Content.Layers;

namespace Wharf.Engine.Storage;

/// <summary>
/// The owners and modes a layer's tar headers record, as a list of mksquashfs pseudo-file
/// definitions (<c>-pf</c>; squashfs-tools 4.5: <c>"PATH" m MODE UID GID</c>, "modify filename").
/// A publisher that is not root unpacks every file as itself; the list puts the image's owners
/// (and setuid/setgid bits, which a chown would clear) back into the squashfs form of the layer.
/// </summary>
/// <remarks>
/// The last header for a path wins, as in the unpack. The layer's root directory cannot be named
/// in the list: its owner and mode are returned, for <c>-root-uid/-root-gid/-root-mode</c> (root's
/// 0755 when the layer has no entry for it). Left out: whiteout markers (their 0/0 character
/// devices carry no owner that matters), hard links (they share their target's inode), and
/// names holding a line break, which the line-based list cannot
/// carry (those files keep the publisher's owner). A path the unpack did not create (a device
/// node a non-root publisher cannot make) is ignored by mksquashfs with a warning.
/// </remarks>
internal static class SquashfsOwners
{
    /// <summary>Writes the list to <paramref name="pseudoFile"/>; returns the owner and mode of the layer's root directory.</summary>
    public static async Task<(int Mode, int Uid, int Gid)> WriteAsync(string layerBlob, string pseudoFile, CancellationToken cancellationToken)
    {
        var owners = new Dictionary<string, (int Mode, int Uid, int Gid)>(StringComparer.Ordinal);
        var root = (Mode: Convert.ToInt32("755", 8), Uid: 0, Gid: 0);
        var input = new FileStream(layerBlob, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        await using (input.ConfigureAwait(false))
        {
            var decompressed = await LayerUnpacker.DecompressAsync(input, cancellationToken).ConfigureAwait(false);
            await using (decompressed.ConfigureAwait(false))
            {
                var reader = new TarReader(decompressed);
                await using (reader.ConfigureAwait(false))
                {
                    while (await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } entry)
                    {
                        string name = Normalize(entry.Name);
                        string leaf = name[(name.LastIndexOf('/') + 1)..];
                        if (name.Length == 0 && entry.EntryType == TarEntryType.Directory)
                        {
                            root = ((int)entry.Mode & 0xfff, entry.Uid, entry.Gid);
                            continue;
                        }

                        if (name.Length == 0 || entry.EntryType == TarEntryType.HardLink
                            || leaf.StartsWith(LayerUnpacker.WhiteoutPrefix, StringComparison.Ordinal)
                            || name.AsSpan().IndexOfAny('\n', '\r') >= 0)
                        {
                            continue;
                        }

                        owners[name] = ((int)entry.Mode & 0xfff, entry.Uid, entry.Gid);
                    }
                }
            }
        }

        var text = new StringBuilder();
        foreach (var (name, (mode, uid, gid)) in owners)
        {
            text.Append('"').Append(name.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)).Append("\" m ")
                .Append(Convert.ToString(mode, 8)).Append(' ')
                .Append(uid.ToString(CultureInfo.InvariantCulture)).Append(' ')
                .Append(gid.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        await File.WriteAllTextAsync(pseudoFile, text.ToString(), cancellationToken).ConfigureAwait(false);
        return root;
    }

    /// <summary>A tar name as a path relative to the layer's root: no leading <c>./</c> or <c>/</c>, no trailing <c>/</c>.</summary>
    private static string Normalize(string name)
    {
        while (name.StartsWith("./", StringComparison.Ordinal))
        {
            name = name[2..];
        }

        name = name.TrimStart('/').TrimEnd('/');
        return name == "." ? string.Empty : name;
    }
}
