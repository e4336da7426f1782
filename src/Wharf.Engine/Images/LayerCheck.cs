using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;
using Wharf.Content;
using Wharf.Oci;

namespace Wharf.Engine.Images;

/// <summary>What a layer blob turned out to hold when read back end to end.</summary>
/// <param name="Digest">sha256 of the blob's bytes as stored.</param>
/// <param name="Size">The blob's length, counted while reading it.</param>
/// <param name="DiffId">sha256 of the uncompressed tar.</param>
/// <param name="TarSize">The uncompressed tar's length.</param>
/// <param name="StreamEnd">Where the gzip stream ends: less than <paramref name="Size"/> when zero padding follows it.</param>
public sealed record LayerCheckResult(Digest Digest, long Size, Digest DiffId, long TarSize, long StreamEnd);

/// <summary>
/// Reads a layer blob back before it is recorded, so a layer wharf cannot read itself never
/// reaches the store or a registry: the gzip stream must end (a member trailer whose ISIZE
/// matches what inflated), the tar must end with its end-of-archive marker (two zero blocks,
/// POSIX ustar; Go's archive/tar and so podman read a layer without it as truncated), and the
/// digests are recomputed over the bytes actually there.
/// </summary>
public static class LayerCheck
{
    private const int Block = 512;

    /// <summary>
    /// Checks <paramref name="blobFile"/>; <paramref name="expectedDiffId"/>, when given, must be
    /// what the uncompressed tar hashes to. Throws <see cref="WharfException"/> naming what is wrong
    /// and the layer by <paramref name="name"/> (the user's name for it, say an archive's entry), else its file.
    /// </summary>
    public static async Task<LayerCheckResult> VerifyAsync(string blobFile, Digest? expectedDiffId, string? name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blobFile);
        string label = name ?? blobFile;
        var file = new FileStream(blobFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        await using (file.ConfigureAwait(false))
        {
            bool gzip = IsGzip(file);
            using var blobHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using var tarHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var hashing = new HashingReadStream(file, blobHash);
            Stream tar = gzip ? new GZipStream(hashing, CompressionMode.Decompress, leaveOpen: true) : hashing;
            long tarSize = 0;
            uint crc = 0;
            byte[] tail = new byte[2 * Block];
            int tailLength = 0;
            byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
            try
            {
                int n;
                while ((n = await tar.ReadAsync(buffer.AsMemory(0, 1 << 16), cancellationToken).ConfigureAwait(false)) > 0)
                {
                    tarHash.AppendData(buffer, 0, n);
                    crc = gzip ? Crc32.Append(crc, buffer.AsSpan(0, n)) : crc;
                    tarSize += n;
                    Keep(tail, ref tailLength, buffer.AsSpan(0, n));
                }

                // Whatever follows the gzip member (nothing, normally) still belongs to the blob's digest.
                while ((n = await hashing.ReadAsync(buffer.AsMemory(0, 1 << 16), cancellationToken).ConfigureAwait(false)) > 0)
                {
                }
            }
            catch (InvalidDataException e)
            {
                throw new WharfException($"layer {label}: not a readable gzip stream: {e.Message}", e);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
                if (gzip)
                {
                    await tar.DisposeAsync().ConfigureAwait(false);
                }
            }

            long streamEnd = gzip ? CheckGzipEnd(file, crc, tarSize, label) : hashing.BytesRead;

            if (tarSize % Block != 0 || tailLength < 2 * Block || tail.AsSpan(0, tailLength).ContainsAnyExcept((byte)0))
            {
                throw new WharfException($"layer {label}: the tar archive is truncated ({tarSize} bytes, no end-of-archive blocks)");
            }

            var diffId = Digest.FromHasher(Digest.Sha256, tarHash);
            if (expectedDiffId is { } expected && diffId != expected)
            {
                throw new WharfException($"layer {label}: its content has diff ID {diffId}, expected {expected}");
            }

            return new LayerCheckResult(Digest.FromHasher(Digest.Sha256, blobHash), hashing.BytesRead, diffId, tarSize, streamEnd);
        }
    }

    /// <summary>
    /// Checks every layer of the image whose manifest <paramref name="manifest"/> names, once its
    /// blobs are in <paramref name="store"/> and before it is recorded: what <c>load</c> of an OCI
    /// layout does, since a copy checks only each blob's digest, and a blob can match its digest
    /// and still be a layer nobody can read (an unterminated gzip stream, a wrong diff ID).
    /// Layers of a compression this check does not read (zstd) are left to the unpack.
    /// </summary>
    public static async Task VerifyImageAsync(Storage.ImageStore store, Descriptor manifest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(manifest);
        var parsed = ManifestParser.Parse(store.ReadBlob(manifest.Digest), manifest.MediaType);
        if (parsed.IsIndex || parsed.Config is null)
        {
            return; // not an image: recording it is refused with its own message
        }

        IReadOnlyList<string> diffIds;
        try
        {
            diffIds = ImageRootFs.DiffIds(System.Text.Json.Nodes.JsonNode.Parse(store.ReadBlob(parsed.Config.Digest)), parsed.Layers.Count, parsed.Config.Digest.Encoded[..12]);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new WharfException($"image {parsed.Config.Digest.Encoded[..12]}: config is not valid JSON: {e.Message}", e);
        }

        for (int i = 0; i < parsed.Layers.Count; i++)
        {
            var layer = parsed.Layers[i];
            if (layer.MediaType is MediaTypes.OciLayerTar or MediaTypes.OciLayerGzip or MediaTypes.DockerLayerGzip)
            {
                await VerifyAsync(store.FindBlobPath(layer.Digest), Digest.Parse(diffIds[i]), layer.Digest.ToString(), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// RFC 1952 section 2.3.1: a member ends with CRC32 and ISIZE (the input length mod 2^32).
    /// .NET's inflater returns end of stream on a cut-off member instead of failing, so a stream
    /// without its end is caught here: the trailer of what inflated must be in the file, followed
    /// by nothing or by zero bytes only. Zero padding after the last member is what docker-archive
    /// writers and some registries leave, and what gzip(1) and libarchive skip ("trailing zeros
    /// ignored"); anything else after it is garbage and refused, as Go's multistream reader
    /// refuses bytes that are not another member. Returns where the member ends.
    /// </summary>
    private static long CheckGzipEnd(FileStream file, uint crc, long inflated, string label)
    {
        if (file.Length < 18)
        {
            throw new WharfException($"layer {label}: the gzip stream is truncated ({file.Length} bytes)");
        }

        Span<byte> expected = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(expected, crc);
        BinaryPrimitives.WriteUInt32LittleEndian(expected[4..], (uint)inflated);

        // The trailer ends at most 8 bytes past the last non-zero byte: its own last bytes can be
        // zeros (a tar's length is a multiple of 512, so ISIZE's low byte always is).
        long end = LastNonZero(file) + 1;
        Span<byte> candidate = stackalloc byte[8];
        for (long e = Math.Max(end, 18); e <= Math.Min(file.Length, end + 8); e++)
        {
            file.Position = e - 8;
            file.ReadExactly(candidate);
            if (candidate.SequenceEqual(expected))
            {
                return e;
            }
        }

        throw end == file.Length
            ? new WharfException($"layer {label}: the gzip stream is truncated (its trailer does not match the {inflated} bytes it inflates to)")
            : new WharfException($"layer {label}: the gzip stream is truncated or followed by bytes that are not zero padding");
    }

    /// <summary>The offset of the file's last non-zero byte, or -1.</summary>
    private static long LastNonZero(FileStream file)
    {
        byte[] chunk = new byte[4096];
        long position = file.Length;
        while (position > 0)
        {
            int n = (int)Math.Min(chunk.Length, position);
            position -= n;
            file.Position = position;
            file.ReadExactly(chunk, 0, n);
            int last = chunk.AsSpan(0, n).LastIndexOfAnyExcept((byte)0);
            if (last >= 0)
            {
                return position + last;
            }
        }

        return -1;
    }

    private static bool IsGzip(FileStream file)
    {
        Span<byte> magic = stackalloc byte[2];
        int n = file.Read(magic);
        file.Position = 0;
        return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    /// <summary>Keeps the last <c>tail.Length</c> bytes seen.</summary>
    private static void Keep(byte[] tail, ref int length, ReadOnlySpan<byte> data)
    {
        if (data.Length >= tail.Length)
        {
            data[^tail.Length..].CopyTo(tail);
            length = tail.Length;
            return;
        }

        int keep = Math.Min(length, tail.Length - data.Length);
        tail.AsSpan(length - keep, keep).CopyTo(tail);
        data.CopyTo(tail.AsSpan(keep));
        length = keep + data.Length;
    }

    /// <summary>CRC-32 as gzip computes it (RFC 1952 section 8, the reflected polynomial 0xEDB88320).</summary>
    private static class Crc32
    {
        private static readonly uint[] Table = Build();

        public static uint Append(uint crc, ReadOnlySpan<byte> data)
        {
            crc = ~crc;
            foreach (byte b in data)
            {
                crc = Table[(crc ^ b) & 0xff] ^ (crc >> 8);
            }

            return ~crc;
        }

        private static uint[] Build()
        {
            var table = new uint[256];
            for (uint n = 0; n < 256; n++)
            {
                uint c = n;
                for (int k = 0; k < 8; k++)
                {
                    c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
                }

                table[n] = c;
            }

            return table;
        }
    }
}
