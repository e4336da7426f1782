using System.Security.Cryptography;

namespace Wharf.IntegrationTests.Images;

/// <summary>Passes writes through to an inner stream and hashes them on the way.</summary>
internal sealed class HashingWriteStream(Stream inner, IncrementalHash hash) : Stream
{
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        hash.AppendData(buffer);
        inner.Write(buffer);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        hash.AppendData(buffer.Span);
        await inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>
/// <paramref name="length"/> random bytes, read once. Random content does not compress, so a gzip'd
/// layer is as large as the test asked. It reports a length so a tar writer can size the entry up front.
/// </summary>
internal sealed class RandomStream(long length) : Stream
{
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = (int)Math.Min(buffer.Length, length - _position);
        Random.Shared.NextBytes(buffer[..n]);
        _position += n;
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override long Seek(long offset, SeekOrigin origin) =>
        origin == SeekOrigin.Current && offset == 0 ? _position : throw new NotSupportedException();

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>Reads an OCI image layout written by skopeo, to compare it with what was pushed.</summary>
public static class OciLayoutReader
{
    /// <summary>The descriptor digest index.json names with <paramref name="tag"/>.</summary>
    public static string DigestOfTag(string layoutDirectory, string tag)
    {
        using var index = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(layoutDirectory, "index.json")));
        foreach (var manifest in index.RootElement.GetProperty("manifests").EnumerateArray())
        {
            if (manifest.TryGetProperty("annotations", out var annotations)
                && annotations.TryGetProperty("org.opencontainers.image.ref.name", out var name)
                && name.GetString() == tag)
            {
                return manifest.GetProperty("digest").GetString()!;
            }
        }
        throw new InvalidOperationException($"index.json of {layoutDirectory} has no ref.name {tag}");
    }

    public static byte[] ReadBlob(string layoutDirectory, string digest) =>
        File.ReadAllBytes(BlobPath(layoutDirectory, digest));

    public static string BlobPath(string layoutDirectory, string digest) =>
        Path.Combine(layoutDirectory, "blobs", "sha256", digest["sha256:".Length..]);

    /// <summary>The sha256 of a blob file's content, so "the digest matches" means the bytes match, not just the name.</summary>
    public static string HashBlob(string layoutDirectory, string digest)
    {
        using var file = File.OpenRead(BlobPath(layoutDirectory, digest));
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(file));
    }
}
