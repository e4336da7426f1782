using Wharf.Content.Layers;
using Wharf.Engine.Containers;
using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine;

/// <summary>
/// <c>wharf image publish IMAGE --store DIR [--format dir|squashfs]</c>; no store: the first of
/// <c>additionalimagestores</c>. <see cref="Format"/>: how layers are kept (<see cref="PublishFormats"/>).
/// <c>ListDigest</c>: an index whose entry for the store's platform the image is (wharfd publishing a multi-platform tag).
/// </summary>
public sealed record PublishOptions(string Image, string? Store, string Format = PublishFormats.Dir, string? ListDigest = null);

/// <summary>What a publish copied: blobs and layers the store did not have yet (in the format it used).</summary>
public sealed record PublishReport(string ImageId, string Store, IReadOnlyList<string> Names, int BlobsCopied, int LayersCopied, string Format = PublishFormats.Dir);

/// <summary>The forms a shared store keeps a layer in (docs/shared-store.md).</summary>
public static class PublishFormats
{
    /// <summary>The unpacked directory, <c>layers/&lt;chain&gt;/diff/</c>: every node reads it as it is.</summary>
    public const string Dir = "dir";

    /// <summary>One squashfs file per layer, <c>layers/&lt;chain&gt;/layer.squashfs</c>: nodes mount it, the shared filesystem serves one file per layer.</summary>
    public const string Squashfs = "squashfs";

    public static string Parse(string? value) => value switch
    {
        null or "" or Dir => Dir,
        Squashfs => Squashfs,
        _ => throw new WharfException($"unsupported publish format \"{value}\": use \"dir\" or \"squashfs\""),
    };
}

public sealed record UnpublishOptions(string Image, string? Store);

public sealed record UnpublishReport(string ImageId, string Store, IReadOnlyList<string> Names, int Removed);

public sealed partial class LocalImages
{
    /// <summary>
    /// Copies an image of the user's store into a shared store (docs/shared-store.md): its blobs
    /// and its unpacked layers (unpacked first where they are not yet), each once per store, then
    /// the index entry with the image's names, last, by rename. The names move to this image from
    /// any other published image, as a tag does. Publishing an image that is there already only
    /// updates its names.
    /// </summary>
    public async Task<PublishReport> PublishAsync(PublishOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        string format = PublishFormats.Parse(options.Format);
        var shared = OpenSharedStore(options.Store);
        var image = LookupImage(options.Image);
        if (format == PublishFormats.Squashfs && !Containers.RootfsMount.ToolExists("mksquashfs"))
        {
            // The unpacked form works on every node; a missing tool must not stop a publish.
            Log(false, "WARN[0000] mksquashfs (squashfs-tools) is not installed: publishing unpacked layer directories instead of squashfs");
            format = PublishFormats.Dir;
        }

        if (format == PublishFormats.Dir && !new LayerUnpackOptions().KeepOwners)
        {
            // Unpacked directories keep owners only when the unpack can set them: as any other
            // user every file would belong to the publisher, and the image would change under its users.
            throw new WharfException($"publishing {options.Image} as unpacked directories needs root or wharf's user namespace: unpacked by this user, every file would be its own and the image's owners would be lost; publish with --format squashfs, which keeps them");
        }

        var manifest = ManifestParser.Parse(Store.ReadBlob(image.Digest), image.ManifestMediaType);
        // Only the layers the store lacks in this format are unpacked (and squashed): a second tag
        // of a published image, or a new version on a published base, adds just its new layers.
        var layerStore = new LayerStore(Store, Storage.Quota);
        var unpacked = await layerStore.EnsureAsync(image, WhiteoutMode.Overlay, cancellationToken, wanted: c => !shared.HasLayer(c, format)).ConfigureAwait(false);
        var diffIds = Images.ImageRootFs.DiffIds(unpacked.Config, manifest.Layers.Count, image.ShortId);

        using var held = await shared.LockAsync(cancellationToken).ConfigureAwait(false);
        var published = shared.Images.ReadLocalImages();

        // What a killed publish left (staging, content no entry names) goes before anything is added.
        shared.Sweep(published);
        int blobs = 0, layers = 0;
        var root = new Descriptor { MediaType = image.ManifestMediaType, Digest = Digest.Parse(image.Digest), Size = image.ManifestSize };
        foreach (var blob in manifest.Layers.Prepend(manifest.Config!).Prepend(root))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (shared.AddBlob(blob, Store.FindBlobPath(blob.Digest)))
            {
                blobs++;
            }
        }

        for (int i = 0; i < unpacked.ChainIds.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (shared.HasLayer(unpacked.ChainIds[i], format))
            {
                continue;
            }

            if (!Directory.Exists(unpacked.LayerDirs[i]))
            {
                // Skipped as published, but unpublished since (before this publish took the lock).
                unpacked = await layerStore.EnsureAsync(image, WhiteoutMode.Overlay, cancellationToken).ConfigureAwait(false);
            }

            // The squashfs form takes owners and modes from the layer's tar headers, not from the
            // unpacked files: a publisher that is not root (or whose namespace does not map an
            // image's IDs) unpacked them all as itself (docs/shared-store.md, "Owners").
            bool added = format == PublishFormats.Squashfs
                ? await shared.AddSquashfsLayerAsync(unpacked.ChainIds[i], diffIds[i], unpacked.LayerDirs[i], Store.FindBlobPath(manifest.Layers[i].Digest), cancellationToken).ConfigureAwait(false)
                : await shared.AddLayerAsync(unpacked.ChainIds[i], diffIds[i], unpacked.LayerDirs[i]).ConfigureAwait(false);
            if (added)
            {
                layers++;
            }
        }

        var names = image.Names.ToList();
        foreach (var other in published)
        {
            other.Names.RemoveAll(names.Contains);
        }

        var existing = published.FirstOrDefault(i => i.Id == image.Id);
        if (existing is not null)
        {
            published.Remove(existing);
        }

        var entry = image with
        {
            ReadOnlyStore = null,
            Names = [.. names.Concat(existing?.Names ?? []).Distinct(StringComparer.Ordinal)],
            Added = existing?.Added ?? Time.GetUtcNow(),
            ListDigests = existing?.ListDigests,
        };
        published.Insert(0, entry);
        // The indexes it came through move with it, so a reference pinned to one finds it here.
        foreach (string listDigest in (image.ListDigests ?? []).Concat(options.ListDigest is { } d ? [d] : []))
        {
            ImageRecord.MoveListDigest(published, entry, listDigest);
        }

        shared.WriteIndex(published);
        Events.Image("publish", image.Id, image.Names.FirstOrDefault());
        return new PublishReport(image.Id, shared.Location, names, blobs, layers, format);
    }

    /// <summary>
    /// Removes an image from a shared store: its index entry first (by rename), then the blobs
    /// and layers no other published image uses. Refused while a container on this node runs on
    /// one of those layers; a container on another node cannot be seen from here (docs/shared-store.md).
    /// </summary>
    public async Task<UnpublishReport> UnpublishAsync(UnpublishOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var shared = OpenSharedStore(options.Store);
        using var held = await shared.LockAsync(cancellationToken).ConfigureAwait(false);
        var published = shared.Images.ReadLocalImages();
        var image = ImageNames.Lookup(published, options.Image, Registries.UnqualifiedSearchRegistries)
            ?? throw new WharfException($"{options.Image}: image not known in the shared image store \"{shared.Location}\"", 1);
        var remaining = published.Where(i => i.Id != image.Id).ToList();

        // The layers that would go: this image's, less those another published image shares.
        var keep = remaining.SelectMany(ChainIdsOf).ToHashSet(StringComparer.Ordinal);
        var going = ChainIdsOf(image).Where(c => !keep.Contains(c)).ToList();
        // A container on a squashfs layer has the layer's mount point on this node as its lower dir.
        var squashfs = new SquashfsMounts(Storage.RunRoot, Environment.IsRoot);
        var goingDirs = going.Select(c => shared.LayerDir(c) + "/diff")
            .Concat(going.Where(c => File.Exists(Path.Combine(shared.LayerDir(c), SquashfsMounts.FileName))).Select(squashfs.MountPoint))
            .ToHashSet(StringComparer.Ordinal);
        var users = new ContainerStore(Storage.GraphRoot, Storage.RunRoot, Time).List()
            .Where(c => c.LowerDirs.Any(l => goingDirs.Contains(l.TrimEnd('/'))))
            .Select(c => c.Name)
            .ToList();
        if (users.Count > 0)
        {
            throw new WharfException($"image {image.ShortId} is in use by container(s) {string.Join(", ", users)} on this node: remove them before unpublishing it", 2);
        }

        if (shared.MountsUsing(going) is { Count: > 0 } mounts)
        {
            throw new WharfException($"image {image.ShortId} is in use on this node (a container's root filesystem at {mounts[0]}): unpublish it once that container has ended", 2);
        }

        shared.WriteIndex(remaining);
        int removed = shared.Sweep(remaining).Count;
        Events.Image("unpublish", image.Id, image.Names.FirstOrDefault());
        return new UnpublishReport(image.Id, shared.Location, image.Names, removed);

        IEnumerable<string> ChainIdsOf(ImageRecord record)
        {
            var m = ManifestParser.Parse(shared.Images.ReadBlob(record.Digest), record.ManifestMediaType);
            var config = System.Text.Json.Nodes.JsonNode.Parse(shared.Images.ReadBlob(m.Config!.Digest));
            return LayerStore.ChainIds(Images.ImageRootFs.DiffIds(config, m.Layers.Count, record.ShortId));
        }
    }

    /// <summary>The images of one shared store, as <c>images --store DIR</c> lists them.</summary>
    public List<ImageRecord> PublishedImages(string? store)
    {
        var shared = OpenSharedStore(store);
        if (ReadOnlyStores.Unusable(shared.Location) is { } reason)
        {
            throw new WharfException($"reading the shared image store \"{shared.Location}\": {reason}");
        }

        return [.. shared.Images.ReadLocalImages().Select(i => i with { ReadOnlyStore = shared.Location })];
    }

    private SharedStore OpenSharedStore(string? store)
    {
        string dir = store ?? Storage.AdditionalImageStores.FirstOrDefault()
            ?? throw new WharfException($"no shared image store: give --store DIR, or name one in additionalimagestores in [storage.options] of {Storage.ConfigFile ?? "storage.conf"}");
        var shared = new SharedStore(dir);
        if (string.Equals(shared.Location.TrimEnd('/'), Storage.GraphRoot.TrimEnd('/'), StringComparison.Ordinal))
        {
            throw new WharfException($"\"{shared.Location}\" is this user's own image store (graphroot), not a shared one");
        }

        return shared;
    }
}
