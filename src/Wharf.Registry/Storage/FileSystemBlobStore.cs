using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using Wharf.Oci;

namespace Wharf.Registry.Storage;

/// <summary>
/// Blobs on the local filesystem.
/// <code>
/// &lt;root&gt;/
///   blobs/sha256/&lt;first two hex&gt;/&lt;hex&gt;     committed content, never rewritten
///   uploads/&lt;upload id&gt;                  data of one upload session, appended by PATCH
/// </code>
/// An upload is hashed while it is written; at commit the hash is compared, the file fsynced and
/// renamed into place, so no blob ever appears under its final name before it is complete and
/// verified. Renames are atomic; two sessions committing the same digest leave one file.
/// Directories are made 0700 and files 0600 (<see cref="PrivateFiles"/>).
/// </summary>
public sealed class FileSystemBlobStore : IBlobStore
{
    private const int BufferSize = 256 * 1024;

    private readonly string _blobRoot;
    private readonly string _uploadRoot;

    // Running hash per session: the offset it covers and the hasher. Lost on restart, rebuilt
    // from the data file then. A session's chunks arrive in order (the endpoint serialises them).
    // With several instances on one directory a session may end on another instance: its entry
    // here is then dropped by the sweep below once its data file is gone.
    private readonly ConcurrentDictionary<string, UploadHash> _hashes = new(StringComparer.Ordinal);
    private int _createdSinceSweep;

    public FileSystemBlobStore(string root)
    {
        _blobRoot = Path.Combine(root, "blobs");
        _uploadRoot = Path.Combine(root, "uploads");
        PrivateFiles.CreateDirectory(_blobRoot);
        PrivateFiles.CreateDirectory(_uploadRoot);
    }

    public long? Stat(Digest digest)
    {
        var info = new FileInfo(BlobPath(digest));
        return info.Exists ? info.Length : null;
    }

    public string? GetLocalPath(Digest digest) => BlobPath(digest);

    public Stream OpenRead(Digest digest) =>
        new FileStream(BlobPath(digest), new FileStreamOptions
        {
            Mode = FileMode.Open,
            Access = FileAccess.Read,
            Share = FileShare.Read | FileShare.Delete,
            BufferSize = 0,
            Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
        });

    public void CreateUpload(string uploadId)
    {
        // 0600 from the start: the rename at commit keeps the mode, so a blob is never readable by others.
        using (new FileStream(UploadPath(uploadId), PrivateFiles.Create(FileMode.CreateNew, FileAccess.Write, bufferSize: 0)))
        {
        }

        _hashes[uploadId] = new UploadHash(Digest.Sha256);
        if (Interlocked.Increment(ref _createdSinceSweep) % 256 == 0)
        {
            SweepHashes();
        }
    }

    /// <summary>Forgets the running hashes of sessions whose data file is gone (committed or cancelled by another instance).</summary>
    private void SweepHashes()
    {
        foreach (var (id, hash) in _hashes)
        {
            if (!File.Exists(UploadPath(id)) && _hashes.TryRemove(new KeyValuePair<string, UploadHash>(id, hash)))
            {
                hash.Dispose();
            }
        }
    }

    public long? UploadSize(string uploadId)
    {
        var info = new FileInfo(UploadPath(uploadId));
        return info.Exists ? info.Length : null;
    }

    public Task<long> AppendAsync(string uploadId, Stream body, CancellationToken cancellationToken) =>
        AppendAsync(uploadId, UploadSize(uploadId) ?? throw new OciException(OciErrorCode.BlobUploadUnknown), body, cancellationToken);

    public async Task<long> AppendAsync(string uploadId, long offset, Stream body, CancellationToken cancellationToken)
    {
        string path = UploadPath(uploadId);
        if (!File.Exists(path))
        {
            throw new OciException(OciErrorCode.BlobUploadUnknown);
        }

        Truncate(path, offset);
        var hash = await GetHashAsync(uploadId, path, cancellationToken).ConfigureAwait(false);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            await using var file = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Write,
                Share = FileShare.Read,
                BufferSize = 0,
                Options = FileOptions.Asynchronous,
            });
            file.Seek(hash.Offset, SeekOrigin.Begin);
            file.SetLength(hash.Offset);
            long written = hash.Offset;
            try
            {
                int n;
                while ((n = await body.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken).ConfigureAwait(false)) > 0)
                {
                    await file.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    hash.Hasher.AppendData(buffer, 0, n);
                    written += n;
                }
            }
            catch
            {
                // A broken chunk leaves a partial append behind; the running hash no longer
                // matches the file, so forget it and rebuild from the file on the next call.
                _hashes.TryRemove(uploadId, out _);
                hash.Dispose();
                throw;
            }

            hash.Offset = written;
            return written;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public Task<long> CommitAsync(string uploadId, Digest expected, CancellationToken cancellationToken) =>
        CommitAsync(uploadId, UploadSize(uploadId) ?? throw new OciException(OciErrorCode.BlobUploadUnknown), expected, cancellationToken);

    public async Task<long> CommitAsync(string uploadId, long length, Digest expected, CancellationToken cancellationToken)
    {
        string path = UploadPath(uploadId);
        if (!File.Exists(path))
        {
            throw new OciException(OciErrorCode.BlobUploadUnknown);
        }

        Truncate(path, length);

        Digest actual;
        long size;
        if (expected.Algorithm == Digest.Sha256)
        {
            var hash = await GetHashAsync(uploadId, path, cancellationToken).ConfigureAwait(false);
            actual = Digest.FromHasher(Digest.Sha256, hash.Hasher);
            size = hash.Offset;
            _hashes.TryRemove(uploadId, out _);
            hash.Dispose();
        }
        else
        {
            using var hasher = Digest.CreateHasher(expected.Algorithm);
            size = await HashFileAsync(path, hasher, cancellationToken).ConfigureAwait(false);
            actual = Digest.FromHasher(expected.Algorithm, hasher);
        }

        if (actual != expected)
        {
            Cancel(uploadId);
            throw new OciException(OciErrorCode.DigestInvalid, $"uploaded content has digest {actual}, not {expected}");
        }

        string final = BlobPath(expected);
        if (File.Exists(final))
        {
            Cancel(uploadId);
            return size;
        }

        FsyncFile(path);
        string dir = Path.GetDirectoryName(final)!;
        PrivateFiles.CreateDirectory(dir);
        try
        {
            File.Move(path, final, overwrite: false);
        }
        catch (IOException) when (File.Exists(final))
        {
            // Another session committed the same content first; it is identical.
            Cancel(uploadId);
            return size;
        }

        FsyncDirectory(dir);
        return size;
    }

    public void Cancel(string uploadId)
    {
        if (_hashes.TryRemove(uploadId, out var hash))
        {
            hash.Dispose();
        }

        try
        {
            File.Delete(UploadPath(uploadId));
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    public void Delete(Digest digest)
    {
        try
        {
            File.Delete(BlobPath(digest));
        }
        catch (DirectoryNotFoundException)
        {
            // already gone: deleting is idempotent
        }
    }

    public IEnumerable<Digest> Enumerate()
    {
        foreach (var algDir in Directory.EnumerateDirectories(_blobRoot))
        {
            string alg = Path.GetFileName(algDir);
            foreach (var file in Directory.EnumerateFiles(algDir, "*", SearchOption.AllDirectories))
            {
                if (Digest.TryParse(alg + ":" + Path.GetFileName(file), out var d))
                {
                    yield return d;
                }
            }
        }
    }

    private async Task<UploadHash> GetHashAsync(string uploadId, string path, CancellationToken cancellationToken)
    {
        long length = new FileInfo(path).Length;
        if (_hashes.TryGetValue(uploadId, out var hash) && hash.Offset == length)
        {
            return hash;
        }

        // After a restart (or a broken chunk) the running hash is gone: rebuild it from the data.
        var rebuilt = new UploadHash(Digest.Sha256);
        rebuilt.Offset = await HashFileAsync(path, rebuilt.Hasher, cancellationToken).ConfigureAwait(false);
        if (_hashes.TryRemove(uploadId, out var old))
        {
            old.Dispose();
        }

        _hashes[uploadId] = rebuilt;
        return rebuilt;
    }

    private static async Task<long> HashFileAsync(string path, IncrementalHash hasher, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 0, FileOptions.Asynchronous | FileOptions.SequentialScan);
            long total = 0;
            int n;
            while ((n = await file.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken).ConfigureAwait(false)) > 0)
            {
                hasher.AppendData(buffer, 0, n);
                total += n;
            }

            return total;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Cuts bytes past what the session acknowledged (a chunk that broke off, or one written before a crash).</summary>
    private static void Truncate(string path, long length)
    {
        var info = new FileInfo(path);
        if (info.Length < length)
        {
            throw new OciException(OciErrorCode.BlobUploadInvalid, $"the upload's data has {info.Length} bytes, fewer than the {length} acknowledged");
        }

        if (info.Length > length)
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write);
            RandomAccess.SetLength(handle, length);
        }
    }

    private string BlobPath(Digest digest) => Path.Combine(_blobRoot, digest.Algorithm, digest.Encoded[..2], digest.Encoded);

    private string UploadPath(string uploadId) => Path.Combine(_uploadRoot, uploadId);

    private static void FsyncFile(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.FlushToDisk(handle);
    }

    private static void FsyncDirectory(string dir)
    {
        // A rename is durable only once its directory is synced. .NET cannot open a directory
        // for writing, so use the POSIX call directly.
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        int fd = Native.open(dir, Native.O_RDONLY | Native.O_DIRECTORY);
        if (fd >= 0)
        {
            _ = Native.fsync(fd);
            _ = Native.close(fd);
        }
    }

    private sealed class UploadHash(string algorithm) : IDisposable
    {
        public IncrementalHash Hasher { get; } = Digest.CreateHasher(algorithm);

        public long Offset { get; set; }

        public void Dispose() => Hasher.Dispose();
    }
}

internal static partial class Native
{
    public const int O_RDONLY = 0;
    public const int O_DIRECTORY = 0x10000;

    [System.Runtime.InteropServices.LibraryImport("libc", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int open(string path, int flags);

    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    internal static partial int fsync(int fd);

    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    internal static partial int close(int fd);
}
