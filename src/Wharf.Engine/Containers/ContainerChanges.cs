using Wharf.Content.Layers;

namespace Wharf.Engine.Containers;

public enum ChangeKind
{
    Added,
    Changed,
    Deleted,
}

/// <summary>One path of a container's upper dir as podman's diff sees it.</summary>
public sealed record ContainerChange(string Path, ChangeKind Kind, string HostPath, bool Whiteout, bool Opaque);

/// <summary>
/// Reads an overlay upper dir as a list of changes to the image: 0/0 character devices are
/// deletions, <c>trusted.overlay.opaque=y</c> marks a directory whose lower contents are hidden.
/// Mount points the runtime made for wharf's own bind mounts are left out.
/// </summary>
public static class ContainerChanges
{
    private static readonly string[] RuntimeMountPoints = ["/proc", "/dev", "/sys", "/dev/pts", "/dev/shm", "/dev/mqueue"];

    /// <param name="forCommit">
    /// podman commit also leaves out an empty <c>/run</c> and the new directories that exist only to
    /// hold the runtime's mount points (<c>/etc</c> for <c>/etc/hosts</c> in an image without /etc);
    /// a build's RUN step keeps them, as podman build (buildah) records them.
    /// </param>
    public static List<ContainerChange> Compute(string upper, IReadOnlyList<string> lowerTopFirst, IEnumerable<string> managedMounts, IEnumerable<string> otherMountPoints, bool forCommit = false)
    {
        ArgumentNullException.ThrowIfNull(upper);
        ArgumentNullException.ThrowIfNull(lowerTopFirst);
        var managed = new HashSet<string>(managedMounts, StringComparer.Ordinal);
        var mountPoints = new HashSet<string>(otherMountPoints.Concat(RuntimeMountPoints), StringComparer.Ordinal);
        if (forCommit)
        {
            mountPoints.Add("/run");
        }

        var raw = new List<ContainerChange>();
        if (Directory.Exists(upper))
        {
            Walk(upper, "/", lowerTopFirst, managed, mountPoints, raw);
        }

        // A directory that only holds left-out mount points (or nothing changed) is not itself a change,
        // unless it is new or opaque. A new directory that exists only because the runtime made it to
        // hold a mount point (/etc for /etc/hosts, /run for /run/.containerenv, in an image without
        // them) is not one either: podman's commit does not record those.
        var mountParents = new HashSet<string>(StringComparer.Ordinal);
        foreach (string point in managed.Concat(mountPoints))
        {
            for (string? parent = Path.GetDirectoryName(point); parent is not null && parent != "/"; parent = Path.GetDirectoryName(parent))
            {
                mountParents.Add(parent);
            }
        }

        bool OnlyMountParents(string path)
        {
            string prefix = path.TrimEnd('/') + "/";
            return raw.All(o => !o.Path.StartsWith(prefix, StringComparison.Ordinal)
                || (mountParents.Contains(o.Path) && !o.Opaque && !o.Whiteout && Directory.Exists(o.HostPath)));
        }

        var keep = new List<ContainerChange>();
        foreach (var c in raw)
        {
            bool isDir = Directory.Exists(c.HostPath) && !c.Whiteout && new DirectoryInfo(c.HostPath).LinkTarget is null;
            if (forCommit && isDir && c.Kind == ChangeKind.Added && !c.Opaque && mountParents.Contains(c.Path) && OnlyMountParents(c.Path))
            {
                continue;
            }

            if (isDir && c.Kind == ChangeKind.Changed && !c.Opaque)
            {
                string prefix = c.Path.TrimEnd('/') + "/";
                if (!raw.Any(o => o.Path.StartsWith(prefix, StringComparison.Ordinal) && !(Directory.Exists(o.HostPath) && o.Kind == ChangeKind.Changed && !o.Opaque)))
                {
                    continue;
                }
            }

            keep.Add(c);
        }

        return keep;
    }

    private static void Walk(string upper, string dir, IReadOnlyList<string> lowers, HashSet<string> managed, HashSet<string> mountPoints, List<ContainerChange> result)
    {
        string hostDir = Path.Combine(upper, dir.TrimStart('/'));
        foreach (string host in Directory.EnumerateFileSystemEntries(hostDir).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(host);
            string path = (dir == "/" ? "/" : dir + "/") + name;
            if (managed.Contains(path))
            {
                continue;
            }

            var st = FileStatus.LStat(host);
            if (st is null)
            {
                continue;
            }

            uint fmt = st.Value.Mode & ContainerNative.S_IFMT;
            bool inLower = ExistsInLower(lowers, path);
            if (fmt == ContainerNative.S_IFCHR && st.Value.RdevMajor == 0 && st.Value.RdevMinor == 0)
            {
                if (inLower)
                {
                    result.Add(new ContainerChange(path, ChangeKind.Deleted, host, Whiteout: true, Opaque: false));
                }

                continue;
            }

            if (mountPoints.Contains(path) && !inLower
                && ((fmt == ContainerNative.S_IFDIR && !Directory.EnumerateFileSystemEntries(host).Any()) || (fmt == ContainerNative.S_IFREG && st.Value.Size == 0)))
            {
                continue;
            }

            bool opaque = fmt == ContainerNative.S_IFDIR && ContainerNative.GetXattr(host, "trusted.overlay.opaque") is [(byte)'y'];
            var kind = opaque && inLower ? ChangeKind.Deleted : inLower ? ChangeKind.Changed : ChangeKind.Added;
            result.Add(new ContainerChange(path, kind, host, Whiteout: false, Opaque: opaque));
            if (fmt == ContainerNative.S_IFDIR)
            {
                Walk(upper, path, opaque ? [] : lowers, managed, mountPoints, result);
            }
        }
    }

    private static bool ExistsInLower(IReadOnlyList<string> lowers, string path)
    {
        foreach (string lower in lowers)
        {
            string host = Path.Combine(lower, path.TrimStart('/'));
            if (FileStatus.LStat(host) is { } st)
            {
                return !((st.Mode & ContainerNative.S_IFMT) == ContainerNative.S_IFCHR && st.RdevMajor == 0 && st.RdevMinor == 0);
            }

            // A lower layer's opaque parent hides everything beneath it.
            if (IsUnderOpaque(lower, path))
            {
                return false;
            }
        }

        return false;
    }

    private static bool IsUnderOpaque(string lower, string path)
    {
        string? parent = Path.GetDirectoryName(path);
        while (parent is not null && parent != "/")
        {
            string host = Path.Combine(lower, parent.TrimStart('/'));
            if (ContainerNative.GetXattr(host, "trusted.overlay.opaque") is [(byte)'y'])
            {
                return true;
            }

            parent = Path.GetDirectoryName(parent);
        }

        return false;
    }
}
