using Wharf.Oci;
using Wharf.Registry.Gc;
using Wharf.Registry.Metadata;

namespace Wharf.Registry.Storage;

/// <summary>
/// The one owner of upload sessions (distribution's "blob writer"): a session is its row in the
/// database (repository, bytes acknowledged, last activity) and its data file in the blob store,
/// and only this type and <see cref="BlobUpload"/> change either. Nothing a session needs lives
/// only in memory: after a restart <see cref="FindAsync"/> gives back the same session from its row,
/// the running hash is rebuilt from the data file, and bytes past what the row acknowledges (a chunk
/// that broke off) are cut before the next one is written.
/// <para>
/// In memory there is only a gate per session <em>while a request is working on it</em>: chunks of
/// one session in this process are applied one at a time, and a cancel stops a chunk that is still
/// streaming. The gate goes with the last request, so abandoned sessions hold nothing; they expire
/// by their row's last activity (<see cref="ExpireIdleAsync"/>, run by the janitor).
/// </para>
/// </summary>
public sealed class UploadSessions(IMetadataStore metadata, IBlobStore blobs, BlobLocks blobLocks, TimeProvider time, RegistryOptions? options = null)
{
    /// <summary>How long a commit's pin keeps GC away from its blob if the instance dies before it unpins.</summary>
    internal static readonly TimeSpan PinLifetime = TimeSpan.FromHours(1);

    /// <summary>A deletion mark older than this was left by a GC that died; commits stop waiting for it.</summary>
    internal static readonly TimeSpan DeletionMarkLifetime = TimeSpan.FromMinutes(10);

    private readonly Dictionary<string, Gate> _gates = new(StringComparer.Ordinal);

    /// <summary>Opens a session: its row first, then its file, so no file is ever left without the row that lets the janitor find it.</summary>
    public async Task<BlobUpload> StartAsync(RepositoryName repository, CancellationToken cancellationToken)
    {
        string id = Guid.NewGuid().ToString("N");
        var now = time.GetUtcNow();
        await metadata.CreateUploadAsync(new UploadSession(id, repository, now, 0, now), cancellationToken).ConfigureAwait(false);
        try
        {
            blobs.CreateUpload(id);
        }
        catch
        {
            await metadata.DeleteUploadAsync(id, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        return new BlobUpload(this, id, repository, 0);
    }

    /// <summary>The session of <paramref name="repository"/> with this id, as its row and data say; null when there is none.</summary>
    public async Task<BlobUpload?> FindAsync(RepositoryName repository, string id, CancellationToken cancellationToken)
    {
        var row = await metadata.GetUploadAsync(id, cancellationToken).ConfigureAwait(false);
        if (row is null || row.Repository != repository || blobs.UploadSize(id) is not { } onDisk)
        {
            return null;
        }

        // A row of an earlier wharfd has no size: its file is what was acknowledged. A file shorter
        // than the row (acknowledged bytes lost in a power cut) is what the client resumes from.
        return new BlobUpload(this, id, repository, Math.Min(row.Size ?? onDisk, onDisk));
    }

    /// <summary>Removes the sessions idle since <paramref name="cutoff"/>, rows and files; returns them.</summary>
    public async Task<IReadOnlyList<UploadSession>> ExpireIdleAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var idle = await metadata.ListIdleUploadsAsync(cutoff, cancellationToken).ConfigureAwait(false);
        foreach (var session in idle)
        {
            await new BlobUpload(this, session.Id, session.Repository, 0).CancelAsync().ConfigureAwait(false);
        }

        return idle;
    }

    internal IMetadataStore Metadata => metadata;

    internal IBlobStore Blobs => blobs;

    internal BlobLocks BlobLocks => blobLocks;

    internal TimeProvider Time => time;

    /// <summary>
    /// Several instances share the data: the in-process <see cref="BlobLocks"/> cannot keep another
    /// instance's GC away, so a commit pins its digest in the database first (docs/registry.md, "Several instances").
    /// </summary>
    internal bool PinsBlobs => options?.SharedDataDirectory == true;

    /// <summary>Enters the session's gate (one request at a time in this process); the lease's token fires when the session is cancelled.</summary>
    internal async Task<GateLease> EnterAsync(string id, CancellationToken cancellationToken, bool cancelling = false)
    {
        Gate gate;
        lock (_gates)
        {
            if (!_gates.TryGetValue(id, out gate!))
            {
                gate = new Gate();
                _gates[id] = gate;
            }

            gate.Users++;
        }

        // The cancel itself waits for the streaming chunk to let go, whatever the session's state.
        var linked = cancelling
            ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken)
            : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, gate.Cancelled.Token);
        try
        {
            await gate.Lock.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch
        {
            linked.Dispose();
            Leave(id, gate);
            throw;
        }

        return new GateLease(this, id, gate, linked);
    }

    /// <summary>Tells a request streaming into the session (in this process) to stop.</summary>
    internal async Task SignalCancelAsync(string id)
    {
        Gate? gate;
        lock (_gates)
        {
            _gates.TryGetValue(id, out gate);
        }

        if (gate is not null)
        {
            await gate.Cancelled.CancelAsync().ConfigureAwait(false);
        }
    }

    private void Leave(string id, Gate gate)
    {
        lock (_gates)
        {
            if (--gate.Users == 0)
            {
                _gates.Remove(id);
                gate.Cancelled.Dispose();
                gate.Lock.Dispose();
            }
        }
    }

    internal sealed class Gate
    {
        public SemaphoreSlim Lock { get; } = new(1, 1);

        public CancellationTokenSource Cancelled { get; } = new();

        public int Users { get; set; }
    }

    internal sealed class GateLease(UploadSessions owner, string id, Gate gate, CancellationTokenSource linked) : IDisposable
    {
        /// <summary>The request's token, cancelled too when the session is.</summary>
        public CancellationToken Token => linked.Token;

        public bool SessionCancelled => gate.Cancelled.IsCancellationRequested;

        private int _disposed;

        public void Dispose()
        {
            // Idempotent: a failed request leaves the gate early (its cancel waits for the gate), and its using ends it again.
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            gate.Lock.Release();
            linked.Dispose();
            owner.Leave(id, gate);
        }
    }
}

/// <summary>
/// One upload session: append chunks, then commit (verify, publish, link to the repository) or
/// cancel. Every method works from the session's row, so any request, in this process or after a
/// restart, can continue it. A session whose row is gone answers BLOB_UPLOAD_UNKNOWN.
/// </summary>
public sealed class BlobUpload
{
    private readonly UploadSessions _owner;

    internal BlobUpload(UploadSessions owner, string id, RepositoryName repository, long offset)
    {
        _owner = owner;
        Id = id;
        Repository = repository;
        Offset = offset;
    }

    public string Id { get; }

    public RepositoryName Repository { get; }

    /// <summary>Bytes received and acknowledged so far.</summary>
    public long Offset { get; private set; }

    /// <summary>
    /// Appends a chunk at <see cref="Offset"/> and records the new size (unless the caller commits at
    /// once: <paramref name="acknowledge"/> false saves that write). The caller has entered the
    /// session's gate; <paramref name="cancellationToken"/> is the gate's token.
    /// </summary>
    public async Task<long> AppendAsync(Stream body, CancellationToken cancellationToken, bool acknowledge = true)
    {
        long size = await _owner.Blobs.AppendAsync(Id, Offset, body, cancellationToken).ConfigureAwait(false);
        if (acknowledge && !await _owner.Metadata.RecordUploadProgressAsync(Id, size, _owner.Time.GetUtcNow(), CancellationToken.None).ConfigureAwait(false))
        {
            throw new OciException(OciErrorCode.BlobUploadUnknown, $"upload {Id} in {Repository} was cancelled");
        }

        Offset = size;
        return size;
    }

    /// <summary>
    /// Verifies the bytes against <paramref name="digest"/>, publishes them under the blob's name and
    /// links the blob to the repository (DENIED when that takes the project past <paramref name="quotaLimit"/>),
    /// then ends the session. On DIGEST_INVALID the data is gone; the caller cancels the session.
    /// </summary>
    public async Task<long> CommitAsync(Digest digest, long? quotaLimit, CancellationToken cancellationToken)
    {
        long size;
        bool pinned = _owner.PinsBlobs && await PinAsync(digest, cancellationToken).ConfigureAwait(false);
        try
        {
            size = await CommitLockedAsync(digest, quotaLimit, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (pinned)
            {
                await _owner.Metadata.UnpinBlobAsync(digest, Id, CancellationToken.None).ConfigureAwait(false);
            }
        }

        await _owner.Metadata.DeleteUploadAsync(Id, cancellationToken).ConfigureAwait(false);
        return size;
    }

    /// <summary>Pins the digest against GC on every instance; while some GC is deleting its file, waits for that to finish.</summary>
    private async Task<bool> PinAsync(Digest digest, CancellationToken cancellationToken)
    {
        while (!await _owner.Metadata.PinBlobAsync(digest, Id, _owner.Time.GetUtcNow() + UploadSessions.PinLifetime, UploadSessions.DeletionMarkLifetime, cancellationToken)
                   .ConfigureAwait(false))
        {
            // Real time on purpose: the other instance's delete of one file is what this waits for.
            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    private async Task<long> CommitLockedAsync(Digest digest, long? quotaLimit, CancellationToken cancellationToken)
    {
        long size;
        using (await _owner.BlobLocks.AcquireAsync(digest, cancellationToken).ConfigureAwait(false))
        {
            // With GC's lock on this digest: the file found or renamed in place gets its record
            // before GC can look at it again.
            size = await _owner.Blobs.CommitAsync(Id, Offset, digest, cancellationToken).ConfigureAwait(false);
            try
            {
                await _owner.Metadata.LinkBlobAsync(Repository, digest, size, quotaLimit, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                // Refused (quota) or failed (disk full): a file that no row records goes with it.
                if (!await _owner.Metadata.BlobRecordExistsAsync(digest, CancellationToken.None).ConfigureAwait(false))
                {
                    _owner.Blobs.Delete(digest);
                }

                throw;
            }
        }

        return size;
    }

    /// <summary>
    /// Ends the session and drops its data; idempotent. The row goes first (new requests then get
    /// BLOB_UPLOAD_UNKNOWN), a chunk still streaming in this process is stopped, and the file goes
    /// once nothing writes to it.
    /// </summary>
    public async Task CancelAsync()
    {
        try
        {
            await _owner.Metadata.DeleteUploadAsync(Id, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (StorageFull.IsOutOfSpace(e))
        {
            // A row without data answers BLOB_UPLOAD_UNKNOWN; the janitor removes it once the disk has room again.
        }

        await _owner.SignalCancelAsync(Id).ConfigureAwait(false);
        using (await _owner.EnterAsync(Id, CancellationToken.None, cancelling: true).ConfigureAwait(false))
        {
            _owner.Blobs.Cancel(Id);
        }
    }
}
