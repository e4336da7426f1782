using System.Net;
using System.Net.Http.Headers;
using Wharf.Oci;

namespace Wharf.Client;

/// <summary>
/// A blob's body that survives a dropped connection: when reading fails (or the body ends short of
/// the descriptor's size) it asks again with <c>Range: bytes=&lt;received&gt;-</c> and carries on
/// from there. A <c>206</c> must carry a <c>Content-Range</c> starting at the byte asked for; a
/// <c>200</c> (the registry ignores ranges) is a full refetch whose first <c>received</c> bytes are
/// skipped. The caller's running hash (a VerifyingStream on top) therefore sees each byte once and
/// still checks digest and size of the whole.
/// </summary>
internal sealed class ResumingBlobStream : Stream
{
    /// <summary>Consecutive resumes without a byte of progress before the drop is final.</summary>
    internal const int MaxResumesWithoutProgress = 5;

    private readonly Func<long, CancellationToken, Task<HttpResponseMessage>> _reopen;
    private readonly Descriptor _descriptor;
    private readonly Func<int, TimeSpan> _delay;
    private HttpResponseMessage _response;
    private Stream _body;
    private long _received;
    private int _failures;

    public ResumingBlobStream(HttpResponseMessage response, Stream body, Descriptor descriptor,
        Func<long, CancellationToken, Task<HttpResponseMessage>> reopen, Func<int, TimeSpan> delay)
    {
        _response = response;
        _body = body;
        _descriptor = descriptor;
        _reopen = reopen;
        _delay = delay;
    }

    /// <summary>How many times the body was reopened.</summary>
    public int Resumes { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => _descriptor.Size;

    public override long Position
    {
        get => _received;
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Exception failure;
            try
            {
                int n = await _body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (n > 0 || buffer.Length == 0 || _received >= _descriptor.Size)
                {
                    _received += n;
                    if (n > 0)
                    {
                        _failures = 0;
                    }

                    return n;
                }

                failure = new IOException($"connection closed after {_received} of {_descriptor.Size} bytes");
            }
            catch (Exception e) when (e is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
            {
                failure = e;
            }

            if (_received >= _descriptor.Size || ++_failures > MaxResumesWithoutProgress)
            {
                throw failure is IOException ? failure : new IOException(failure.Message, failure);
            }

            await Task.Delay(_delay(_failures), cancellationToken).ConfigureAwait(false);
            await ReopenAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ReopenAsync(CancellationToken ct)
    {
        await _body.DisposeAsync().ConfigureAwait(false);
        _response.Dispose();
        Resumes++;
        HttpResponseMessage response;
        try
        {
            response = await _reopen(_received, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            // Counted as another failure by the caller's loop; keep the old (disposed) body out of it.
            _body = new FailingStream(e);
            _response = new HttpResponseMessage();
            return;
        }

        _response = response;
        if (response.StatusCode == HttpStatusCode.PartialContent)
        {
            var range = response.Content.Headers.ContentRange;
            if (range is not { HasRange: true, From: { } from } || from != _received || range.Unit != "bytes")
            {
                response.Dispose();
                throw new IOException($"resuming blob {_descriptor.Digest} at byte {_received}: the registry answered Content-Range \"{range}\"");
            }

            _body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            return;
        }

        if (response.StatusCode == HttpStatusCode.OK)
        {
            // Ranges not honoured: the whole blob again; drop what was already passed on.
            _body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            await SkipAsync(_body, _received, ct).ConfigureAwait(false);
            return;
        }

        RegistryException error = await RegistryClient.ErrorAsync(response, $"resuming blob {_descriptor.Digest} at byte {_received}", ct).ConfigureAwait(false);
        response.Dispose();
        throw error;
    }

    private static async Task SkipAsync(Stream body, long count, CancellationToken ct)
    {
        byte[] scratch = new byte[1 << 16];
        while (count > 0)
        {
            int n = await body.ReadAsync(scratch.AsMemory(0, (int)Math.Min(scratch.Length, count)), ct).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException("connection closed while skipping to the resume point");
            }

            count -= n;
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

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
            _body.Dispose();
            _response.Dispose();
        }

        base.Dispose(disposing);
    }

    private sealed class FailingStream(Exception error) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => 0;

        public override long Position { get => 0; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => throw new IOException(error.Message, error);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromException<int>(new IOException(error.Message, error));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
