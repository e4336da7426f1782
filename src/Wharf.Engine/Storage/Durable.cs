using System.Runtime.InteropServices;

namespace Wharf.Engine.Storage;

/// <summary>
/// Making a tree of new files survive a power cut before it is renamed into place: the rename is
/// the commit point, so everything under the temporary name must be on disk first, and the
/// rename itself is on disk only once its directory is synced (rename(2), fsync(2)).
/// </summary>
internal static partial class Durable
{
    private const int O_RDONLY = 0;
    private const int O_DIRECTORY = 0x10000;

    /// <summary>
    /// Flushes every file and directory just written under <paramref name="path"/>. One syncfs(2)
    /// of its filesystem instead of an fsync per file: an unpacked layer can hold thousands of
    /// files, and syncfs writes what is dirty once, in the filesystem's own order.
    /// </summary>
    public static void SyncTree(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        int fd = open(path, O_RDONLY | O_DIRECTORY);
        if (fd < 0)
        {
            throw new IOException($"opening {path} to sync it: {Marshal.GetLastPInvokeErrorMessage()}");
        }

        try
        {
            if (syncfs(fd) != 0)
            {
                throw new IOException($"syncing {path}: {Marshal.GetLastPInvokeErrorMessage()}");
            }
        }
        finally
        {
            _ = close(fd);
        }
    }

    /// <summary>fsync(2) of a directory, so the renames and removals made in it are on disk.</summary>
    public static void SyncDirectory(string dir)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        int fd = open(dir, O_RDONLY | O_DIRECTORY);
        if (fd < 0)
        {
            throw new IOException($"opening {dir} to sync it: {Marshal.GetLastPInvokeErrorMessage()}");
        }

        try
        {
            if (fsync(fd) != 0)
            {
                throw new IOException($"syncing {dir}: {Marshal.GetLastPInvokeErrorMessage()}");
            }
        }
        finally
        {
            _ = close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    private static partial int syncfs(int fd);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int close(int fd);
}
