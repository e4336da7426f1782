using System.Runtime.InteropServices;

namespace Wharf.Content.Layers;

/// <summary>
/// The POSIX calls the BCL lacks for unpacking layers. Every call that names a file takes a
/// directory descriptor and a single name in it, and every metadata call refuses to follow a
/// symlink, so what a layer put on disk earlier can never redirect a later write to the host.
/// </summary>
internal static partial class LayerNative
{
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int AT_REMOVEDIR = 0x200;

    public const int O_RDONLY = 0;
    public const int O_WRONLY = 0x1;
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_NOCTTY = 0x100;
    public const int O_NONBLOCK = 0x800;
    public const int O_DIRECTORY = 0x10000;
    public const int O_NOFOLLOW = 0x20000;
    public const int O_CLOEXEC = 0x80000;
    public const int O_PATH = 0x200000;

    public const uint S_IFCHR = 0x2000;
    public const uint S_IFBLK = 0x6000;
    public const uint S_IFIFO = 0x1000;

    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EEXIST = 17;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int EINVAL = 22;
    public const int ENOSYS = 38;
    public const int ENOTEMPTY = 39;
    public const int EOPNOTSUPP = 95;

    // Syscalls added after 5.0 have one number on every architecture (the unified table).
    private const long SYS_fchmodat2 = 452;
    private const long SYS_setxattrat = 463;

    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>struct xattr_args of setxattrat(2).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct XattrArgs
    {
        public ulong Value;
        public uint Size;
        public uint Flags;
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int openat(int dirfd, string path, int flags, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint pwrite(int fd, byte* buffer, nuint count, long offset);

    /// <summary>Writes all of <paramref name="data"/> at <paramref name="offset"/>; -1 with errno on failure.</summary>
    public static unsafe int PwriteAll(int fd, ReadOnlySpan<byte> data, long offset)
    {
        fixed (byte* p = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                nint n = pwrite(fd, p + done, (nuint)(data.Length - done), offset + done);
                if (n < 0)
                {
                    if (LastError == EINTR)
                    {
                        continue;
                    }

                    return -1;
                }

                done += (int)n;
            }

            return 0;
        }
    }

    /// <summary>Owner group and mode of what <paramref name="fd"/> (an O_PATH descriptor will do) refers to; null when unknown.</summary>
    public static (uint Gid, uint Mode)? GroupAndMode(int fd)
    {
        const uint wanted = FileStatus.STATX_MODE | FileStatus.STATX_GID;
        if (FileStatus.StatX(fd, string.Empty, FileStatus.AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, wanted, out var st) != 0
            || (st.Mask & wanted) != wanted)
        {
            return null;
        }

        return (st.Gid, st.Mode);
    }

    /// <summary>Makes a directory's entries (a rename into it) durable; best effort where the filesystem cannot.</summary>
    public static void SyncDirectory(string path)
    {
        int fd = openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0)
        {
            return;
        }

        try
        {
            _ = fsync(fd);
        }
        finally
        {
            _ = close(fd);
        }
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int mkdirat(int dirfd, string path, uint mode);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int mknodat(int dirfd, string path, uint mode, ulong dev);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int symlinkat(string target, int newdirfd, string linkpath);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int linkat(int olddirfd, string oldpath, int newdirfd, string newpath, int flags);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int unlinkat(int dirfd, string path, int flags);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial nint readlinkat(int dirfd, string path, byte[] buffer, nuint size);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int fchownat(int dirfd, string path, int owner, int group, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fchown(int fd, int owner, int group);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fchmod(int fd, uint mode);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int fchmodat(int dirfd, string path, uint mode, int flags);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int fsetxattr(int fd, string name, byte[] value, nuint size, int flags);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int utimensat(int dirfd, string path, Timespec[] times, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int futimens(int fd, Timespec[] times);

    [LibraryImport("libc")]
    public static partial uint geteuid();

    [LibraryImport("libc")]
    public static partial uint getegid();

    /// <summary>
    /// This process's umask, read from /proc/self/status (umask(2) can only read it by changing it,
    /// which would race with other threads creating files); null when the kernel does not say.
    /// </summary>
    public static uint? ProcessUmask()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("Umask:", StringComparison.Ordinal))
                {
                    return Convert.ToUInt32(line["Umask:".Length..].Trim(), 8);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
        }

        return null;
    }

    // syscall(2) is variadic; every argument is passed as a full register so the kernel sees what a C caller passes.
    [LibraryImport("libc", EntryPoint = "syscall", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial long SyscallFchmodat2(long number, long dirfd, string path, long mode, long flags);

    [LibraryImport("libc", EntryPoint = "syscall", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial long SyscallSetxattrat(long number, long dirfd, string path, long atFlags, string name, ref XattrArgs args, long size);

    /// <summary>
    /// chmod of <paramref name="name"/> in <paramref name="dirfd"/>, never through a symlink:
    /// fchmodat2 (Linux 6.6) with AT_SYMLINK_NOFOLLOW; on older kernels glibc's fchmodat with the
    /// same flag, which checks the file it opened with O_PATH|O_NOFOLLOW is no symlink before
    /// changing it. A symlink fails with EOPNOTSUPP either way.
    /// </summary>
    public static int FchmodatNoFollow(int dirfd, string name, uint mode)
    {
        long rc = SyscallFchmodat2(SYS_fchmodat2, dirfd, name, mode, AT_SYMLINK_NOFOLLOW);
        if (rc == 0 || Marshal.GetLastPInvokeError() != ENOSYS)
        {
            return (int)rc;
        }

        return fchmodat(dirfd, name, mode, AT_SYMLINK_NOFOLLOW);
    }

    /// <summary>
    /// setxattr of <paramref name="name"/> in <paramref name="dirfd"/> without following a
    /// symlink (setxattrat, Linux 6.13). -1 with ENOSYS on older kernels.
    /// </summary>
    public static unsafe int SetxattratNoFollow(int dirfd, string name, string attribute, byte[] value)
    {
        fixed (byte* p = value)
        {
            var args = new XattrArgs { Value = (ulong)p, Size = (uint)value.Length, Flags = 0 };
            return (int)SyscallSetxattrat(SYS_setxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, attribute, ref args, Marshal.SizeOf<XattrArgs>());
        }
    }

    // glibc's makedev: major in bits 8-19 and 32-43, minor in bits 0-7 and 20-31.
    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) | ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);

    public static Timespec[] Times(DateTimeOffset time)
    {
        long ns = (time.ToUnixTimeMilliseconds() % 1000) * 1_000_000;
        var ts = new Timespec { Seconds = time.ToUnixTimeSeconds(), Nanoseconds = ns };
        return [ts, ts];
    }

    /// <summary>Throws an <see cref="IOException"/> carrying errno and its message when <paramref name="rc"/> is negative.</summary>
    public static void Check(long rc, string what, string path)
    {
        if (rc < 0)
        {
            throw Error(what, path);
        }
    }

    public static IOException Error(string what, string path) => Error(Marshal.GetLastPInvokeError(), what, path);

    public static IOException Error(int errno, string what, string path) =>
        new($"{what} {path}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);

    public static int LastError => Marshal.GetLastPInvokeError();
}

/// <summary>An open file descriptor, closed once.</summary>
internal sealed class Fd(int value) : IDisposable
{
    private int _value = value;

    public int Value => _value >= 0 ? _value : throw new ObjectDisposedException(nameof(Fd));

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _value, -1);
        if (fd >= 0)
        {
            _ = LayerNative.close(fd);
        }
    }
}
