namespace Wharf.Content;

/// <summary>Reports how many bytes each read returned; everything else goes to the inner stream.</summary>
public sealed class CountingStream(Stream inner, Action<long> counted) : ReadOnlyForwardingStream(inner)
{
    public override long Length => Inner.Length;

    public override long Position { get => Inner.Position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = Inner.Read(buffer);
        if (n > 0)
        {
            counted(n);
        }

        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (n > 0)
        {
            counted(n);
        }

        return n;
    }
}
