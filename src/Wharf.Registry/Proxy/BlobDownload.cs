using Wharf.Content;
using Wharf.Oci;
using Wharf.Registry.Storage;

namespace Wharf.Registry.Proxy;

/// <summary>
/// One upstream download of a blob that any number of pulls read while it arrives. The bytes go to
/// the blob store's upload session (hashed, verified and published on commit) and, as they pass, to
/// a spool file that readers tail: a client is answered from the first chunk on, not after the
/// whole layer is stored. A reader is held back by one byte until the download is verified, so a
/// client never receives a complete body whose digest turned out wrong; a failed download ends
/// every reader with an error (the client sees a cut response, not a short success).
/// </summary>
internal sealed class BlobDownload
{
    private readonly object _gate = new();
    private readonly string _spoolPath;
    private TaskCompletionSource _progress = NewSignal();
    private readonly TaskCompletionSource<long?> _length = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<long> _stored = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _written;
    private bool _spoolDeleted;

    public BlobDownload(Digest digest, string spoolPath)
    {
        Digest = digest;
        _spoolPath = spoolPath;
    }

    public Digest Digest { get; }

    /// <summary>The blob's size once committed to the store (faults when the download failed).</summary>
    public Task<long> Stored => _stored.Task;

    /// <summary>The size the upstream announced (Content-Length), or null when it did not say; faults when the download failed first.</summary>
    public Task<long?> AnnouncedLength => _length.Task;

    /// <summary>Opens the spool for the writer: created empty, private to the server's user, readable by readers while written.</summary>
    public FileStream CreateSpool()
    {
        var options = PrivateFiles.Create(FileMode.CreateNew, FileAccess.Write, FileShare.Read | FileShare.Delete, FileOptions.Asynchronous, bufferSize: 0);
        return new FileStream(_spoolPath, options);
    }

    public void Announce(long? length) => _length.TrySetResult(length);

    /// <summary>Called by the writer after <paramref name="count"/> more bytes are in the spool.</summary>
    public void Advance(int count)
    {
        TaskCompletionSource signal;
        lock (_gate)
        {
            _written += count;
            signal = _progress;
            _progress = NewSignal();
        }

        signal.TrySetResult();
    }

    public void Complete(long size)
    {
        _length.TrySetResult(size);
        _stored.TrySetResult(size);
        Wake();
        DeleteSpool();
    }

    public void Fail(Exception error)
    {
        _length.TrySetException(error);
        _stored.TrySetException(error);
        Wake();
        DeleteSpool();
    }

    /// <summary>
    /// A stream over the blob as it arrives, or null when the download is over (its spool is gone:
    /// read the store instead). Opened under the lock the spool is deleted under, so an open
    /// reader keeps its file on Linux even after the download removes the name.
    /// </summary>
    public Stream? TryOpenReader()
    {
        lock (_gate)
        {
            if (_spoolDeleted)
            {
                return null;
            }

            var file = new FileStream(_spoolPath, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.ReadWrite | FileShare.Delete,
                Options = FileOptions.Asynchronous,
                BufferSize = 0,
            });
            return new Reader(this, file);
        }
    }

    private void Wake()
    {
        TaskCompletionSource signal;
        lock (_gate)
        {
            signal = _progress;
            _progress = NewSignal();
        }

        signal.TrySetResult();
    }

    private void DeleteSpool()
    {
        lock (_gate)
        {
            _spoolDeleted = true;
            try
            {
                File.Delete(_spoolPath);
            }
            catch (IOException)
            {
                // Left for the sweep at the next start.
            }
        }
    }

    /// <summary>How far a reader may read now, and what to wait for when it has read that far.</summary>
    private (long Readable, Task? Wait) Available()
    {
        lock (_gate)
        {
            if (_stored.Task.IsCompletedSuccessfully)
            {
                return (_stored.Task.Result, null);
            }

            if (_stored.Task.IsFaulted)
            {
                throw new IOException($"the upstream download of {Digest} failed: {_stored.Task.Exception!.InnerException!.Message}", _stored.Task.Exception.InnerException);
            }

            // The last byte waits for the digest check.
            return (Math.Max(0, _written - 1), _progress.Task);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed class Reader(BlobDownload download, FileStream file) : ReadOnlyForwardingStream(file)
    {
        private long _position;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (true)
            {
                var (readable, wait) = download.Available();
                if (_position < readable)
                {
                    int n = await Inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, readable - _position)], cancellationToken).ConfigureAwait(false);
                    if (n == 0)
                    {
                        throw new IOException($"the spool of {download.Digest} ended before {readable} bytes");
                    }

                    _position += n;
                    return n;
                }

                if (wait is null)
                {
                    return 0;
                }

                await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }
}

/// <summary>
/// The upstream body as the blob store's upload reads it, copied into the spool on the way. The
/// download owns both streams: this one closes neither.
/// </summary>
internal sealed class SpoolingStream(Stream upstream, FileStream spool, BlobDownload download, TimeSpan idleTimeout)
    : ReadOnlyForwardingStream(upstream, leaveOpen: true)
{
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n;
        using (var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            idle.CancelAfter(idleTimeout);
            try
            {
                n = await Inner.ReadAsync(buffer, idle.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new IOException($"the upstream sent nothing of {download.Digest} for {idleTimeout.TotalSeconds:0.#} s");
            }
        }

        if (n > 0)
        {
            await spool.WriteAsync(buffer[..n], cancellationToken).ConfigureAwait(false);
            download.Advance(n);
        }

        return n;
    }
}
