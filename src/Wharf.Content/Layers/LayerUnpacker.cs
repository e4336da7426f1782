using Wharf.Content;
using System.Buffers;
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

    /// <summary>
    /// Keep the owners the layer records. Root can, in any user namespace (inside a rootless one
    /// for the IDs it maps), so this defaults to whether the effective UID is 0.
    /// </summary>
    public bool KeepOwners { get; init; } = LayerNative.geteuid() == 0;

    /// <summary>
    /// Create device nodes. Only root of the host may: a rootless user namespace cannot, and a node
    /// made there would still reach the host's hardware. Defaults to <see cref="HostIdentity.IsRealRoot"/>;
    /// when false, device entries are skipped and listed in the report (set false to unpack as rootless).
    /// </summary>
    public bool CreateDeviceNodes { get; init; } = HostIdentity.IsRealRoot;

    /// <summary>The most bytes the unpack may write (the store quota left); null for no limit.</summary>
    public LayerBudget? Budget { get; init; }
}

public sealed record LayerUnpackReport(Digest DiffId, long Entries, IReadOnlyList<string> Skipped);

/// <summary>Thrown for a layer that tries to write outside its root or is otherwise malformed.</summary>
public class LayerException : Exception
{
    public LayerException()
        : this("invalid layer")
    {
    }

    public LayerException(string message)
        : base(message)
    {
    }

    public LayerException(string message, Exception inner)
        : base(message + ": " + inner?.Message, inner)
    {
    }
}

/// <summary>
/// Unpacks a layer tar (plain, gzip or zstd, detected from the bytes) into a directory. Nothing is
/// ever written or changed outside that directory, whatever the layer holds:
/// <list type="bullet">
/// <item>absolute names and <c>..</c> are refused;</item>
/// <item>the root is held open and every entry is reached from it one name at a time, opening each
/// parent with <c>O_NOFOLLOW|O_DIRECTORY</c>: a parent that is a symlink is refused, never followed;</item>
/// <item>files are made and changed relative to their parent's descriptor: content through the new
/// file's own descriptor (<c>O_CREAT|O_EXCL|O_NOFOLLOW</c>), owner, mode, xattrs and times through
/// that descriptor or an <c>*at</c> call with <c>AT_SYMLINK_NOFOLLOW</c>. Directory metadata is
/// applied last (a read-only directory must still receive its children), looked up afresh then, so
/// a directory the layer later replaced with a symlink is skipped rather than followed;</item>
/// <item>hard links must name an entry inside the root, reached the same way;</item>
/// <item>device nodes are made only by the host's root (<see cref="LayerUnpackOptions.CreateDeviceNodes"/>);</item>
/// <item>file bytes count against <see cref="LayerUnpackOptions.Budget"/>: past it the unpack stops.</item>
/// </list>
/// When the unpack fails, a root directory it created is removed again.
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
        bool created = !Directory.Exists(root);
        Directory.CreateDirectory(root);
        try
        {
            return await UnpackIntoAsync(layer, root, options, cancellationToken).ConfigureAwait(false);
        }
        catch when (created)
        {
            // A layer unpacks whole or leaves nothing: a half-written root would pass for a layer.
            DeleteBestEffort(root);
            throw;
        }
    }

    private static async Task<LayerUnpackReport> UnpackIntoAsync(Stream layer, string root, LayerUnpackOptions options, CancellationToken cancellationToken)
    {
        await using var decompressed = await DecompressAsync(layer, cancellationToken).ConfigureAwait(false);
        using var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using var hashing = new HashingReadStream(decompressed, hasher);
        using var state = new UnpackState(root, options);

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

    private static void DeleteBestEffort(string root)
    {
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The original failure is what the caller must see; a caller unpacking into a
            // temporary directory removes that directory itself as well.
        }
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

    private sealed class UnpackState : IDisposable
    {
        private const int CopyBufferSize = 256 * 1024;
        private const uint NewDirectoryMode = 0x1ed; // 0755 until the entry's own mode is applied last

        // Read once: a file whose mode survives the umask is created with it, with no fchmod after.
        private static readonly uint? Umask = LayerNative.ProcessUmask();

        private readonly string _root;
        private readonly LayerUnpackOptions _options;
        private readonly uint _euid = LayerNative.geteuid();
        private readonly uint _egid = LayerNative.getegid();
        private readonly Fd _rootFd;
        private readonly HashSet<string> _written = new(StringComparer.Ordinal);

        // Relative path → the last directory entry for it; applied in Finish.
        private readonly Dictionary<string, TarEntry> _directories = new(StringComparer.Ordinal);

        public UnpackState(string root, LayerUnpackOptions options)
        {
            _root = root;
            _options = options;
            int fd = LayerNative.openat(LayerNative.AT_FDCWD, root, LayerNative.O_PATH | LayerNative.O_DIRECTORY | LayerNative.O_CLOEXEC, 0);
            LayerNative.Check(fd, "open", root);
            _rootFd = new Fd(fd);
        }

        public long Entries { get; private set; }

        public List<string> Skipped { get; } = [];

        // The parent directory of the last entry, kept open: a layer lists a directory's entries
        // together, so most entries reuse it instead of walking from the root again (one openat
        // per path component per file was most of the system calls of a many-file layer). It is
        // dropped whenever an entry replaces, removes or whites out it or one of its ancestors,
        // so every later entry under such a path walks again from the root with O_NOFOLLOW.
        private string? _parentRel;
        private Fd? _parent;

        // Whether a file made in the kept parent gets our own group whatever the directory's setgid
        // bit or the mount's grpid option say: true when the directory's group is ours.
        private bool _parentGroupIsOurs;

        public void Dispose()
        {
            _parent?.Dispose();
            _rootFd.Dispose();
        }

        private Fd ParentDirectory(string parentRel)
        {
            if (_parent is not null && _parentRel == parentRel)
            {
                return _parent;
            }

            ForgetParent();
            _parent = OpenDirectory(parentRel, create: true);
            _parentRel = parentRel;
            _parentGroupIsOurs = LayerNative.GroupAndMode(_parent.Value) is { } st && st.Gid == _egid;
            return _parent;
        }

        /// <summary>Drops the kept parent when <paramref name="relative"/> is it or one of its ancestors (with <paramref name="strictlyBelow"/>, only when it lies below).</summary>
        private void ForgetParentAt(string relative, bool strictlyBelow = false)
        {
            if (_parentRel is null)
            {
                return;
            }

            bool below = relative.Length == 0 ? _parentRel.Length > 0 : _parentRel.StartsWith(relative + "/", StringComparison.Ordinal);
            if (below || (!strictlyBelow && _parentRel == relative))
            {
                ForgetParent();
            }
        }

        private void ForgetParent()
        {
            _parent?.Dispose();
            _parent = null;
            _parentRel = null;
            _parentGroupIsOurs = false;
        }

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
            ForgetParentAt(relative);
            if (name == OpaqueWhiteout)
            {
                ForgetParentAt(parentRel, strictlyBelow: true);
            }
            else if (name.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
            {
                ForgetParentAt(Join(parentRel, name[WhiteoutPrefix.Length..]));
            }

            var parent = ParentDirectory(parentRel);

            if (name == OpaqueWhiteout)
            {
                Opaque(parent, parentRel);
                return;
            }

            if (name.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
            {
                string target = name[WhiteoutPrefix.Length..];
                if (target.Length == 0 || target is "." or ".." || target.Contains('/', StringComparison.Ordinal))
                {
                    throw new LayerException($"whiteout \"{entry.Name}\" names no valid entry");
                }

                Whiteout(parent, target, Join(parentRel, target));
                return;
            }

            int dir = parent.Value;
            switch (entry.EntryType)
            {
                case TarEntryType.Directory:
                    // mkdir first: in a layer's own new directory the name is free, and an existing
                    // directory is kept (only its metadata changes, in Finish).
                    if (LayerNative.mkdirat(dir, name, NewDirectoryMode) != 0)
                    {
                        if (LayerNative.LastError != LayerNative.EEXIST)
                        {
                            throw LayerNative.Error("mkdir", relative);
                        }

                        if (!IsDirectory(dir, name))
                        {
                            Remove(dir, name, relative);
                            LayerNative.Check(LayerNative.mkdirat(dir, name, NewDirectoryMode), "mkdir", relative);
                        }
                    }

                    _directories[relative] = entry;
                    SetDirectoryXattrs(dir, name, relative, entry);
                    break;

                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    await WriteFileAsync(dir, name, relative, entry, ct).ConfigureAwait(false);
                    break;

                case TarEntryType.SymbolicLink:
                    string linkTarget = entry.LinkName;
                    CreateReplacing(dir, name, relative, "symlink", () => LayerNative.symlinkat(linkTarget, dir, name));
                    SetNodeMetadata(dir, name, relative, entry, mode: false);
                    break;

                case TarEntryType.HardLink:
                    HardLink(dir, name, relative, entry);
                    break;

                case TarEntryType.CharacterDevice or TarEntryType.BlockDevice:
                    if (!_options.CreateDeviceNodes)
                    {
                        Skipped.Add($"{relative}: device nodes are made only by the host's root");
                        return;
                    }

                    var posix = (PosixTarEntry)entry;
                    uint kind = entry.EntryType == TarEntryType.CharacterDevice ? LayerNative.S_IFCHR : LayerNative.S_IFBLK;
                    ulong device = LayerNative.MakeDev((uint)posix.DeviceMajor, (uint)posix.DeviceMinor);
                    uint nodeMode = kind | Mode(entry);
                    CreateReplacing(dir, name, relative, "mknod", () => LayerNative.mknodat(dir, name, nodeMode, device));
                    SetNodeMetadata(dir, name, relative, entry, mode: true);
                    break;

                case TarEntryType.Fifo:
                    uint fifoMode = LayerNative.S_IFIFO | Mode(entry);
                    CreateReplacing(dir, name, relative, "mkfifo", () => LayerNative.mknodat(dir, name, fifoMode, 0));
                    SetNodeMetadata(dir, name, relative, entry, mode: true);
                    break;

                default:
                    Skipped.Add($"{relative}: unsupported tar entry type {entry.EntryType}");
                    return;
            }

            _written.Add(relative);
        }

        /// <summary>
        /// Applies directory owners, modes and times last, deepest first. Each directory is looked
        /// up again from the root without following links: one the layer replaced later (by a
        /// symlink to the host, say) is no longer this entry's directory and is left alone.
        /// </summary>
        public void Finish()
        {
            foreach (var (relative, entry) in _directories.OrderByDescending(d => d.Key.Count(c => c == '/')).ThenByDescending(d => d.Key.Length))
            {
                string name = Path.GetFileName(relative);
                Fd parent;
                try
                {
                    parent = OpenDirectory(Path.GetDirectoryName(relative) ?? string.Empty, create: false);
                }
                catch (LayerException)
                {
                    continue;
                }

                using (parent)
                {
                    if (IsDirectory(parent.Value, name))
                    {
                        SetNodeMetadata(parent.Value, name, relative, entry, mode: true, xattrs: false);
                    }
                }
            }
        }

        /// <summary>
        /// Makes a name with <paramref name="create"/> (a call that never follows a symlink at the
        /// name and fails with EEXIST when it is taken); only when taken is the old entry removed
        /// and the call made again. Trying first spares a failing unlinkat per entry, since in a
        /// layer's own new directories every name is free.
        /// </summary>
        private void CreateReplacing(int dir, string name, string relative, string what, Func<int> create)
        {
            if (create() == 0)
            {
                return;
            }

            if (LayerNative.LastError != LayerNative.EEXIST)
            {
                throw LayerNative.Error(what, relative);
            }

            Remove(dir, name, relative);
            LayerNative.Check(create(), what, relative);
        }

        private async Task WriteFileAsync(int dir, string name, string relative, TarEntry entry, CancellationToken ct)
        {
            uint mode = Mode(entry);

            // A file we create is ours and, when its directory's group is ours, of our group: for
            // a layer's usual root-owned files (root inside a rootless namespace too) the fchown
            // would change nothing. Likewise a mode the umask leaves whole is given at creation.
            bool chown = _options.KeepOwners && !(entry.Uid == _euid && entry.Gid == _egid && _parentGroupIsOurs);
            uint createMode = mode & 0x1ff;
            bool chmod = chown || Umask is not { } umask || (createMode & ~umask) != mode;

            // O_EXCL|O_NOFOLLOW: a name already there (a lower layer's entry in Apply mode, an earlier
            // entry of this layer) is removed and the create made again; never a link to write through.
            const int flags = LayerNative.O_WRONLY | LayerNative.O_CREAT | LayerNative.O_EXCL | LayerNative.O_NOFOLLOW | LayerNative.O_CLOEXEC;
            int fd = LayerNative.openat(dir, name, flags, chmod ? 0x180u : createMode);
            if (fd < 0 && LayerNative.LastError == LayerNative.EEXIST)
            {
                Remove(dir, name, relative);
                fd = LayerNative.openat(dir, name, flags, chmod ? 0x180u : createMode);
            }

            LayerNative.Check(fd, "create", relative);
            using var file = new Fd(fd);
            if (entry.DataStream is { } data)
            {
                byte[] buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
                try
                {
                    // The buffer is filled before each write: a small file is one pwrite, not one
                    // per chunk the decompressor hands over. pwrite straight on the descriptor, as a
                    // FileStream or RandomAccess would first ask the kernel whether it can seek.
                    long offset = 0;
                    int filled = 0;
                    while (true)
                    {
                        int n = await data.ReadAsync(buffer.AsMemory(filled), ct).ConfigureAwait(false);
                        if (n > 0)
                        {
                            // Taken before writing, so an over-budget layer never lands on disk.
                            _options.Budget?.Take(n);
                            filled += n;
                            if (filled < buffer.Length)
                            {
                                continue;
                            }
                        }

                        if (filled > 0)
                        {
                            LayerNative.Check(LayerNative.PwriteAll(fd, buffer.AsSpan(0, filled), offset), "write", relative);
                            offset += filled;
                            filled = 0;
                        }

                        if (n == 0)
                        {
                            break;
                        }
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }

            // Owner before mode: chown clears setuid and setgid bits.
            if (chown && LayerNative.fchown(fd, entry.Uid, entry.Gid) != 0)
            {
                OwnerFailed(relative, entry);
            }

            if (chmod)
            {
                LayerNative.Check(LayerNative.fchmod(fd, mode), "chmod", relative);
            }

            foreach (var (attribute, value) in Xattrs(entry))
            {
                if (LayerNative.fsetxattr(fd, attribute, value, (nuint)value.Length, 0) != 0)
                {
                    Skipped.Add($"{relative}: xattr {attribute} not kept");
                }
            }

            _ = LayerNative.futimens(fd, LayerNative.Times(entry.ModificationTime));
        }

        private void HardLink(int dir, string name, string relative, TarEntry entry)
        {
            string targetRel = SafeRelativePath(entry.LinkName, "hard link target");
            string targetName = Path.GetFileName(targetRel);
            Fd targetParent;
            try
            {
                targetParent = OpenDirectory(Path.GetDirectoryName(targetRel) ?? string.Empty, create: false);
            }
            catch (LayerException e)
            {
                throw new LayerException($"hard link \"{entry.Name}\" to \"{entry.LinkName}\": {e.Message}");
            }

            using (targetParent)
            {
                if (targetName.Length == 0 || !Exists(targetParent.Value, targetName))
                {
                    throw new LayerException($"hard link \"{entry.Name}\" points to \"{entry.LinkName}\", which is not in the layer root");
                }

                if (targetRel == relative)
                {
                    return; // a link to itself: the file is already there
                }

                // linkat without AT_SYMLINK_FOLLOW links a symlink itself, never what it points to.
                int from = targetParent.Value;
                CreateReplacing(dir, name, relative, "link", () => LayerNative.linkat(from, targetName, dir, name, 0));
            }
        }

        private void Whiteout(Fd parent, string target, string relative)
        {
            Remove(parent.Value, target, relative);
            if (_options.Whiteouts == WhiteoutMode.Overlay)
            {
                LayerNative.Check(LayerNative.mknodat(parent.Value, target, LayerNative.S_IFCHR, 0), "mknod whiteout", relative);
            }
        }

        private void Opaque(Fd dir, string relative)
        {
            if (_options.Whiteouts == WhiteoutMode.Overlay)
            {
                using var self = OpenReadable(dir.Value, ".", relative);
                byte[] yes = "y"u8.ToArray();
                LayerNative.Check(LayerNative.fsetxattr(self.Value, "trusted.overlay.opaque", yes, (nuint)yes.Length, 0), "setxattr opaque", relative);
                return;
            }

            // Everything below the directory that this layer did not itself write goes. The listing
            // is by path, but the directory was just reached without a symlink, and every removal
            // and descent is by descriptor.
            foreach (string child in Directory.EnumerateFileSystemEntries(Path.Combine(_root, relative)).Select(Path.GetFileName).ToList()!)
            {
                string rel = Join(relative, child);
                if (!_written.Contains(rel))
                {
                    Remove(dir.Value, child, rel);
                }
                else if (IsDirectory(dir.Value, child))
                {
                    using var sub = OpenChild(dir.Value, child, rel, create: false);
                    Opaque(sub, rel);
                }
            }
        }

        /// <summary>
        /// Opens the directory <paramref name="relative"/> below the root one name at a time with
        /// O_NOFOLLOW, creating missing ones when asked. A component that is a symlink or a file is
        /// refused with a <see cref="LayerException"/>.
        /// </summary>
        private Fd OpenDirectory(string relative, bool create)
        {
            var current = OpenChild(_rootFd.Value, ".", string.Empty, create: false);
            if (relative.Length == 0)
            {
                return current;
            }

            string walked = string.Empty;
            foreach (string part in relative.Split('/'))
            {
                walked = Join(walked, part);
                using var previous = current;
                current = OpenChild(previous.Value, part, walked, create);
            }

            return current;
        }

        private static Fd OpenChild(int dir, string name, string relative, bool create)
        {
            const int flags = LayerNative.O_PATH | LayerNative.O_DIRECTORY | LayerNative.O_NOFOLLOW | LayerNative.O_CLOEXEC;
            int fd = LayerNative.openat(dir, name, flags, 0);
            if (fd < 0 && LayerNative.LastError == LayerNative.ENOENT && create)
            {
                int rc = LayerNative.mkdirat(dir, name, NewDirectoryMode);
                if (rc != 0 && LayerNative.LastError != LayerNative.EEXIST)
                {
                    throw LayerNative.Error("mkdir", relative);
                }

                fd = LayerNative.openat(dir, name, flags, 0);
            }

            if (fd >= 0)
            {
                return new Fd(fd);
            }

            int errno = LayerNative.LastError;
            if (errno == LayerNative.ENOTDIR)
            {
                throw IsSymlink(dir, name)
                    ? new LayerException($"\"{relative}\" is a symlink; the layer may not write through it")
                    : new LayerException($"\"{relative}\" is a file, not a directory");
            }

            if (errno == LayerNative.ENOENT)
            {
                throw new LayerException($"\"{relative}\" does not exist");
            }

            throw LayerNative.Error(errno, "open", relative);
        }

        /// <summary>A descriptor that fsetxattr accepts (an O_PATH one is refused), for a directory or regular file.</summary>
        private static Fd OpenReadable(int dir, string name, string relative)
        {
            int fd = LayerNative.openat(dir, name, LayerNative.O_RDONLY | LayerNative.O_NOFOLLOW | LayerNative.O_NONBLOCK | LayerNative.O_NOCTTY | LayerNative.O_CLOEXEC, 0);
            LayerNative.Check(fd, "open", relative);
            return new Fd(fd);
        }

        private static bool IsDirectory(int dir, string name)
        {
            int fd = LayerNative.openat(dir, name, LayerNative.O_PATH | LayerNative.O_DIRECTORY | LayerNative.O_NOFOLLOW | LayerNative.O_CLOEXEC, 0);
            if (fd < 0)
            {
                return false;
            }

            _ = LayerNative.close(fd);
            return true;
        }

        private static bool IsSymlink(int dir, string name) => LayerNative.readlinkat(dir, name, new byte[1], 1) >= 0;

        /// <summary>Anything at all under the name, a dangling symlink included.</summary>
        private static bool Exists(int dir, string name)
        {
            int fd = LayerNative.openat(dir, name, LayerNative.O_PATH | LayerNative.O_NOFOLLOW | LayerNative.O_CLOEXEC, 0);
            if (fd < 0)
            {
                return false;
            }

            _ = LayerNative.close(fd);
            return true;
        }

        /// <summary>Removes whatever is at the name in <paramref name="dir"/>; a symlink goes as a link, never followed.</summary>
        private void Remove(int dir, string name, string relative)
        {
            if (LayerNative.unlinkat(dir, name, 0) == 0)
            {
                return;
            }

            int errno = LayerNative.LastError;
            if (errno == LayerNative.ENOENT)
            {
                return;
            }

            if (errno != LayerNative.EISDIR)
            {
                throw LayerNative.Error(errno, "remove", relative);
            }

            if (LayerNative.unlinkat(dir, name, LayerNative.AT_REMOVEDIR) == 0)
            {
                return;
            }

            errno = LayerNative.LastError;
            if (errno is not (LayerNative.ENOTEMPTY or LayerNative.EEXIST))
            {
                throw LayerNative.Error(errno, "remove", relative);
            }

            // A full directory: its path was reached from the root without a symlink, and the
            // recursive delete unlinks symlinks inside it rather than descending into them.
            Directory.Delete(Path.Combine(_root, relative), recursive: true);
        }

        /// <summary>Owner, mode, xattrs and times of a name in <paramref name="dir"/>, none following a symlink.</summary>
        private void SetNodeMetadata(int dir, string name, string relative, TarEntry entry, bool mode, bool xattrs = true)
        {
            if (_options.KeepOwners && LayerNative.fchownat(dir, name, entry.Uid, entry.Gid, LayerNative.AT_SYMLINK_NOFOLLOW) != 0)
            {
                OwnerFailed(relative, entry);
            }

            if (mode)
            {
                LayerNative.Check(LayerNative.FchmodatNoFollow(dir, name, Mode(entry)), "chmod", relative);
            }

            if (xattrs)
            {
                foreach (var (attribute, value) in Xattrs(entry))
                {
                    if (LayerNative.SetxattratNoFollow(dir, name, attribute, value) != 0)
                    {
                        Skipped.Add($"{relative}: xattr {attribute} not kept");
                    }
                }
            }

            _ = LayerNative.utimensat(dir, name, LayerNative.Times(entry.ModificationTime), LayerNative.AT_SYMLINK_NOFOLLOW);
        }

        private void SetDirectoryXattrs(int dir, string name, string relative, TarEntry entry)
        {
            var attributes = Xattrs(entry);
            if (attributes.Count == 0)
            {
                return;
            }

            using var self = OpenReadable(dir, name, relative);
            foreach (var (attribute, value) in attributes)
            {
                if (LayerNative.fsetxattr(self.Value, attribute, value, (nuint)value.Length, 0) != 0)
                {
                    Skipped.Add($"{relative}: xattr {attribute} not kept");
                }
            }
        }

        private void OwnerFailed(string relative, TarEntry entry)
        {
            int errno = LayerNative.LastError;

            // EINVAL: the ID is not mapped in this user namespace; the file keeps ours.
            if (errno != LayerNative.EINVAL)
            {
                throw LayerNative.Error(errno, "chown", relative);
            }

            Skipped.Add($"{relative}: owner {entry.Uid}:{entry.Gid} is not mapped in this user namespace");
        }

        private static uint Mode(TarEntry entry) => (uint)entry.Mode & 0xfff; // permission, setuid, setgid and sticky bits

        private static List<(string Attribute, byte[] Value)> Xattrs(TarEntry entry)
        {
            var result = new List<(string, byte[])>();
            if (entry is PaxTarEntry pax)
            {
                foreach (var (key, value) in pax.ExtendedAttributes)
                {
                    if (key.StartsWith("SCHILY.xattr.", StringComparison.Ordinal))
                    {
                        result.Add((key["SCHILY.xattr.".Length..], Encoding.Latin1.GetBytes(value)));
                    }
                }
            }

            return result;
        }

        private static string Join(string parent, string name) => parent.Length == 0 ? name : parent + "/" + name;

        private static string SafeRelativePath(string name, string what = "entry")
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
    }
}
