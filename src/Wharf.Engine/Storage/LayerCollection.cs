using Wharf.Engine.Containers;
using Wharf.Engine.Images;
using Wharf.Oci;

namespace Wharf.Engine;

public sealed partial class LocalImages
{
    /// <summary>
    /// Deletes the unpacked layers (<c>wharf/layers/&lt;chainid&gt;</c>) that no image in the index
    /// and no container needs any more, so removing images and containers gives their space back
    /// to the quota. Runs under the store lock. An image whose config cannot be read makes it
    /// keep everything: what that image needs cannot be known. Returns the bytes freed.
    /// </summary>
    public long CollectUnusedLayers()
    {
        var containers = new ContainerStore(Storage.GraphRoot, Storage.RunRoot, Time);
        return Store.Locked(images =>
        {
            var keep = new HashSet<string>(StringComparer.Ordinal);
            var writer = new ImageWriter(Store);
            foreach (var image in images)
            {
                try
                {
                    foreach (string chain in LayerStore.ChainIds(writer.ReadConfig(image).RootFs.DiffIds))
                    {
                        keep.Add(Digest.Parse(chain).Encoded);
                    }
                }
                catch (Exception e) when (e is IOException or WharfException or FormatException or InvalidDataException or OciException)
                {
                    return 0L;
                }
            }

            // A container keeps the layers it was created on, even when its image is gone (rmi -f).
            foreach (var container in containers.List())
            {
                foreach (string lower in container.LowerDirs)
                {
                    keep.Add(Path.GetFileName(Path.GetDirectoryName(lower.TrimEnd('/'))) ?? string.Empty);
                }
            }

            return new LayerStore(Store).RemoveUnused(keep);
        });
    }
}
