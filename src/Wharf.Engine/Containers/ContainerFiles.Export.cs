using System.Formats.Tar;

namespace Wharf.Engine.Containers;

/// <summary>podman export, mount and unmount: the container's root filesystem as the container sees it (image layers plus its changes).</summary>
public sealed partial class ContainerFiles
{
    /// <summary>
    /// podman mount: mounts the root filesystem (when not already) and returns the merged path.
    /// Rootless, podman refuses unless run under <c>podman unshare</c>, since the mount exists only in
    /// the user namespace's mount namespace; wharf has no unshare verb, so it refuses too.
    /// </summary>
    public async Task<string> MountRootfsAsync(string nameOrId, CancellationToken cancellationToken)
    {
        RequireRootForMount();
        var c = Lookup(nameOrId);
        await Engine.Mounts.MountAsync(c, cancellationToken).ConfigureAwait(false);
        Event("mount", c);
        return Store.RootfsPath(Store.TryRead(c.Id) ?? c);
    }

    /// <summary>podman unmount: unmounts a container that is not running (a running one keeps its root).</summary>
    public ContainerRecord UnmountRootfs(string nameOrId)
    {
        RequireRootForMount();
        var c = Lookup(nameOrId);
        if (c.State is not (ContainerStates.Running or ContainerStates.Paused))
        {
            Engine.Mounts.Unmount(c);
            Event("unmount", c);
        }

        return c;
    }

    /// <summary>The containers whose root filesystem is mounted, with the path (podman mount without arguments).</summary>
    public IReadOnlyList<(ContainerRecord Container, string Path)> Mounted() =>
        [.. List().Where(c => c.RootfsDriver != "copy" && RootfsMount.IsMounted(Store.Merged(c.Id))).Select(c => (c, Store.Merged(c.Id)))];

    private void RequireRootForMount()
    {
        if (Env.Get("_WHARF_ROOTLESS_UID") is not null || !Env.IsRoot)
        {
            throw new WharfException("cannot run command \"wharf mount\" in rootless mode: the mount would exist only in wharf's user namespace");
        }
    }

    /// <summary>
    /// podman export: the root filesystem as a tar stream. A container that is not mounted is mounted
    /// for the export and unmounted after. Nothing is followed: symlinks are stored as symlinks, and
    /// directories are recursed into only when they are real directories.
    /// </summary>
    public Task ExportAsync(string nameOrId, Stream output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        return WithRootfsAsync(nameOrId, async root =>
        {
            var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
            await using (writer.ConfigureAwait(false))
            {
                await WriteTreeAsync(writer, new DirectoryInfo(root), string.Empty, cancellationToken).ConfigureAwait(false);
            }
        }, cancellationToken);
    }

    private static async Task WriteTreeAsync(TarWriter writer, DirectoryInfo dir, string prefix, CancellationToken cancellationToken)
    {
        foreach (var entry in dir.EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            string name = prefix + entry.Name;
            bool realDirectory = entry is DirectoryInfo && entry.LinkTarget is null;
            await writer.WriteEntryAsync(entry.FullName, realDirectory ? name + "/" : name, cancellationToken).ConfigureAwait(false);
            if (realDirectory)
            {
                await WriteTreeAsync(writer, (DirectoryInfo)entry, name + "/", cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
