using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.Win32.SafeHandles;
using Wharf.Oci;
using Wharf.Registry.Metrics;
using Wharf.Registry.Storage;

namespace Wharf.Registry.Api;

/// <summary>
/// Sends a stored blob (or one range of it) as a response body, so that many concurrent pulls of
/// one large blob run at the speed of the page cache and cost the least CPU per byte.
/// <para>
/// Each chunk is read from the file straight into the memory of the connection's output pipe
/// (<see cref="PipeWriter.GetMemory"/>, then <see cref="RandomAccess.ReadAsync(SafeFileHandle, Memory{byte}, long, CancellationToken)"/>),
/// so the bytes are copied once from the page cache into the process and once into the socket:
/// no intermediate buffer per request and no copy into the pipe's 4 KiB blocks, which is what writing
/// to <c>Response.Body</c> costs. A flush waits once two chunks are waiting for the connection
/// (Kestrel's <c>MaxResponseBufferSize</c>), so the next read overlaps the send of the last one, a
/// request holds at most about two chunks however slow its client is, and each chunk goes back to the
/// shared pool after its send: RSS does not grow with the blob or the time a pull takes.
/// </para>
/// <para>
/// Why not <c>SendFileAsync</c>: Kestrel implements <c>IHttpResponseBodyFeature.SendFileAsync</c> by
/// copying the file through a 64 KiB buffer into the same pipe (it has no zero-copy path on any
/// transport); measured with 32 concurrent pulls it cost about twice the CPU per byte of this loop
/// (docs/benchmarks.md, "Registry burst"). A server that does have one (HTTP.sys) is not what wharfd runs on.
/// </para>
/// </summary>
internal static class BlobSender
{
    /// <summary>Large enough that a send is one system call of real size, small enough that 64 pulls stay in tens of MiB.</summary>
    public const int ChunkSize = 512 * 1024;

    public static async Task SendAsync(HttpContext context, IBlobReader blobs, Digest digest, long offset, long length, RegistryMetrics metrics, CancellationToken ct)
    {
        string? path = blobs.GetLocalPath(digest);
        if (path is null)
        {
            await using var stream = Open(() => blobs.OpenRead(digest), digest);
            await SendAsync(context.Response.BodyWriter, (memory, position, token) =>
            {
                if (stream.Position != position)
                {
                    stream.Seek(position, SeekOrigin.Begin);
                }

                return stream.ReadAsync(memory, token);
            }, offset, length, metrics, ct).ConfigureAwait(false);
            return;
        }

        using var handle = Open(
            () => File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, FileOptions.SequentialScan),
            digest);
        await SendAsync(context.Response.BodyWriter, (memory, position, token) => RandomAccess.ReadAsync(handle, memory, position, token), offset, length, metrics, ct)
            .ConfigureAwait(false);
    }

    /// <summary>
    /// Sends a blob as it arrives (a proxy cache's miss): the same chunked loop over a stream that is
    /// read from start to end. A stream that ends early aborts the response, as a short file does.
    /// </summary>
    public static Task SendArrivingAsync(HttpContext context, Stream arriving, long length, RegistryMetrics metrics, CancellationToken ct) =>
        SendAsync(context.Response.BodyWriter, (memory, _, token) => arriving.ReadAsync(memory, token), 0, length, metrics, ct);

    private static T Open<T>(Func<T> open, Digest digest)
    {
        try
        {
            return open();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // Deleted (GC, a repository delete) between the metadata lookup and here: nothing sent yet.
            throw new OciException(OciErrorCode.BlobUnknown, $"blob {digest} is no longer stored");
        }
    }

    private static async Task SendAsync(
        PipeWriter writer, Func<Memory<byte>, long, CancellationToken, ValueTask<int>> read, long offset, long length, RegistryMetrics metrics, CancellationToken ct)
    {
        long position = offset;
        long end = offset + length;
        try
        {
            while (position < end)
            {
                int want = (int)Math.Min(ChunkSize, end - position);
                var memory = writer.GetMemory(want);
                if (memory.Length > want)
                {
                    memory = memory[..want];
                }

                int n = await read(memory, position, ct).ConfigureAwait(false);
                if (n == 0)
                {
                    // The file is shorter than its size in the metadata: nothing a client can use follows.
                    // Throwing after the headers went out makes Kestrel abort the connection, so the client
                    // sees a short body and retries, instead of a hang.
                    throw new IOException($"blob file ended at byte {position} of {end}");
                }

                writer.Advance(n);
                position += n;
                var flushed = await writer.FlushAsync(ct).ConfigureAwait(false);
                if (flushed.IsCanceled || flushed.IsCompleted)
                {
                    break; // the connection is gone
                }
            }
        }
        finally
        {
            metrics.BlobBytesSent.Inc(position - offset);
        }
    }
}
