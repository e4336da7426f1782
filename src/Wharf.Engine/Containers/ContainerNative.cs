using System.Runtime.InteropServices;

namespace Wharf.Engine.Containers;

/// <summary>The few Linux calls containers need that .NET does not expose: mounts, rlimits, xattrs, signals (statx is Wharf.Content's <see cref="Wharf.Content.Layers.FileStatus"/>).</summary>
internal static partial class ContainerNative
{
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int MNT_DETACH = 2;
    public const int RLIMIT_NPROC = 6;
    public const int RLIMIT_NOFILE = 7;
    public const uint S_IFMT = 0xF000;
    public const uint S_IFDIR = 0x4000;
    public const uint S_IFREG = 0x8000;
    public const uint S_IFLNK = 0xA000;
    public const uint S_IFCHR = 0x2000;
    public const uint S_IFBLK = 0x6000;
    public const uint S_IFIFO = 0x1000;
    public const uint S_IFSOCK = 0xC000;

    [StructLayout(LayoutKind.Sequential)]
    public struct Rlimit
    {
        public ulong Current;
        public ulong Max;
    }

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mount(string source, string target, string fsType, ulong flags, string data);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Umount2(string target, int flags);

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    public static partial int GetRlimit(int resource, out Rlimit limit);

    [LibraryImport("libc", EntryPoint = "lgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint LGetXattr(string path, string name, byte[]? value, nuint size);

    [LibraryImport("libc", EntryPoint = "llistxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint LListXattr(string path, byte[]? list, nuint size);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    /// <summary>A process exists (kill 0 succeeds or fails only for permission).</summary>
    public static bool ProcessExists(int pid)
    {
        if (pid <= 0)
        {
            return false;
        }

        if (Kill(pid, 0) == 0)
        {
            return true;
        }

        return Marshal.GetLastPInvokeError() == 1; // EPERM: exists, not ours
    }

    public static byte[]? GetXattr(string path, string name)
    {
        nint n = LGetXattr(path, name, null, 0);
        if (n < 0)
        {
            return null;
        }

        byte[] buffer = new byte[n];
        n = LGetXattr(path, name, buffer, (nuint)buffer.Length);
        return n < 0 ? null : buffer[..(int)n];
    }

    public static IReadOnlyList<string> ListXattrs(string path)
    {
        nint n = LListXattr(path, null, 0);
        if (n <= 0)
        {
            return [];
        }

        byte[] buffer = new byte[n];
        n = LListXattr(path, buffer, (nuint)buffer.Length);
        if (n <= 0)
        {
            return [];
        }

        return System.Text.Encoding.UTF8.GetString(buffer, 0, (int)n).Split('\0', StringSplitOptions.RemoveEmptyEntries);
    }

    public static (ulong Soft, ulong Hard) HostLimit(int resource)
    {
        return GetRlimit(resource, out var l) == 0 ? (l.Current, l.Max) : (ulong.MaxValue, ulong.MaxValue);
    }
}
