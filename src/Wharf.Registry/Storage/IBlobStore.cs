using Wharf.Oci;

namespace Wharf.Registry.Storage;

/// <summary>Reads committed blobs. Blobs are content only: which repository may see one is metadata.</summary>
public interface IBlobReader
{
    /// <summary>The blob's size, or null when it is not stored.</summary>
    long? Stat(Digest digest);

    /// <summary>A physical path for zero-copy sends, when the driver has one.</summary>
    string? GetLocalPath(Digest digest);

    Stream OpenRead(Digest digest);
}

/// <summary>Writes blobs through upload sessions: append, then commit (verify + publish) or cancel.</summary>
public interface IBlobIngester
{
    /// <summary>Creates the session's empty data file.</summary>
    void CreateUpload(string uploadId);

    /// <summary>Bytes received so far, or null when the session's data is gone.</summary>
    long? UploadSize(string uploadId);

    /// <summary>
    /// Appends <paramref name="body"/> to the session; returns the new size. The session's
    /// hash state is kept in memory between chunks and rebuilt from the data file after a restart.
    /// </summary>
    Task<long> AppendAsync(string uploadId, Stream body, CancellationToken cancellationToken);

    /// <summary>
    /// Appends <paramref name="body"/> at <paramref name="offset"/> (the bytes the session acknowledged;
    /// anything after it, left by a broken chunk or a crash, is cut first); returns the new size.
    /// </summary>
    Task<long> AppendAsync(string uploadId, long offset, Stream body, CancellationToken cancellationToken);

    /// <summary>
    /// Verifies that the session's bytes hash to <paramref name="expected"/>, fsyncs, and renames
    /// them under the blob's final name. Throws DIGEST_INVALID on a mismatch (and drops the data).
    /// Committing a blob that is already stored is a no-op that keeps the stored one.
    /// </summary>
    Task<long> CommitAsync(string uploadId, Digest expected, CancellationToken cancellationToken);

    /// <summary>As above, over the first <paramref name="length"/> bytes of the session's data (what it acknowledged).</summary>
    Task<long> CommitAsync(string uploadId, long length, Digest expected, CancellationToken cancellationToken);

    /// <summary>Removes the session's data. Idempotent.</summary>
    void Cancel(string uploadId);
}

/// <summary>Deletes blob content; only GC calls it.</summary>
public interface IBlobDeleter
{
    void Delete(Digest digest);

    IEnumerable<Digest> Enumerate();
}

public interface IBlobStore : IBlobReader, IBlobIngester, IBlobDeleter;
