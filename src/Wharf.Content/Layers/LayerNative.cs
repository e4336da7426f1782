using System.Runtime.InteropServices;

namespace Wharf.Content.Layers;

/// <summary>The few POSIX calls the BCL lacks for unpacking layers: lchown, mknod, link, lsetxattr, utimensat without following links.</summary>
internal static partial class LayerNative
{
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const uint S_IFCHR = 0x2000;
    public const uint S_IFBLK = 0x6000;
    public const uint S_IFIFO = 0x1000;

    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int lchown(string path, int owner, int group);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int mknod(string path, uint mode, ulong dev);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int link(string oldpath, string newpath);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int lsetxattr(string path, string name, byte[] value, nuint size, int flags);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int utimensat(int dirfd, string path, Timespec[] times, int flags);

    [LibraryImport("libc")]
    public static partial uint geteuid();

    // glibc's makedev: major in bits 8-19 and 32-43, minor in bits 0-7 and 20-31.
    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) | ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);

    public static void Check(int rc, string what, string path)
    {
        if (rc != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"{what} {path}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }
    }
}
