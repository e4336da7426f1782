using System.Runtime.InteropServices;
using Wharf.Client.Processes;
using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine.Containers;

/// <summary>
/// Layers a shared store keeps as one squashfs file each (docs/shared-store.md), mounted
/// read-only on this node and shared by every container of the runroot that uses them:
/// <code>
/// &lt;runroot&gt;/wharf/squashfs/
///   mounts.lock          flock held while a container mounts its root filesystem and while mounts are released
///   &lt;chainid-hex&gt;/       the layer's mount point: an overlay lower dir
/// </code>
/// As root the kernel mounts the file (<c>mount -t squashfs -o loop,ro</c>); rootless, squashfuse
/// mounts it inside the user's namespace, where the pause process keeps it between commands.
/// There is no reference count to drift: a mount is in use while a container whose root
/// filesystem is mounted lists it among its lower dirs, and <see cref="Release"/> unmounts the
/// others (after <c>rm</c>, <c>--rm</c>, and at the next start after a crash). The unmount is
/// not lazy: should the check be wrong, the kernel refuses (busy) and the mount stays.
/// </summary>
public sealed class SquashfsMounts(string runRoot, bool isRoot)
{
    public const string FileName = "layer.squashfs";

    public string Root { get; } = Path.Combine(runRoot, "wharf", "squashfs");

    public string MountPoint(string chainId) => Path.Combine(Root, Digest.Parse(chainId).Encoded);

    /// <summary>Whether this node can mount a squashfs layer: the kernel's squashfs as root, squashfuse and /dev/fuse rootless.</summary>
    public bool CanMount => _canMount ??= isRoot
        ? KernelHasSquashfs() && RootfsMount.ToolExists("mount")
        : RootfsMount.ToolExists("squashfuse") && File.Exists("/dev/fuse") && RootfsMount.ToolExists("fusermount3");

    private bool? _canMount;

    /// <summary>
    /// Why <see cref="CanMount"/> is false, naming what to install (Debian packages); null when it is true.
    /// </summary>
    public string? CannotMountBecause
    {
        get
        {
            if (CanMount)
            {
                return null;
            }

            if (isRoot)
            {
                return KernelHasSquashfs() ? "mount is not installed (install mount)" : "the kernel has no squashfs (load the squashfs module)";
            }

            var missing = new List<string>();
            if (!RootfsMount.ToolExists("squashfuse"))
            {
                missing.Add("squashfuse is not installed (install squashfuse)");
            }

            if (!File.Exists("/dev/fuse"))
            {
                missing.Add("/dev/fuse is missing (load the fuse module)");
            }

            if (!RootfsMount.ToolExists("fusermount3"))
            {
                missing.Add("fusermount3 is not installed (install fuse3)");
            }

            return string.Join("; ", missing);
        }
    }

    /// <summary>Whether <paramref name="lowerDir"/> is one of these mount points.</summary>
    public bool Owns(string lowerDir) =>
        Path.GetDirectoryName(lowerDir.TrimEnd('/')) == Root && Digest.TryParse("sha256:" + Path.GetFileName(lowerDir.TrimEnd('/')), out _);

    /// <summary>Holds the mounts' lock until disposed: mounting a root filesystem and releasing mounts never interleave.</summary>
    public IDisposable Lock()
    {
        Directory.CreateDirectory(Root);
        return FileLock.Acquire(Path.Combine(Root, "mounts.lock"), "squashfs layer mounts", TimeSpan.FromMinutes(5));
    }

    /// <summary>Mounts <paramref name="file"/> on <paramref name="mountPoint"/> unless something is mounted there already. The caller holds <see cref="Lock"/>.</summary>
    public void Ensure(string mountPoint, string file)
    {
        Directory.CreateDirectory(mountPoint);
        if (RootfsMount.IsMounted(mountPoint))
        {
            return;
        }

        var result = isRoot
            ? ProcessRunner.Run("mount", ["-t", "squashfs", "-o", "loop,ro,nodev", file, mountPoint])
            : ProcessRunner.Run("squashfuse", [file, mountPoint]);
        if (!result.Succeeded)
        {
            throw new WharfException($"mounting the squashfs layer {file} on {mountPoint}: {(isRoot ? "mount" : "squashfuse")}: {result.StandardError.Trim()}");
        }
    }

    /// <summary>The mount points of this runroot that are mounted now.</summary>
    public IReadOnlyList<string> Mounted()
    {
        if (!Directory.Exists(Root))
        {
            return [];
        }

        return [.. Directory.GetDirectories(Root).Where(d => Owns(d) && RootfsMount.IsMounted(d))];
    }

    /// <summary>
    /// Unmounts every layer mount that no container in <paramref name="inUse"/> (the lower dirs
    /// of the containers whose root filesystems are mounted) needs, and removes its mount point.
    /// The caller holds <see cref="Lock"/>. Returns the mount points it released.
    /// </summary>
    public IReadOnlyList<string> Release(IReadOnlySet<string> inUse)
    {
        ArgumentNullException.ThrowIfNull(inUse);
        var released = new List<string>();
        if (!Directory.Exists(Root))
        {
            return released;
        }

        foreach (string dir in Directory.GetDirectories(Root).Where(Owns))
        {
            if (inUse.Contains(dir))
            {
                continue;
            }

            if (RootfsMount.IsMounted(dir) && !Unmount(dir))
            {
                // Busy: something this check cannot see (a container of another wharf version, a shell) still uses it.
                continue;
            }

            try
            {
                Directory.Delete(dir, recursive: false);
                released.Add(dir);
            }
            catch (IOException)
            {
                // Not empty (never mounted, someone wrote there) or gone already: left for later.
            }
        }

        return released;
    }

    private bool Unmount(string dir)
    {
        if (!isRoot && ProcessRunner.Run("fusermount3", ["-u", dir]).Succeeded)
        {
            return true;
        }

        // No MNT_DETACH: a mount an overlay still uses stays (EBUSY).
        if (ContainerNative.Umount2(dir, 0) == 0)
        {
            return true;
        }

        _ = Marshal.GetLastPInvokeError();
        return !RootfsMount.IsMounted(dir);
    }

    private static bool KernelHasSquashfs()
    {
        try
        {
            // A module not loaded yet is not listed: such a node uses the unpacked form.
            return File.ReadAllText("/proc/filesystems").Contains("\tsquashfs", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }
}
