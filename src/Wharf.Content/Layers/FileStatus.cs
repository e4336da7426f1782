using System.Runtime.InteropServices;

namespace Wharf.Content.Layers;

/// <summary>
/// statx(2): the one declaration of <c>struct statx</c> and its call, for layer unpacking here and
/// for the engine (commit's layer tars, container diffs, device nodes, rootless checks).
/// </summary>
public static partial class FileStatus
{
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int AT_EMPTY_PATH = 0x1000;
    public const uint STATX_MODE = 0x2;
    public const uint STATX_UID = 0x8;
    public const uint STATX_GID = 0x10;
    public const uint STATX_BASIC_STATS = 0x7ff;

    [StructLayout(LayoutKind.Sequential)]
    public struct StatxTimestamp
    {
        public long Seconds;
        public uint Nanoseconds;
        public int Reserved;
    }

    /// <summary>struct statx: one layout on every architecture, unlike struct stat (256 bytes, as the kernel's).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Statx
    {
        public uint Mask;
        public uint BlockSize;
        public ulong Attributes;
        public uint Nlink;
        public uint Uid;
        public uint Gid;
        public ushort Mode;
        public ushort Pad1;
        public ulong Ino;
        public ulong Size;
        public ulong Blocks;
        public ulong AttributesMask;
        public StatxTimestamp Atime;
        public StatxTimestamp Btime;
        public StatxTimestamp Ctime;
        public StatxTimestamp Mtime;
        public uint RdevMajor;
        public uint RdevMinor;
        public uint DevMajor;
        public uint DevMinor;
        public ulong Spare0;
        public ulong Spare1;
        public ulong Spare2;
        public ulong Spare3;
        public ulong Spare4;
        public ulong Spare5;
        public ulong Spare6;
        public ulong Spare7;
        public ulong Spare8;
        public ulong Spare9;
        public ulong Spare10;
        public ulong Spare11;
        public ulong Spare12;
        public ulong Spare13;
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int StatX(int dirfd, string path, int flags, uint mask, out Statx result);

    /// <summary>What <paramref name="path"/> itself is (a symlink is not followed); null when it cannot be read.</summary>
    public static Statx? LStat(string path) =>
        StatX(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, out var st) == 0 ? st : null;

    /// <summary>What <paramref name="path"/> leads to (symlinks followed); null when it cannot be read.</summary>
    public static Statx? Stat(string path) =>
        StatX(AT_FDCWD, path, 0, STATX_BASIC_STATS, out var st) == 0 ? st : null;
}
