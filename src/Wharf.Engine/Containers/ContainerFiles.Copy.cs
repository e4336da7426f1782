using System.Formats.Tar;

namespace Wharf.Engine.Containers;

/// <summary>
/// podman cp: files and directories between the host and a container's root filesystem, running or
/// not. Container paths are resolved with <see cref="RootfsResolver"/>, and nothing inside the
/// container is followed while copying: symlinks are copied as symlinks, and an existing symlink
/// in the way of a file being written is replaced, not written through.
/// </summary>
public sealed partial class ContainerFiles
{
    /// <summary>Copies host <paramref name="source"/> to <paramref name="destination"/> in the container.</summary>
    public Task CopyToContainerAsync(string source, string nameOrId, string destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!File.Exists(source) && !Directory.Exists(source) && RootfsResolver.LinkTarget(source) is null)
        {
            throw new WharfException($"\"{source}\" could not be found on the host: no such file or directory");
        }

        return WithRootfsAsync(nameOrId, root =>
        {
            string target = Target(root, destination, Path.GetFileName(Path.TrimEndingDirectorySeparator(source)));
            if (Directory.Exists(source) && RootfsResolver.LinkTarget(source) is null)
            {
                CopyTree(source, target);
            }
            else
            {
                CopyEntry(source, target);
            }
        }, cancellationToken);
    }

    /// <summary>Copies <paramref name="source"/> in the container to the host's <paramref name="destination"/>.</summary>
    public Task CopyFromContainerAsync(string nameOrId, string source, string destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(destination);
        return WithRootfsAsync(nameOrId, root =>
        {
            string from = RootfsResolver.Resolve(root, source, followFinal: false);
            if (!File.Exists(from) && !Directory.Exists(from) && RootfsResolver.LinkTarget(from) is null)
            {
                throw new WharfException($"\"{source}\" could not be found on container: no such file or directory");
            }

            string to = Directory.Exists(destination) ? Path.Combine(destination, Path.GetFileName(from)) : destination;
            if (Directory.Exists(from) && RootfsResolver.LinkTarget(from) is null)
            {
                CopyTree(from, to);
            }
            else
            {
                CopyEntry(from, to);
            }
        }, cancellationToken);
    }

    /// <summary><c>podman cp CONTAINER:SRC -</c>: a tar of SRC (named by its last component) to <paramref name="output"/>.</summary>
    public Task CopyFromContainerAsTarAsync(string nameOrId, string source, Stream output, CancellationToken cancellationToken) =>
        WithRootfsAsync(nameOrId, root =>
        {
            string from = RootfsResolver.Resolve(root, source, followFinal: false);
            if (!File.Exists(from) && !Directory.Exists(from) && RootfsResolver.LinkTarget(from) is null)
            {
                throw new WharfException($"\"{source}\" could not be found on container: no such file or directory");
            }

            using var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
            string name = Path.GetFileName(from);
            bool directory = Directory.Exists(from) && RootfsResolver.LinkTarget(from) is null;
            writer.WriteEntry(from, directory ? name + "/" : name);
            if (directory)
            {
                WriteTree(writer, new DirectoryInfo(from), name + "/");
            }
        }, cancellationToken);

    /// <summary><c>podman cp - CONTAINER:DIR</c>: extracts a tar into DIR, every entry resolved inside the root.</summary>
    public Task CopyTarToContainerAsync(Stream input, string nameOrId, string destination, CancellationToken cancellationToken) =>
        WithRootfsAsync(nameOrId, root =>
        {
            string dir = RootfsResolver.Resolve(root, destination, followFinal: true);
            if (!Directory.Exists(dir))
            {
                throw new WharfException($"extracting to {destination}: not a directory in the container");
            }

            string inside = Path.GetRelativePath(root, dir);
            using var reader = new TarReader(input, leaveOpen: true);
            while (reader.GetNextEntry() is { } entry)
            {
                string name = entry.Name.TrimEnd('/');
                if (name.Length == 0 || name.Split('/').Contains(".."))
                {
                    throw new WharfException($"extracting {entry.Name}: a name outside the destination is refused");
                }

                string target = Path.Combine(
                    RootfsResolver.Resolve(root, "/" + Path.Combine(inside, Path.GetDirectoryName(name) ?? string.Empty), followFinal: true),
                    Path.GetFileName(name));
                if (!target.StartsWith(root + "/", StringComparison.Ordinal))
                {
                    throw new WharfException($"extracting {entry.Name}: resolves outside the container");
                }

                switch (entry.EntryType)
                {
                    case TarEntryType.Directory:
                        ClearNonDirectory(target);
                        Directory.CreateDirectory(target);
                        break;
                    case TarEntryType.SymbolicLink:
                        RemoveExisting(target);
                        File.CreateSymbolicLink(target, entry.LinkName);
                        break;
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile:
                        RemoveExisting(target);
                        entry.ExtractToFile(target, overwrite: false);
                        break;
                    default:
                        break;
                }
            }
        }, cancellationToken);

    /// <summary>podman's destination rule: an existing directory receives the source under its own name; else the path is the new name.</summary>
    private static string Target(string root, string destination, string sourceName)
    {
        string resolved = RootfsResolver.Resolve(root, destination, followFinal: true);
        if (Directory.Exists(resolved))
        {
            return Path.Combine(resolved, sourceName);
        }

        string parent = Path.GetDirectoryName(resolved) ?? root;
        return Directory.Exists(parent) && RootfsResolver.LinkTarget(parent) is null
            ? resolved
            : throw new WharfException($"\"{destination}\" could not be found on container: no such file or directory");
    }

    /// <summary>Copies a directory tree; entries are created fresh, existing symlinks in the way replaced, never followed.</summary>
    private static void CopyTree(string from, string to)
    {
        ClearNonDirectory(to);
        Directory.CreateDirectory(to);
        foreach (var entry in new DirectoryInfo(from).EnumerateFileSystemInfos())
        {
            string target = Path.Combine(to, entry.Name);
            if (entry is DirectoryInfo d && d.LinkTarget is null)
            {
                CopyTree(entry.FullName, target);
            }
            else
            {
                CopyEntry(entry.FullName, target);
            }
        }
    }

    private static void CopyEntry(string from, string to)
    {
        RemoveExisting(to);
        if (RootfsResolver.LinkTarget(from) is { } link)
        {
            File.CreateSymbolicLink(to, link);
            return;
        }

        // File.Copy keeps the mode bits on Linux.
        File.Copy(from, to);
    }

    /// <summary>A symlink or file at a path about to be written is removed, so the write never goes through it.</summary>
    private static void RemoveExisting(string path)
    {
        if (RootfsResolver.LinkTarget(path) is not null || File.Exists(path))
        {
            File.Delete(path);
        }
        else if (Directory.Exists(path))
        {
            throw new WharfException($"cannot overwrite directory {path} with a non-directory");
        }
    }

    private static void ClearNonDirectory(string path)
    {
        if (RootfsResolver.LinkTarget(path) is not null || File.Exists(path))
        {
            File.Delete(path);
        }
    }

    private static void WriteTree(TarWriter writer, DirectoryInfo dir, string prefix)
    {
        foreach (var entry in dir.EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            bool real = entry is DirectoryInfo && entry.LinkTarget is null;
            writer.WriteEntry(entry.FullName, real ? prefix + entry.Name + "/" : prefix + entry.Name);
            if (real)
            {
                WriteTree(writer, (DirectoryInfo)entry, prefix + entry.Name + "/");
            }
        }
    }

    /// <summary>Runs <paramref name="action"/> on the container's root filesystem, mounting it for the time when it is not mounted.</summary>
    private Task WithRootfsAsync(string nameOrId, Action<string> action, CancellationToken cancellationToken) =>
        WithRootfsAsync(nameOrId, root =>
        {
            action(root);
            return Task.CompletedTask;
        }, cancellationToken);

    /// <summary>Awaits <paramref name="action"/> on the container's root filesystem, mounting it for the time when it is not mounted.</summary>
    private async Task WithRootfsAsync(string nameOrId, Func<string, Task> action, CancellationToken cancellationToken)
    {
        var c = Lookup(nameOrId);
        bool mountedHere = c.RootfsDriver != "copy" && !RootfsMount.IsMounted(Store.Merged(c.Id));
        if (mountedHere)
        {
            await Engine.Mounts.MountAsync(c, cancellationToken).ConfigureAwait(false);
            c = Store.TryRead(c.Id) ?? c;
        }

        try
        {
            await action(Store.RootfsPath(c)).ConfigureAwait(false);
        }
        finally
        {
            if (mountedHere && Store.Refresh(Store.TryRead(c.Id) ?? c).State is not (ContainerStates.Running or ContainerStates.Paused))
            {
                Engine.Mounts.Unmount(c);
            }
        }
    }
}
