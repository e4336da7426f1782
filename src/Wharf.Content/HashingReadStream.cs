using System.Security.Cryptography;

namespace Wharf.Content;

/// <summary>
/// Hashes and counts every byte read through it. The inner stream stays open: the caller that
/// opened it closes it.
/// </summary>
public sealed class HashingReadStream(Stream inner, IncrementalHash hash) : ReadOnlyForwardingStream(inner, leaveOpen: true)
{
    public long BytesRead { get; private set; }

    // Synchronous readers (a GZipStream over this one) keep a synchronous path.
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = Inner.Read(buffer);
        Append(buffer[..n]);
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Append(buffer.Span[..n]);
        return n;
    }

    private void Append(ReadOnlySpan<byte> data)
    {
        hash.AppendData(data);
        BytesRead += data.Length;
    }
}
