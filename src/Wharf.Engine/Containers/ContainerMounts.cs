namespace Wharf.Engine.Containers;

/// <summary>
/// A container's root filesystem mounted and unmounted: the overlay of its layers (kernel overlay,
/// fuse-overlayfs, or a copy as the last resort, recorded in the container's record), and the
/// node's shared squashfs layer mounts it stands on. Start mounts through it, as do cp, export and
/// mount, which work on the filesystem whether the container runs or not; create asks it where a
/// squashfs layer is mounted. Part of <see cref="ContainerEngine"/>.
/// </summary>
internal sealed class ContainerMounts : ContainerEnginePart
{
    internal ContainerMounts(ContainerEngine engine)
        : base(engine)
    {
    }

    /// <summary>
    /// Where a layer that a read-only store keeps as squashfs is mounted for this node's containers,
    /// when this node can mount it; null sends the layer to its unpacked form (or an unpack).
    /// </summary>
    internal string? SquashfsLower(string chainId)
    {
        if (Images.Store.FindReadOnlySquashfs(chainId) is not { } file)
        {
            return null;
        }

        if (!Squashfs.CanMount)
        {
            // Only as squashfs in the shared store: this node unpacks it into the user's store, which
            // works but is the pull-sized cost the shared store exists to save. Said once per command.
            if (Images.Store.FindReadOnlyLayer(chainId) is null && !Engine.SquashfsFallbackSaid)
            {
                Engine.SquashfsFallbackSaid = true;
                Progress($"WARN[0000] cannot mount the squashfs layers of the shared image store {Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(file))))}: {Squashfs.CannotMountBecause}; unpacking them into this user's image store instead");
            }

            return null;
        }

        string mountPoint = Squashfs.MountPoint(chainId);
        Directory.CreateDirectory(mountPoint);
        return mountPoint;
    }

    /// <summary>
    /// Mounts the root filesystem. Lower dirs that are squashfs layer mounts are mounted first
    /// (shared with the node's other containers), under the mounts' lock, so that no release in
    /// another process unmounts them between that and the overlay mount.
    /// </summary>
    internal async Task MountAsync(ContainerRecord c, CancellationToken cancellationToken)
    {
        // Already mounted (wharf mount): one mount serves both.
        if (c.RootfsDriver == "copy" || RootfsMount.IsMounted(Store.Merged(c.Id)))
        {
            return;
        }

        var squashfs = c.LowerDirs.Select(d => d.TrimEnd('/')).Where(Squashfs.Owns).ToList();
        if (squashfs.Count == 0)
        {
            await MountOverlayAsync(c, cancellationToken).ConfigureAwait(false);
            return;
        }

        using (Squashfs.Lock())
        {
            // What a crashed container left mounted goes first (not what this one is about to use).
            ReleaseSquashfsLocked(squashfs);
            foreach (string mountPoint in squashfs)
            {
                string chainId = "sha256:" + Path.GetFileName(mountPoint);
                string file = Images.Store.FindReadOnlySquashfs(chainId)
                    ?? throw new WharfException($"mounting the root filesystem of {c.Name}: its layer {chainId} is no longer in a shared image store (unpublished?): remove the container and run the image again");
                Squashfs.Ensure(mountPoint, file);
            }

            await MountOverlayAsync(c, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Unmounts the squashfs layer mounts no mounted container of this runroot uses any more.</summary>
    private void ReleaseSquashfs()
    {
        if (!Directory.Exists(Squashfs.Root))
        {
            return;
        }

        using (Squashfs.Lock())
        {
            ReleaseSquashfsLocked([]);
        }
    }

    private void ReleaseSquashfsLocked(IEnumerable<string> keep)
    {
        var inUse = Store.List()
            .Where(x => x.RootfsDriver != "copy" && x.LowerDirs.Any(d => Squashfs.Owns(d)) && RootfsMount.IsMounted(Store.Merged(x.Id)))
            .SelectMany(x => x.LowerDirs)
            .Select(d => d.TrimEnd('/'))
            .Concat(keep)
            .ToHashSet(StringComparer.Ordinal);
        foreach (string released in Squashfs.Release(inUse))
        {
            Images.DebugLog?.Invoke("released squashfs layer mount " + released);
        }
    }

    /// <summary>The kernel overlay; else fuse-overlayfs when installed; else a copy of the layers (recorded, so later starts reuse it).</summary>
    private async Task MountOverlayAsync(ContainerRecord c, CancellationToken cancellationToken)
    {
        // Rootless on layers of a read-only store: their files belong to host IDs the user's
        // namespace does not map (nobody inside), so the kernel overlay can neither copy them up
        // nor create /etc/hosts in an image directory. fuse-overlayfs with squash_to_root shows
        // them as root's inside and copies up as the user (docs/shared-store.md).
        bool squash = !Env.IsRoot && c.LowerDirs.Any(l => !l.StartsWith(Images.Store.Root + "/", StringComparison.Ordinal));
        bool freshMount = c.StartedAt is null && (!Directory.Exists(Store.Upper(c.Id)) || !Directory.EnumerateFileSystemEntries(Store.Upper(c.Id)).Any());
        if (squash && c.RootfsDriver == "overlay" && freshMount && RootfsMount.ToolExists("fuse-overlayfs"))
        {
            c.RootfsDriver = "fuse-overlayfs";
            Store.Write(c);
        }

        string? error = RootfsMount.TryMount(c.RootfsDriver, c.LowerDirs, Store.Upper(c.Id), Store.Work(c.Id), Store.Merged(c.Id), squash);
        if (error is null)
        {
            return;
        }

        bool fresh = c.StartedAt is null && !Directory.EnumerateFileSystemEntries(Store.Upper(c.Id)).Any();
        if (c.RootfsDriver == "overlay" && fresh && RootfsMount.ToolExists("fuse-overlayfs")
            && RootfsMount.TryMount("fuse-overlayfs", c.LowerDirs, Store.Upper(c.Id), Store.Work(c.Id), Store.Merged(c.Id), squash) is null)
        {
            c.RootfsDriver = "fuse-overlayfs";
            Store.Write(c);
            return;
        }

        if (!fresh)
        {
            throw new WharfException($"mounting the root filesystem of {c.Name}: {error}");
        }

        var image = Images.Store.ReadImages().FirstOrDefault(i => i.Id == c.ImageId)
            ?? throw new WharfException($"mounting the root filesystem of {c.Name}: {error}; and its image {c.ImageId[..12]} is gone, so no copy can be made");
        await Layers.ApplyAllAsync(image, Store.CopyRootfs(c.Id), cancellationToken).ConfigureAwait(false);
        c.RootfsDriver = "copy";
        Store.Write(c);
    }

    internal void Unmount(ContainerRecord c)
    {
        if (c.RootfsDriver != "copy")
        {
            RootfsMount.Unmount(Store.Merged(c.Id), c.RootfsDriver);
            if (c.LowerDirs.Any(d => Squashfs.Owns(d)))
            {
                ReleaseSquashfs();
            }
        }
    }
}
