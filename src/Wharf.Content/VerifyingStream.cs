using System.Security.Cryptography;
using Wharf.Oci;

namespace Wharf.Content;

/// <summary>
/// A read-only stream that hashes and counts what passes through it and fails the read that
/// reaches the end (or overruns the size) when the content is not what the descriptor says.
/// Nothing received is trusted before it has been through one of these.
/// </summary>
public sealed class VerifyingStream : Stream
{
    private readonly Stream _inner;
    private readonly Digest _digest;
    private readonly long _size;
    private readonly IncrementalHash _hasher;
    private readonly bool _leaveOpen;
    private long _read;
    private bool _verified;

    public VerifyingStream(Stream inner, Descriptor descriptor, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(descriptor);
        _inner = inner;
        _digest = descriptor.Digest;
        _size = descriptor.Size;
        _hasher = _digest.CreateHasher();
        _leaveOpen = leaveOpen;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => _size;

    public override long Position
    {
        get => _read;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = _inner.Read(buffer);
        Account(buffer[..n]);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Account(buffer.Span[..n]);
        return n;
    }

    private void Account(ReadOnlySpan<byte> data)
    {
        if (data.Length > 0)
        {
            _read += data.Length;
            if (_read > _size)
            {
                throw new ContentException($"{_digest}: received more than the expected {_size} bytes");
            }

            _hasher.AppendData(data);
            return;
        }

        if (_verified)
        {
            return;
        }

        if (_read != _size)
        {
            throw new ContentException($"{_digest}: received {_read} bytes, expected {_size}");
        }

        var actual = Digest.FromHasher(_digest.Algorithm, _hasher);
        if (actual != _digest)
        {
            throw new ContentException($"digest mismatch: expected {_digest}, received {actual}");
        }

        _verified = true;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hasher.Dispose();
            if (!_leaveOpen)
            {
                _inner.Dispose();
            }
        }

        base.Dispose(disposing);
    }
}
