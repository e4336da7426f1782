using System.Diagnostics;
using System.IO.Compression;
using System.IO.Pipelines;
using System.Text.Json;
using Wharf.Content;
using Wharf.Oci;

namespace Wharf.Engine.Storage;

/// <summary>
/// The local image store under graphroot. Layout:
/// <code>
/// &lt;graphroot&gt;/wharf/
///   images.json            the index: every image, its names, digests and sizes
///   images.lock            held (flock) while the index is read-modified-written
///   blobs/sha256/&lt;hex&gt;     manifests, configs and layers, kept compressed as fetched
///   blobs/sha256/&lt;hex&gt;.usize  a layer's uncompressed size, computed once
///   inflight/&lt;id&gt;.json    blobs a running pull is using, so a concurrent rmi keeps them
///   tmp/                   partial writes; nothing is renamed out of here unverified
/// </code>
/// Every write goes to tmp/, is hashed and checked, flushed, then renamed; the index is
/// replaced by rename under the lock, so concurrent wharf processes see the old or the new.
/// </summary>
public sealed class ImageStore
{
    public ImageStore(string graphRoot)
    {
        GraphRoot = graphRoot;
        Root = Path.Combine(graphRoot, "wharf");
    }

    public string GraphRoot { get; }

    public string Root { get; }

    private string IndexPath => Path.Combine(Root, "images.json");

    private string LockPath => Path.Combine(Root, "images.lock");

    private string TempDir => Path.Combine(Root, "tmp");

    private string InflightDir => Path.Combine(Root, "inflight");

    public string BlobPath(Oci.Digest digest) => Path.Combine(Root, "blobs", digest.Algorithm, digest.Encoded);

    /// <summary>
    /// The read-only stores searched after this one (<c>additionalimagestores</c>, docs/shared-store.md):
    /// their images are listed and run, their blobs read and their unpacked layers used as lower
    /// dirs, but nothing is ever written to them through this store.
    /// </summary>
    public IReadOnlyList<ImageStore> ReadOnlyStores { get; init; } = [];

    /// <summary>Says once why a read-only store's index could not be read (the CLI prints a warning line).</summary>
    public Action<string>? Warn { get; init; }

    /// <summary>
    /// Where a blob is read from: this store's own file, else the first read-only store that has
    /// it; this store's path when none has it (so the error names the local store).
    /// </summary>
    public string FindBlobPath(Oci.Digest digest)
    {
        string local = BlobPath(digest);
        if (File.Exists(local))
        {
            return local;
        }

        foreach (var shared in ReadOnlyStores)
        {
            string path = shared.BlobPath(digest);
            if (File.Exists(path))
            {
                return path;
            }
        }

        return local;
    }

    /// <summary>The unpacked layer (its <c>diff</c> directory) a read-only store holds for a chain ID, or null.</summary>
    public string? FindReadOnlyLayer(string chainId)
    {
        string hex = Oci.Digest.Parse(chainId).Encoded;
        foreach (var shared in ReadOnlyStores)
        {
            string dir = Path.Combine(shared.Root, "layers", hex, "diff");
            if (Directory.Exists(dir))
            {
                return dir;
            }
        }

        return null;
    }

    /// <summary>The squashfs file of a layer (by chain ID) that a read-only store keeps in that form, or null.</summary>
    public string? FindReadOnlySquashfs(string chainId)
    {
        string hex = Oci.Digest.Parse(chainId).Encoded;
        foreach (var shared in ReadOnlyStores)
        {
            string file = Path.Combine(shared.Root, "layers", hex, Containers.SquashfsMounts.FileName);
            if (File.Exists(file))
            {
                return file;
            }
        }

        return null;
    }

    /// <summary>
    /// Copies a blob that only a read-only store holds into this store (commit and build on a
    /// shared base: the new image must not depend on what an unpublish may remove). False when no
    /// read-only store has it at the expected size.
    /// </summary>
    public bool CopyFromReadOnly(Descriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        foreach (var shared in ReadOnlyStores)
        {
            if (!shared.HasBlob(descriptor))
            {
                continue;
            }

            EnsureLayout();
            string temp = TempPath(descriptor.Digest.Encoded);
            try
            {
                File.Copy(shared.BlobPath(descriptor.Digest), temp);
                using (var fs = new FileStream(temp, FileMode.Open, FileAccess.ReadWrite))
                {
                    fs.Flush(flushToDisk: true);
                }

                File.Move(temp, BlobPath(descriptor.Digest), overwrite: true);
                return true;
            }
            finally
            {
                File.Delete(temp);
            }
        }

        return false;
    }

    /// <summary>A blob named by a digest as the store's own records keep it (text).</summary>
    public string BlobPath(string digest) => BlobPath(Oci.Digest.Parse(digest));

    private void EnsureLayout()
    {
        // Private as podman's: unpacked layers hold setuid files and device nodes no other user may reach.
        if (!Directory.Exists(Root))
        {
            if (!Directory.Exists(GraphRoot))
            {
                PrivateDirectory.Create(GraphRoot);
            }

            PrivateDirectory.Create(Root);
        }

        Directory.CreateDirectory(Path.Combine(Root, "blobs", Oci.Digest.Sha256));
        Directory.CreateDirectory(TempDir);
        Directory.CreateDirectory(InflightDir);
    }

    /// <summary>
    /// Every image a read path finds: this store's, then those of the read-only stores (marked by
    /// <see cref="ImageRecord.ReadOnlyStore"/>) that this store does not hold itself. A read-only
    /// store whose index cannot be read is skipped, and said once through <see cref="Warn"/>.
    /// </summary>
    public List<ImageRecord> ReadImages()
    {
        var images = ReadLocalImages();
        if (ReadOnlyStores.Count == 0)
        {
            return images;
        }

        var seen = images.Select(i => i.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var shared in ReadOnlyStores)
        {
            List<ImageRecord> found;
            try
            {
                found = shared.ReadLocalImages();
            }
            catch (Exception e) when (e is WharfException or IOException or UnauthorizedAccessException)
            {
                WarnOnce(shared.GraphRoot, $"additional image store \"{shared.GraphRoot}\" cannot be read, its images are not used: {e.Message}");
                continue;
            }

            foreach (var image in found)
            {
                if (seen.Add(image.Id))
                {
                    images.Add(image with { ReadOnlyStore = shared.GraphRoot });
                }
            }
        }

        return images;
    }

    private readonly HashSet<string> _warned = new(StringComparer.Ordinal);

    private void WarnOnce(string key, string message)
    {
        lock (_warned)
        {
            if (_warned.Add(key))
            {
                Warn?.Invoke(message);
            }
        }
    }

    /// <summary>
    /// The lock file that serialises fetching <paramref name="key"/> (an image reference) into this
    /// store: <c>fetch/&lt;sha256 of the key&gt;.lock</c>. Held with <see cref="FileLock"/> while one
    /// process pulls and unpacks, so the others on the node wait and then find the image.
    /// </summary>
    public string FetchLockPath(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        EnsureLayout();
        string dir = Path.Combine(Root, "fetch");
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key))) + ".lock");
    }

    /// <summary>This store's own index as it is now; empty when nothing was ever stored.</summary>
    public List<ImageRecord> ReadLocalImages()
    {
        if (!File.Exists(IndexPath))
        {
            return [];
        }

        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(IndexPath), StoreJsonContext.Default.ListImageRecord) ?? [];
        }
        catch (JsonException e)
        {
            throw new WharfException($"reading image index {IndexPath}: {e.Message}", e);
        }
    }

    /// <summary>Read-modify-write of the index under the store lock.</summary>
    public T Update<T>(Func<List<ImageRecord>, T> change)
    {
        ArgumentNullException.ThrowIfNull(change);
        EnsureLayout();
        using var held = AcquireLock();
        RemoveLeftovers();
        var images = ReadLocalImages();
        var result = change(images);
        WriteImages(images);
        return result;
    }

    /// <summary>Runs <paramref name="action"/> under the store lock without rewriting the index.</summary>
    public T Locked<T>(Func<List<ImageRecord>, T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        EnsureLayout();
        using var held = AcquireLock();
        return action(ReadLocalImages());
    }

    /// <summary>Replaces the index; only for a caller already holding the lock (<see cref="Locked{T}"/>).</summary>
    internal void ReplaceIndexLocked(List<ImageRecord> images) => WriteImages(images);

    private void WriteImages(List<ImageRecord> images)
    {
        string temp = TempPath("images.json");
        using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
        {
            JsonSerializer.Serialize(fs, images, StoreJsonContext.Default.ListImageRecord);
            fs.Flush(flushToDisk: true);
        }

        File.Move(temp, IndexPath, overwrite: true);
    }

    private IDisposable AcquireLock() => FileLock.Acquire(LockPath, "image store");

    /// <summary>
    /// A partial write's name under tmp/: the writer's PID first, so once that process is gone
    /// (killed mid-write) anyone can tell the file is garbage (<see cref="Leftovers"/>).
    /// </summary>
    private string TempPath(string name) => Path.Combine(TempDir, $"{Environment.ProcessId}-{name}.{Guid.NewGuid():N}");

    private static void WriteDurably(string path, string text)
    {
        using var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        fs.Write(System.Text.Encoding.UTF8.GetBytes(text));
        fs.Flush(flushToDisk: true);
    }

    /// <summary>
    /// What processes that died mid-write left behind: partial files under tmp/, layer unpacks
    /// under layers/tmp/, layers a pull staged under layers/pulled/ but never adopted, and the
    /// in-flight records of dead pulls. None of it is under a final name, so it is garbage,
    /// never damage: every store update removes it (<see cref="RemoveLeftovers"/>), and
    /// <c>wharf system check</c> reports what is still there.
    /// </summary>
    public IReadOnlyList<string> Leftovers()
    {
        var found = new List<string>();
        var liveDigests = new HashSet<string>(StringComparer.Ordinal);
        foreach (string file in Entries(InflightDir))
        {
            if (!OwnerAlive(file))
            {
                found.Add(file);
                continue;
            }

            try
            {
                var record = JsonSerializer.Deserialize(File.ReadAllBytes(file), StoreJsonContext.Default.InflightRecord);
                foreach (string d in record?.Digests ?? [])
                {
                    liveDigests.Add(d);
                }
            }
            catch (Exception e) when (e is IOException or JsonException)
            {
                // Being written or removed by its live owner right now: nothing to conclude from it.
            }
        }

        found.AddRange(Entries(TempDir).Where(f => !OwnerAlive(f)));
        found.AddRange(Entries(Path.Combine(Root, "layers", "tmp")).Where(f => !OwnerAlive(f)));
        found.AddRange(Entries(Path.Combine(Root, "layers", "pulled")).Where(d => !liveDigests.Contains(Oci.Digest.Sha256 + ":" + Path.GetFileName(d))));
        return found;
    }

    /// <summary>Removes <see cref="Leftovers"/>; returns what it removed.</summary>
    public IReadOnlyList<string> RemoveLeftovers()
    {
        var removed = new List<string>();
        foreach (string path in Leftovers())
        {
            try
            {
                if (Directory.Exists(path))
                {
                    Directory.Delete(path, recursive: true);
                }
                else
                {
                    File.Delete(path);
                }

                removed.Add(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another process is removing it too, or it cannot be removed now: the next update tries again.
            }
        }

        return removed;
    }

    /// <summary>
    /// Removes the layer unpacks (<c>layers/tmp/&lt;pid&gt;-…</c>) of processes that are gone. Needs
    /// no lock (their owner can no longer touch them), so a first run, which unpacks without
    /// updating the index, sweeps what an earlier killed unpack left before it starts its own.
    /// </summary>
    public void RemoveDeadUnpacks()
    {
        foreach (string path in Entries(Path.Combine(Root, "layers", "tmp")).Where(p => !OwnerAlive(p)))
        {
            try
            {
                Directory.Delete(path, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another process is removing it too: either way it goes.
            }
        }
    }

    private static IEnumerable<string> Entries(string dir) =>
        Directory.Exists(dir) ? Directory.EnumerateFileSystemEntries(dir).ToList() : [];

    /// <summary>
    /// Whether the process named by the <c>&lt;pid&gt;-</c> prefix of <paramref name="path"/>'s name
    /// is alive. A name without one (written before names carried it) counts as alive for an hour.
    /// </summary>
    private static bool OwnerAlive(string path)
    {
        string name = Path.GetFileName(path);
        int dash = name.IndexOf('-', StringComparison.Ordinal);
        if (dash > 0 && int.TryParse(name.AsSpan(0, dash), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int pid))
        {
            return ProcessAlive(pid);
        }

        return DateTime.UtcNow - File.GetLastWriteTimeUtc(path) < TimeSpan.FromHours(1);
    }

    public bool HasBlob(Descriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        var info = new FileInfo(BlobPath(descriptor.Digest));
        return info.Exists && info.Length == descriptor.Size;
    }

    public Stream OpenBlob(string digest) => OpenBlob(Oci.Digest.Parse(digest));

    public Stream OpenBlob(Oci.Digest digest)
    {
        string path = FindBlobPath(digest);
        if (!File.Exists(path))
        {
            throw new ContentNotFoundException($"blob {digest} is not in the local store");
        }

        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
    }

    public byte[] ReadBlob(string digest) => ReadBlob(Oci.Digest.Parse(digest));

    /// <summary>
    /// A blob read whole (manifests, configs). A missing one is a damaged image: the error says so
    /// and what to do, and stays an <see cref="IOException"/> so that listing a damaged image, which
    /// tolerates those, still works (podman's "corrupt images" behaviour).
    /// </summary>
    public byte[] ReadBlob(Oci.Digest digest)
    {
        string path = FindBlobPath(digest);
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (FileNotFoundException e)
        {
            throw new FileNotFoundException(
                $"blob {digest} is missing from the image store; the image that needs it is damaged (\"wharf system check\" lists it, \"wharf rmi\" removes it, \"wharf pull\" fetches it again)", path, e);
        }
    }

    /// <summary>
    /// Takes each gzip layer as it downloads, beside the blob file (to unpack it then, as podman
    /// does at pull time); null: its inflated size is only counted.
    /// </summary>
    public ILayerSink? LayerSink { get; set; }

    /// <summary>Writes a blob to tmp/, checking digest and size, then renames it to its final name.</summary>
    public async Task WriteBlobAsync(Descriptor descriptor, Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentNullException.ThrowIfNull(content);
        EnsureLayout();
        string final = BlobPath(descriptor.Digest);
        string temp = TempPath(Path.GetFileName(final));
        try
        {
            // A gzip layer is inflated alongside the download (counting its uncompressed size, podman's
            // SIZE) rather than read and inflated again once stored.
            var inflate = IsGzip(descriptor.MediaType) ? new Pipe(new PipeOptions(pauseWriterThreshold: 8 << 20, resumeWriterThreshold: 4 << 20)) : null;
            var sink = LayerSink;
            var counting = inflate is null ? null
                : sink is null ? Task.Run(() => CountInflated(inflate.Reader), CancellationToken.None)
                : Task.Run(() => sink.ConsumeAsync(descriptor, inflate.Reader.AsStream(), CancellationToken.None), CancellationToken.None);
            long? usize = null;
            try
            {
                var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
                await using (file.ConfigureAwait(false))
                {
                    var verifying = content as VerifyingStream ?? new VerifyingStream(content, descriptor, leaveOpen: true);
                    try
                    {
                        byte[] buffer = new byte[1 << 16];
                        int n;
                        while ((n = await verifying.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                        {
                            await file.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                            if (inflate is not null)
                            {
                                await inflate.Writer.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                            }
                        }
                    }
                    finally
                    {
                        if (!ReferenceEquals(verifying, content))
                        {
                            await verifying.DisposeAsync().ConfigureAwait(false);
                        }
                    }

                    await file.FlushAsync(cancellationToken).ConfigureAwait(false);
                    file.Flush(flushToDisk: true);
                }

                if (inflate is not null)
                {
                    await inflate.Writer.CompleteAsync().ConfigureAwait(false);
                    usize = await counting!.ConfigureAwait(false) ?? descriptor.Size;
                }
            }
            finally
            {
                if (inflate is not null && usize is null)
                {
                    await inflate.Writer.CompleteAsync(new OperationCanceledException("blob write failed")).ConfigureAwait(false);
                    await counting!.ConfigureAwait(false);
                }
            }

            File.Move(temp, final, overwrite: true);
            if (usize is { } known)
            {
                string sidecar = final + ".usize";
                string sidecarTemp = TempPath(Path.GetFileName(sidecar));
                WriteDurably(sidecarTemp, known.ToString(System.Globalization.CultureInfo.InvariantCulture));
                File.Move(sidecarTemp, sidecar, overwrite: true);
            }
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>
    /// The inflated length of what arrives through <paramref name="reader"/>; null when it is not
    /// gzip after all or the write failed. Always completes the reader, so the writer never blocks.
    /// </summary>
    private static long? CountInflated(PipeReader reader)
    {
        var source = reader.AsStream();
        try
        {
            using var gzip = new GZipStream(source, CompressionMode.Decompress);
            byte[] buffer = new byte[1 << 16];
            long total = 0;
            int n;
            while ((n = gzip.Read(buffer)) > 0)
            {
                total += n;
            }

            return total;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or OperationCanceledException)
        {
            return null;
        }
        finally
        {
            source.Dispose();
        }
    }

    /// <summary>The uncompressed size of a layer blob, computed once and remembered next to it.</summary>
    public long UncompressedSize(Descriptor layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        if (!IsGzip(layer.MediaType))
        {
            return layer.Size;
        }

        string sidecar = BlobPath(layer.Digest) + ".usize";
        if (File.Exists(sidecar) && long.TryParse(File.ReadAllText(sidecar), out long known))
        {
            return known;
        }

        long total = 0;
        try
        {
            using var file = OpenBlob(layer.Digest);
            using var gzip = new GZipStream(file, CompressionMode.Decompress);
            byte[] buffer = new byte[1 << 16];
            int n;
            while ((n = gzip.Read(buffer)) > 0)
            {
                total += n;
            }
        }
        catch (InvalidDataException)
        {
            // Labelled gzip but is not: count it as stored rather than fail the pull over a size column.
            total = layer.Size;
        }

        string temp = TempPath(Path.GetFileName(sidecar));
        WriteDurably(temp, total.ToString(System.Globalization.CultureInfo.InvariantCulture));
        File.Move(temp, sidecar, overwrite: true);
        return total;
    }

    private static bool IsGzip(string mediaType) =>
        mediaType is MediaTypes.OciLayerGzip or MediaTypes.DockerLayerGzip or MediaTypes.DockerForeignLayerGzip;

    /// <summary>Marks blobs as in use by this process until the returned handle is disposed.</summary>
    public IDisposable MarkInflight(IEnumerable<string> digests)
    {
        EnsureLayout();
        string path = Path.Combine(InflightDir, $"{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        var record = new InflightRecord(Environment.ProcessId, [.. digests]);
        Locked(_ =>
        {
            File.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(record, StoreJsonContext.Default.InflightRecord));
            return 0;
        });
        return new Inflight(path);
    }

    /// <summary>
    /// Marks <paramref name="digests"/> in use like <see cref="MarkInflight"/> and reserves the
    /// bytes of the <paramref name="blobs"/> not yet stored, all under the store lock, so that
    /// concurrent pulls together stay within <paramref name="quota"/> and the filesystem's free
    /// space. Throws <see cref="StoreFullException"/> (nothing written) when they would not fit.
    /// </summary>
    public IDisposable Reserve(IEnumerable<string> digests, IEnumerable<Descriptor> blobs, long? quota)
    {
        ArgumentNullException.ThrowIfNull(blobs);
        EnsureLayout();
        string path = Path.Combine(InflightDir, $"{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        Locked(_ =>
        {
            var others = LiveReservations();
            var reserved = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var blob in blobs)
            {
                if (!HasBlob(blob) && !others.ContainsKey(blob.Digest.ToString()))
                {
                    reserved[blob.Digest.ToString()] = blob.Size;
                }
            }

            long needed = reserved.Values.Sum();
            if (needed > 0)
            {
                // Walking blobs/ and layers/ only matters against a quota; free space is one statvfs.
                long used = quota is null ? 0 : UsedBytes(others);
                long free = FreeSpace();
                if ((quota is { } q && used + needed > q) || needed > free)
                {
                    throw new StoreFullException(needed, quota is null ? UsedBytes(others) : used, quota, free);
                }
            }

            var record = new InflightRecord(Environment.ProcessId, [.. digests], reserved);
            File.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(record, StoreJsonContext.Default.InflightRecord));
            return 0;
        });
        return new Inflight(path);
    }

    /// <summary>Overrides the filesystem's free space (tests).</summary>
    public Func<long>? FreeSpaceProbe { get; init; }

    /// <summary>Bytes free for an unprivileged user on the filesystem holding graphroot (statvfs f_bavail).</summary>
    public long FreeSpace()
    {
        if (FreeSpaceProbe is { } probe)
        {
            return probe();
        }

        string dir = Root;
        while (!Directory.Exists(dir) && Path.GetDirectoryName(dir) is { } parent)
        {
            dir = parent;
        }

        return new DriveInfo(dir).AvailableFreeSpace;
    }

    /// <summary>
    /// What the store holds against its quota: every blob, the layers unpacked for containers, and
    /// the blobs running pulls have reserved but not yet stored.
    /// </summary>
    public long UsedBytes() => UsedBytes(LiveReservations());

    private long UsedBytes(Dictionary<string, long> reservations)
    {
        long pending = reservations.Where(r => !File.Exists(BlobPath(r.Key))).Sum(r => r.Value);
        return DiskUsage() + TreeSize(Path.Combine(Root, "layers")) + pending;
    }

    /// <summary>Blobs reserved by live pulls (this process's included), digest → size.</summary>
    private Dictionary<string, long> LiveReservations()
    {
        var all = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string file in Directory.Exists(InflightDir) ? Directory.GetFiles(InflightDir, "*.json") : [])
        {
            try
            {
                var record = JsonSerializer.Deserialize(File.ReadAllBytes(file), StoreJsonContext.Default.InflightRecord);
                if (record?.Reserved is null || !ProcessAlive(record.Pid))
                {
                    continue;
                }

                foreach (var (digest, size) in record.Reserved)
                {
                    all[digest] = size;
                }
            }
            catch (Exception e) when (e is IOException or JsonException)
            {
                // A marker being replaced or removed: it holds no reservation we can count.
            }
        }

        return all;
    }

    /// <summary>Bytes of the regular files under <paramref name="dir"/>, not following symlinks.</summary>
    internal static long TreeSize(string dir)
    {
        if (!Directory.Exists(dir))
        {
            return 0;
        }

        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true };
        return new DirectoryInfo(dir).EnumerateFiles("*", options).Sum(f => f.Length);
    }

    private sealed class Inflight(string path) : IDisposable
    {
        public void Dispose() => File.Delete(path);
    }

    /// <summary>
    /// Deletes blobs no image refers to and no live pull has marked. Must run under the lock
    /// (from inside <see cref="Update{T}"/>), with the index as it will be written.
    /// </summary>
    public long CollectGarbage(List<ImageRecord> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var keep = new HashSet<string>(StringComparer.Ordinal);
        foreach (var image in images)
        {
            keep.Add(Oci.Digest.Parse(image.Digest).Encoded);
            foreach (string b in image.Blobs)
            {
                keep.Add(Oci.Digest.Parse(b).Encoded);
            }
        }

        foreach (string file in Directory.Exists(InflightDir) ? Directory.GetFiles(InflightDir, "*.json") : [])
        {
            try
            {
                var record = JsonSerializer.Deserialize(File.ReadAllBytes(file), StoreJsonContext.Default.InflightRecord);
                if (record is null || !ProcessAlive(record.Pid))
                {
                    File.Delete(file);
                    continue;
                }

                foreach (string d in record.Digests)
                {
                    if (Oci.Digest.TryParse(d, out var parsed))
                    {
                        keep.Add(parsed.Encoded);
                    }
                }
            }
            catch (Exception e) when (e is IOException or JsonException)
            {
                // Unreadable marker: keep everything this round rather than guess.
                return 0;
            }
        }

        long freed = 0;
        string dir = Path.Combine(Root, "blobs", Oci.Digest.Sha256);
        if (!Directory.Exists(dir))
        {
            return 0;
        }

        foreach (string file in Directory.GetFiles(dir))
        {
            string name = Path.GetFileName(file);
            string hex = name.EndsWith(".usize", StringComparison.Ordinal) ? name[..^6] : name;
            if (!keep.Contains(hex))
            {
                freed += new FileInfo(file).Length;
                File.Delete(file);
            }
        }

        return freed;
    }

    internal static bool ProcessAlive(int pid)
    {
        if (pid <= 0)
        {
            return false;
        }

        if (pid == Environment.ProcessId)
        {
            return true;
        }

        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Bytes of every blob on disk.</summary>
    public long DiskUsage()
    {
        string dir = Path.Combine(Root, "blobs");
        return Directory.Exists(dir) ? Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length) : 0;
    }
}

/// <summary>Receives a gzip layer's bytes while they download.</summary>
public interface ILayerSink
{
    /// <summary>
    /// Reads <paramref name="compressed"/> to its end (so the download never waits on it), disposes
    /// it, and returns the layer's inflated size; null when the bytes were not gzip or the download failed.
    /// </summary>
    Task<long?> ConsumeAsync(Descriptor layer, Stream compressed, CancellationToken cancellationToken);
}
