using Wharf.Engine.Storage;

namespace Wharf.Engine;

public sealed record DfReport(int Images, int Active, long Size, long Reclaimable, IReadOnlyList<(ImageRecord Image, long Unique, long Shared)> PerImage)
{
    /// <summary>Bytes the store holds on disk against its quota (blobs as stored, unpacked layers, reservations).</summary>
    public long StoreUsed { get; init; }

    public long? Quota { get; init; }

    /// <summary>Free bytes on the filesystem holding graphroot.</summary>
    public long FilesystemFree { get; init; }

    /// <summary>Containers as <c>ps -a</c> lists them; active: running.</summary>
    public int Containers { get; init; }

    public int ContainersActive { get; init; }

    /// <summary>What the containers wrote (their upper dirs); reclaimable: that of the stopped ones.</summary>
    public long ContainersSize { get; init; }

    public long ContainersReclaimable { get; init; }

    /// <summary>Image ID → how many containers were created from it (the verbose table's CONTAINERS).</summary>
    public IReadOnlyDictionary<string, int> ContainersPerImage { get; init; } = new Dictionary<string, int>();
}

public sealed record InfoReport(StorageConfig Storage, string StoreRoot, int ImageCount, string RegistriesConf, IReadOnlyList<string> SearchRegistries, string Arch, string Os, string Version);

public sealed partial class LocalImages
{
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

        // An image is active when a container (running or not, as podman counts) was created from it;
        // what only inactive images hold is reclaimable.
        var containers = new Containers.ContainerStore(Storage.GraphRoot, Storage.RunRoot, Time).List();
        var used = containers.Select(c => c.ImageId).ToHashSet(StringComparer.Ordinal);
        var activeBlobs = new HashSet<string>(StringComparer.Ordinal);
        long activeSize = 0;
        foreach (var image in images.Where(i => used.Contains(i.Id)))
        {
            foreach (string b in image.Blobs.Skip(1).Distinct().Where(activeBlobs.Add))
            {
                activeSize += BlobUncompressedSize(b);
            }

            activeSize += image.Size - image.Blobs.Skip(1).Distinct().Sum(BlobUncompressedSize);
        }

        var containerStore = new Containers.ContainerStore(Storage.GraphRoot, Storage.RunRoot, Time);
        long containerSize = 0, containerReclaimable = 0;
        foreach (var c in containers)
        {
            long size = ImageStore.TreeSize(containerStore.Upper(c.Id));
            containerSize += size;
            containerReclaimable += c.State == Containers.ContainerStates.Running ? 0 : size;
        }

        return new DfReport(images.Count, images.Count(i => used.Contains(i.Id)), total, Math.Max(0, total - activeSize), perImage)
        {
            Containers = containers.Count,
            ContainersActive = containers.Count(c => c.State == Containers.ContainerStates.Running),
            ContainersSize = containerSize,
            ContainersReclaimable = containerReclaimable,
            ContainersPerImage = containers.GroupBy(c => c.ImageId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal),
            StoreUsed = Store.UsedBytes(),
            Quota = Storage.Quota,
            FilesystemFree = Store.FreeSpace(),
        };
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

    /// <summary>
    /// podman system reset: removes graphroot and runroot themselves. With <paramref name="keepRunRoot"/>
    /// (an administrator resetting another user's store with <c>--root</c>) only graphroot goes.
    /// Refuses a graphroot that does not look like a container store, so a mistyped <c>--root</c>
    /// cannot wipe a home directory.
    /// </summary>
    public void Reset(bool keepRunRoot = false)
    {
        string graph = Storage.GraphRoot;
        if (Directory.Exists(graph) && !LooksLikeStore(graph))
        {
            throw new WharfException(
                $"resetting storage: {graph} is not a container storage root (no wharf/, overlay*/, vfs*/ or storage.lock in it); refusing to remove it");
        }

        foreach (string dir in keepRunRoot ? new[] { graph } : new[] { graph, Storage.RunRoot })
        {
            if (dir is "/" or "" || !Directory.Exists(dir))
            {
                continue;
            }

            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A directory wharf or podman made: empty, or holding wharf/, overlay*, vfs* or storage.lock and nothing unexpected at the top.</summary>
    internal static bool LooksLikeStore(string dir)
    {
        var entries = Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).ToList();
        if (entries.Count == 0)
        {
            return true;
        }

        return entries.Any(e => e is "wharf" or "storage.lock" || e!.StartsWith("overlay", StringComparison.Ordinal) || e.StartsWith("vfs", StringComparison.Ordinal));
    }

    /// <summary>podman system check for wharf's store: see <see cref="StoreCheck"/>.</summary>
    public SystemCheckReport Check(SystemCheckOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new StoreCheck(Store, options).Run();
    }

    public InfoReport Info()
    {
        string arch = RegistryImages.Architecture(new PullOptions { Reference = "info" });
        return new InfoReport(Storage, Store.Root, Store.ReadImages().Count, Registries.MainPath, Registries.UnqualifiedSearchRegistries, arch, "linux", ImageEngine.Version);
    }
}
