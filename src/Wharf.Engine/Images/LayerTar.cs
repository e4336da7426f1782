using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Wharf.Content.Layers;
using Wharf.Engine.Containers;
using Wharf.Oci;

namespace Wharf.Engine.Images;

/// <summary>
/// Writes a directory diff as a gzip layer tar, hashing it twice on the way out: uncompressed
/// (the diff ID the config lists) and compressed (the blob digest the manifest lists).
/// </summary>
internal static class LayerTar
{
    /// <summary>Two 512-byte zero blocks: the end of a tar archive (POSIX ustar).</summary>
    public const int EndOfArchive = 1024;

    /// <summary>
    /// The layer tar (image-spec layer.md): changed entries with their parents' directories,
    /// <c>.wh.NAME</c> for deletions and <c>.wh..wh..opq</c> in opaque directories.
    /// </summary>
    public static async Task<(Digest DiffId, Digest BlobDigest, long BlobSize, long TarSize)> WriteAsync(
        IReadOnlyList<ContainerChange> changes, string target, CancellationToken cancellationToken)
    {
        var file = new FileStream(target, FileMode.CreateNew, FileAccess.Write);
        using var blobHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var tarHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long tarSize;
        await using (file.ConfigureAwait(false))
        {
            var blob = new HashingWriteStream(file, blobHash);
            var gzip = new GZipStream(blob, CompressionLevel.Fastest, leaveOpen: true);
            var tar = new HashingWriteStream(gzip, tarHash);
            var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true);
            await using (writer.ConfigureAwait(false))
            {
                var written = new HashSet<string>(StringComparer.Ordinal);
                var links = new Dictionary<ulong, string>();
                foreach (var change in changes)
                {
                    await WriteParentsAsync(writer, change, changes, written, cancellationToken).ConfigureAwait(false);
                    string name = change.Path.TrimStart('/');
                    if (change.Whiteout)
                    {
                        string parent = Path.GetDirectoryName(name) ?? string.Empty;
                        string wh = (parent.Length > 0 ? parent + "/" : string.Empty) + ".wh." + Path.GetFileName(name);
                        await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, wh) { Mode = 0, ModificationTime = DateTimeOffset.UnixEpoch }, cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    await WriteEntryAsync(writer, change.HostPath, name, links, cancellationToken).ConfigureAwait(false);
                    written.Add(name);
                    if (change.Opaque)
                    {
                        await writer.WriteEntryAsync(
                            new PaxTarEntry(TarEntryType.RegularFile, name + "/.wh..wh..opq") { Mode = (UnixFileMode)0x1ED, ModificationTime = DateTimeOffset.UnixEpoch },
                            cancellationToken).ConfigureAwait(false);
                    }
                }
            }

            // TarWriter writes the end-of-archive blocks only after an entry, so a diff with
            // nothing in it (a commit of an unchanged container) would be a 0-byte tar that Go's
            // archive/tar, and with it podman, reads as cut off. podman writes these 1024 zero bytes.
            if (tar.Written == 0)
            {
                await tar.WriteAsync(new byte[EndOfArchive], cancellationToken).ConfigureAwait(false);
            }

            await tar.FlushAsync(cancellationToken).ConfigureAwait(false);
            tarSize = tar.Written;
            await gzip.DisposeAsync().ConfigureAwait(false);
            await blob.FlushAsync(cancellationToken).ConfigureAwait(false);
            file.Flush(flushToDisk: true);
        }

        return (Digest.FromHasher(Digest.Sha256, tarHash), Digest.FromHasher(Digest.Sha256, blobHash), new FileInfo(target).Length, tarSize);
    }

    /// <summary>Parents of a changed entry go in first (they are in the upper dir too: overlay copies them up).</summary>
    private static async Task WriteParentsAsync(TarWriter writer, ContainerChange change, IReadOnlyList<ContainerChange> changes, HashSet<string> written, CancellationToken ct)
    {
        string[] parts = change.Path.TrimStart('/').Split('/');
        for (int i = 1; i < parts.Length; i++)
        {
            string parent = string.Join('/', parts[..i]);
            if (written.Add(parent))
            {
                string host = changes[0].HostPath[..^changes[0].Path.TrimStart('/').Length] + parent;
                await WriteEntryAsync(writer, host, parent, [], ct).ConfigureAwait(false);
            }
        }
    }

    private static async Task WriteEntryAsync(TarWriter writer, string host, string name, Dictionary<ulong, string> links, CancellationToken ct)
    {
        var st = FileStatus.LStat(host) ?? throw new WharfException($"commit: {host} vanished while reading");
        uint fmt = st.Mode & ContainerNative.S_IFMT;
        var xattrs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string attr in ContainerNative.ListXattrs(host))
        {
            if (attr.StartsWith("trusted.overlay.", StringComparison.Ordinal))
            {
                continue;
            }

            if (ContainerNative.GetXattr(host, attr) is { } value)
            {
                xattrs["SCHILY.xattr." + attr] = Encoding.Latin1.GetString(value);
            }
        }

        TarEntryType type = fmt switch
        {
            ContainerNative.S_IFDIR => TarEntryType.Directory,
            ContainerNative.S_IFLNK => TarEntryType.SymbolicLink,
            ContainerNative.S_IFCHR => TarEntryType.CharacterDevice,
            ContainerNative.S_IFBLK => TarEntryType.BlockDevice,
            ContainerNative.S_IFIFO => TarEntryType.Fifo,
            ContainerNative.S_IFREG => TarEntryType.RegularFile,
            _ => TarEntryType.RegularFile,
        };
        if (fmt == ContainerNative.S_IFSOCK)
        {
            return; // sockets are not carried in layers
        }

        ulong inode = st.Ino;
        if (type == TarEntryType.RegularFile && st.Nlink > 1)
        {
            if (links.TryGetValue(inode, out string? first))
            {
                type = TarEntryType.HardLink;
                var link = new PaxTarEntry(type, name, xattrs) { LinkName = first };
                await writer.WriteEntryAsync(Fill(link, st), ct).ConfigureAwait(false);
                return;
            }

            links[inode] = name;
        }

        var entry = new PaxTarEntry(type, type == TarEntryType.Directory ? name + "/" : name, xattrs);
        Fill(entry, st);
        switch (type)
        {
            case TarEntryType.SymbolicLink:
                entry.LinkName = new FileInfo(host).LinkTarget ?? string.Empty;
                break;
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice:
                entry.DeviceMajor = (int)st.RdevMajor;
                entry.DeviceMinor = (int)st.RdevMinor;
                break;
            case TarEntryType.RegularFile:
                var data = new FileStream(host, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16, useAsync: true);
                await using (data.ConfigureAwait(false))
                {
                    entry.DataStream = data;
                    await writer.WriteEntryAsync(entry, ct).ConfigureAwait(false);
                }

                return;
        }

        await writer.WriteEntryAsync(entry, ct).ConfigureAwait(false);
    }

    private static PaxTarEntry Fill(PaxTarEntry entry, FileStatus.Statx st)
    {
        entry.Mode = (UnixFileMode)(st.Mode & 0xFFF);
        entry.Uid = (int)st.Uid;
        entry.Gid = (int)st.Gid;
        entry.ModificationTime = DateTimeOffset.FromUnixTimeSeconds(st.Mtime.Seconds);
        return entry;
    }

    /// <summary>Hashes and counts bytes on their way to <paramref name="inner"/>.</summary>
    private sealed class HashingWriteStream(Stream inner, IncrementalHash hash) : Stream
    {
        public long Written { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => Written;

        public override long Position { get => Written; set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            hash.AppendData(buffer);
            Written += buffer.Length;
            inner.Write(buffer);
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            hash.AppendData(buffer.Span);
            Written += buffer.Length;
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}
