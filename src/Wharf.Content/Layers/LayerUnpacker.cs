using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Wharf.Oci;

namespace Wharf.Content.Layers;

/// <summary>How whiteouts of the OCI layer format (image-spec layer.md, "Whiteouts") are written.</summary>
public enum WhiteoutMode
{
    /// <summary>
    /// Each layer in its own directory, used as an overlay lower dir: a whiteout becomes a 0/0
    /// character device and an opaque directory gets <c>trusted.overlay.opaque=y</c> (needs root).
    /// </summary>
    Overlay,

    /// <summary>Layers applied in order onto one directory: a whiteout deletes what it names.</summary>
    Apply,
}

public sealed record LayerUnpackOptions
{
    public WhiteoutMode Whiteouts { get; init; } = WhiteoutMode.Apply;

    /// <summary>Create device nodes and keep owners: only root can. Defaults to whether this process is root.</summary>
    public bool Privileged { get; init; } = LayerNative.geteuid() == 0;
}

public sealed record LayerUnpackReport(Digest DiffId, long Entries, IReadOnlyList<string> Skipped);

/// <summary>Thrown for a layer that tries to write outside its root or is otherwise malformed.</summary>
public sealed class LayerException(string message) : Exception(message)
{
    public LayerException()
        : this("invalid layer")
    {
    }

    public LayerException(string message, Exception inner)
        : this(message + ": " + inner.Message)
    {
    }
}

/// <summary>
/// Unpacks a layer tar (plain, gzip or zstd, detected from the bytes) into a directory. Nothing is
/// ever written outside that directory: absolute names and <c>..</c> are refused, no parent on the
/// way to an entry may be a symlink (so no write goes through one), hard links must name an entry
/// inside the root, and device nodes are made only when privileged. Modes, owners (privileged),
/// xattrs and times are kept; directory modes and times are applied last so a read-only directory
/// can still receive its children.
/// </summary>
public static class LayerUnpacker
{
    public const string WhiteoutPrefix = ".wh.";
    public const string OpaqueWhiteout = ".wh..wh..opq";

    public static async Task<LayerUnpackReport> UnpackAsync(Stream layer, string root, LayerUnpackOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layer);
        options ??= new LayerUnpackOptions();
        root = Path.GetFullPath(root);
        Directory.CreateDirectory(root);

        await using var decompressed = await DecompressAsync(layer, cancellationToken).ConfigureAwait(false);
        using var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using var hashing = new HashingReadStream(decompressed, hasher);
        var state = new UnpackState(root, options);

        await using (var reader = new TarReader(hashing, leaveOpen: true))
        {
            TarEntry? entry;
            while ((entry = await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false)) is not null)
            {
                await state.ApplyAsync(entry, cancellationToken).ConfigureAwait(false);
            }
        }

        // The diff ID covers the whole uncompressed stream, trailing blocks included.
        await hashing.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
        state.Finish();
        return new LayerUnpackReport(Digest.FromHasher(Digest.Sha256, hasher), state.Entries, state.Skipped);
    }

    /// <summary>Detects gzip (1f 8b) and zstd (28 b5 2f fd) by their magic numbers; anything else is plain tar.</summary>
    public static async Task<Stream> DecompressAsync(Stream layer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(layer);
        byte[] magic = new byte[4];
        int n = 0;
        while (n < 4)
        {
            int r = await layer.ReadAsync(magic.AsMemory(n), cancellationToken).ConfigureAwait(false);
            if (r == 0)
            {
                break;
            }

            n += r;
        }

        var whole = new PrefixedStream(magic.AsMemory(0, n), layer);
        if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b)
        {
            return new GZipStream(whole, CompressionMode.Decompress);
        }

        if (n >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
        {
            return new ZstdSharp.DecompressionStream(whole);
        }

        return whole;
    }

    private sealed class UnpackState(string root, LayerUnpackOptions options)
    {
        private readonly HashSet<string> _written = new(StringComparer.Ordinal);
        private readonly List<(string Path, TarEntry Entry)> _directories = [];

        public long Entries { get; private set; }

        public List<string> Skipped { get; } = [];

        public async Task ApplyAsync(TarEntry entry, CancellationToken ct)
        {
            Entries++;
            if (entry.EntryType is TarEntryType.GlobalExtendedAttributes or TarEntryType.ExtendedAttributes or TarEntryType.LongLink or TarEntryType.LongPath)
            {
                return;
            }

            string relative = SafeRelativePath(entry.Name);
            if (relative.Length == 0)
            {
                return; // the root itself ("./")
            }

            string name = Path.GetFileName(relative);
            string parentRel = Path.GetDirectoryName(relative) ?? string.Empty;
            string parent = EnsureParents(parentRel);

            if (name == OpaqueWhiteout)
            {
                Opaque(parent);
                return;
            }

            if (name.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
            {
                string target = name[WhiteoutPrefix.Length..];
                if (target.Length == 0 || target is "." or ".." || target.Contains('/', StringComparison.Ordinal))
                {
                    throw new LayerException($"whiteout \"{entry.Name}\" names no valid entry");
                }

                Whiteout(Path.Combine(parent, target));
                return;
            }

            string path = Path.Combine(parent, name);
            switch (entry.EntryType)
            {
                case TarEntryType.Directory:
                    if (!IsRealDirectory(path))
                    {
                        RemoveExisting(path);
                        Directory.CreateDirectory(path);
                    }

                    _directories.Add((path, entry));
                    SetXattrs(path, entry);
                    break;

                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    RemoveExisting(path);
                    await WriteFileAsync(path, entry, ct).ConfigureAwait(false);
                    SetOwnerModeXattrsTime(path, entry, isLink: false);
                    break;

                case TarEntryType.SymbolicLink:
                    RemoveExisting(path);
                    File.CreateSymbolicLink(path, entry.LinkName);
                    SetOwner(path, entry);
                    SetXattrs(path, entry);
                    SetTime(path, entry.ModificationTime);
                    break;

                case TarEntryType.HardLink:
                    string target = Path.Combine(root, SafeRelativePath(entry.LinkName, "hard link target"));
                    EnsureNoSymlinkParents(Path.GetRelativePath(root, Path.GetDirectoryName(target)!), entry.LinkName);
                    if (!Exists(target))
                    {
                        throw new LayerException($"hard link \"{entry.Name}\" points to \"{entry.LinkName}\", which is not in the layer root");
                    }

                    RemoveExisting(path);
                    LayerNative.Check(LayerNative.link(target, path), "link", path);
                    break;

                case TarEntryType.CharacterDevice or TarEntryType.BlockDevice:
                    if (!options.Privileged)
                    {
                        Skipped.Add($"{relative}: device nodes need root");
                        return;
                    }

                    RemoveExisting(path);
                    var posix = (PosixTarEntry)entry;
                    uint kind = entry.EntryType == TarEntryType.CharacterDevice ? LayerNative.S_IFCHR : LayerNative.S_IFBLK;
                    LayerNative.Check(LayerNative.mknod(path, kind | (uint)entry.Mode, LayerNative.MakeDev((uint)posix.DeviceMajor, (uint)posix.DeviceMinor)), "mknod", path);
                    SetOwnerModeXattrsTime(path, entry, isLink: false);
                    break;

                case TarEntryType.Fifo:
                    RemoveExisting(path);
                    LayerNative.Check(LayerNative.mknod(path, LayerNative.S_IFIFO | (uint)entry.Mode, 0), "mkfifo", path);
                    SetOwnerModeXattrsTime(path, entry, isLink: false);
                    break;

                default:
                    Skipped.Add($"{relative}: unsupported tar entry type {entry.EntryType}");
                    return;
            }

            _written.Add(relative);
        }

        /// <summary>Applies directory modes, owners and times last, deepest first.</summary>
        public void Finish()
        {
            foreach (var (path, entry) in _directories.OrderByDescending(d => d.Path.Length))
            {
                SetOwnerModeXattrsTime(path, entry, isLink: false, xattrs: false);
            }
        }

        private static async Task WriteFileAsync(string path, TarEntry entry, CancellationToken ct)
        {
            // CreateNew is O_CREAT|O_EXCL: it never follows a symlink that appeared at the path.
            await using var file = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                BufferSize = 0,
                Options = FileOptions.Asynchronous,
                PreallocationSize = entry.Length,
            });
            if (entry.DataStream is not null)
            {
                await entry.DataStream.CopyToAsync(file, 256 * 1024, ct).ConfigureAwait(false);
            }
        }

        private void Whiteout(string path)
        {
            if (options.Whiteouts == WhiteoutMode.Apply)
            {
                RemoveExisting(path);
                return;
            }

            RemoveExisting(path);
            LayerNative.Check(LayerNative.mknod(path, LayerNative.S_IFCHR, 0), "mknod whiteout", path);
        }

        private void Opaque(string dir)
        {
            if (options.Whiteouts == WhiteoutMode.Overlay)
            {
                LayerNative.Check(LayerNative.lsetxattr(dir, "trusted.overlay.opaque", "y"u8.ToArray(), 1, 0), "setxattr opaque", dir);
                return;
            }

            // Everything below the directory that this layer did not itself write goes.
            foreach (string child in Directory.EnumerateFileSystemEntries(dir).ToList())
            {
                string rel = Path.GetRelativePath(root, child);
                if (!_written.Contains(rel))
                {
                    RemoveExisting(child);
                }
                else if (IsRealDirectory(child))
                {
                    Opaque(child);
                }
            }
        }

        /// <summary>Creates missing parents; refuses a parent that is a symlink or not a directory.</summary>
        private string EnsureParents(string parentRel)
        {
            string current = root;
            if (parentRel.Length == 0)
            {
                return current;
            }

            foreach (string part in parentRel.Split('/'))
            {
                current = Path.Combine(current, part);
                var info = new FileInfo(current);
                if (info.LinkTarget is not null)
                {
                    throw new LayerException($"\"{Path.GetRelativePath(root, current)}\" is a symlink; the layer may not write through it");
                }

                if (!info.Exists && !Directory.Exists(current))
                {
                    Directory.CreateDirectory(current);
                }
                else if (info.Exists)
                {
                    throw new LayerException($"\"{Path.GetRelativePath(root, current)}\" is a file, not a directory");
                }
            }

            return current;
        }

        private void EnsureNoSymlinkParents(string parentRel, string what)
        {
            if (parentRel is "." or "")
            {
                return;
            }

            string current = root;
            foreach (string part in parentRel.Split('/'))
            {
                current = Path.Combine(current, part);
                if (new FileInfo(current).LinkTarget is not null)
                {
                    throw new LayerException($"hard link target \"{what}\" passes through a symlink");
                }
            }
        }

        private string SafeRelativePath(string name, string what = "entry")
        {
            if (name.StartsWith('/'))
            {
                throw new LayerException($"{what} \"{name}\" is an absolute path");
            }

            var parts = new List<string>();
            foreach (string part in name.Split('/'))
            {
                if (part.Length == 0 || part == ".")
                {
                    continue;
                }

                if (part == "..")
                {
                    throw new LayerException($"{what} \"{name}\" leaves the layer root with \"..\"");
                }

                if (part.Contains('\0', StringComparison.Ordinal))
                {
                    throw new LayerException($"{what} \"{name}\" has a NUL byte");
                }

                parts.Add(part);
            }

            return string.Join('/', parts);
        }

        private static bool IsRealDirectory(string path) => Directory.Exists(path) && new DirectoryInfo(path).LinkTarget is null;

        private static bool Exists(string path) => File.Exists(path) || Directory.Exists(path) || new FileInfo(path).LinkTarget is not null;

        private static void RemoveExisting(string path)
        {
            // FileInfo sees regular files, symlinks (dangling ones too), devices and fifos; a
            // symlink to a directory is removed as a link, never followed.
            var info = new FileInfo(path);
            if (info.LinkTarget is not null || info.Exists)
            {
                info.Delete();
            }
            else if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }

        private void SetOwnerModeXattrsTime(string path, TarEntry entry, bool isLink, bool xattrs = true)
        {
            SetOwner(path, entry);
            if (!isLink && !OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, entry.Mode);
            }

            if (xattrs)
            {
                SetXattrs(path, entry);
            }

            SetTime(path, entry.ModificationTime);
        }

        private void SetOwner(string path, TarEntry entry)
        {
            if (options.Privileged)
            {
                LayerNative.Check(LayerNative.lchown(path, entry.Uid, entry.Gid), "chown", path);
            }
        }

        private void SetXattrs(string path, TarEntry entry)
        {
            if (entry is not PaxTarEntry pax)
            {
                return;
            }

            foreach (var (key, value) in pax.ExtendedAttributes)
            {
                if (!key.StartsWith("SCHILY.xattr.", StringComparison.Ordinal))
                {
                    continue;
                }

                string attr = key["SCHILY.xattr.".Length..];
                byte[] bytes = Encoding.Latin1.GetBytes(value);
                if (LayerNative.lsetxattr(path, attr, bytes, (nuint)bytes.Length, 0) != 0)
                {
                    Skipped.Add($"{Path.GetRelativePath(root, path)}: xattr {attr} not kept");
                }
            }
        }

        private static void SetTime(string path, DateTimeOffset time)
        {
            long ns = (time.ToUnixTimeMilliseconds() % 1000) * 1_000_000;
            var ts = new LayerNative.Timespec { Seconds = time.ToUnixTimeSeconds(), Nanoseconds = ns };
            _ = LayerNative.utimensat(LayerNative.AT_FDCWD, path, [ts, ts], LayerNative.AT_SYMLINK_NOFOLLOW);
        }
    }
}
