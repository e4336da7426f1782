using Wharf.Engine.Storage;

namespace Wharf.Engine;

public sealed record DfReport(int Images, int Active, long Size, long Reclaimable, IReadOnlyList<(ImageRecord Image, long Unique, long Shared)> PerImage);

public sealed record InfoReport(StorageConfig Storage, string StoreRoot, int ImageCount, string RegistriesConf, IReadOnlyList<string> SearchRegistries, string Arch, string Os, string Version);

public sealed partial class ImageEngine
{
    public static string Version => typeof(ImageEngine).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>podman system df for images: sizes as podman counts them, blobs shared between images counted once.</summary>
    public DfReport DiskUsage()
    {
        var images = Store.ReadImages();
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var image in images)
        {
            foreach (string b in image.Blobs.Distinct())
            {
                counts[b] = counts.GetValueOrDefault(b) + 1;
            }
        }

        var perImage = new List<(ImageRecord, long, long)>();
        long total = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var image in images)
        {
            long shared = 0;
            foreach (string b in image.Blobs.Skip(1).Distinct())
            {
                long size = BlobUncompressedSize(b);
                if (counts[b] > 1)
                {
                    shared += size;
                }

                if (seen.Add(b))
                {
                    total += size;
                }
            }

            long unique = image.Size - shared;
            if (seen.Add(image.Digest))
            {
                total += image.Size - image.Blobs.Skip(1).Distinct().Sum(BlobUncompressedSize);
            }

            perImage.Add((image, unique, shared));
        }

        // No containers yet: an image is active when something uses it, so nothing is.
        return new DfReport(images.Count, 0, total, total, perImage);
    }

    private long BlobUncompressedSize(string digest)
    {
        string sidecar = Store.BlobPath(digest) + ".usize";
        if (File.Exists(sidecar) && long.TryParse(File.ReadAllText(sidecar), out long n))
        {
            return n;
        }

        var info = new FileInfo(Store.BlobPath(digest));
        return info.Exists ? info.Length : 0;
    }

    /// <summary>podman system reset: removes graphroot and runroot themselves.</summary>
    public void Reset()
    {
        foreach (string dir in new[] { Storage.GraphRoot, Storage.RunRoot })
        {
            if (dir is "/" or "" || !Directory.Exists(dir))
            {
                continue;
            }

            Directory.Delete(dir, recursive: true);
        }
    }

    public InfoReport Info()
    {
        string arch = Architecture(new PullOptions { Reference = "info" });
        return new InfoReport(Storage, Store.Root, Store.ReadImages().Count, Registries.MainPath, Registries.UnqualifiedSearchRegistries, arch, "linux", Version);
    }
}
