using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;
using Wharf.Registry.Api;

namespace Wharf.Server;

/// <summary>
/// <c>--access-log</c>: one line per request in the Common Log Format with the duration appended,
/// <c>client - user [time] "METHOD path protocol" status bytes duration</c>; bytes are the body
/// bytes sent, the user is who the registry's authorizer says made a /v2 request. The probes of a load
/// balancer (<c>/readyz</c>, <c>/healthz</c>, <c>/api/v2.0/ping</c>) are not logged.
/// </summary>
internal sealed partial class AccessLog(RequestDelegate next, ILogger<AccessLog> logger, TimeProvider time)
{
    public async Task InvokeAsync(HttpContext context)
    {
        // A load balancer asks these every few seconds; a line each would bury the requests that matter.
        if (context.Request.Path.Value is "/readyz" or "/healthz" or "/api/v2.0/ping")
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        long started = Stopwatch.GetTimestamp();
        var received = time.GetUtcNow();
        var original = context.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
        var counting = new CountingBodyFeature(original);
        context.Features.Set<IHttpResponseBodyFeature>(counting);
        bool failed = true;
        try
        {
            await next(context).ConfigureAwait(false);
            failed = false;
        }
        finally
        {
            context.Features.Set(original);
            var request = context.Request;
            string user = context.Items[RegistryCaller.ItemKey] is string { Length: > 0 } caller ? caller : context.User.Identity?.Name ?? "-";
            LogRequest(
                logger,
                context.Connection.RemoteIpAddress?.ToString() ?? "-",
                user,
                received.ToString("dd/MMM/yyyy:HH:mm:ss +0000", CultureInfo.InvariantCulture),
                request.Method,
                request.Path + request.QueryString,
                request.Protocol,
                failed && !context.Response.HasStarted ? StatusCodes.Status500InternalServerError : context.Response.StatusCode,
                counting.Written,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    [LoggerMessage(EventId = 50, Level = LogLevel.Information, Message = "{Client} - {User} [{Time}] \"{Method} {Path} {Protocol}\" {Status} {Bytes} {DurationMs:0.0}ms")]
    private static partial void LogRequest(ILogger logger, string client, string user, string time, string method, string path, string protocol, int status, long bytes, double durationMs);

    /// <summary>
    /// Counts what the response body sends without standing in its way: the pipe the handler writes
    /// to stays the connection's own (a blob read straight into it is not copied again), the stream
    /// and <c>SendFileAsync</c> are the server's own, and each adds what it moved to <see cref="Written"/>.
    /// Wrapping the body in a plain counting stream instead would route every write through a copy and
    /// turn <c>SendFileAsync</c> into a stream copy.
    /// </summary>
    private sealed class CountingBodyFeature(IHttpResponseBodyFeature inner) : IHttpResponseBodyFeature
    {
        private CountingStream? _stream;
        private CountingPipeWriter? _writer;
        private long _sentFiles;

        public long Written => (_stream?.Written ?? 0) + (_writer?.Written ?? 0) + _sentFiles;

        public Stream Stream => _stream ??= new CountingStream(inner.Stream);

        public PipeWriter Writer => _writer ??= new CountingPipeWriter(inner.Writer);

        public void DisableBuffering() => inner.DisableBuffering();

        public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);

        public Task CompleteAsync() => inner.CompleteAsync();

        public async Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
        {
            await inner.SendFileAsync(path, offset, count, cancellationToken).ConfigureAwait(false);
            _sentFiles += count ?? (new FileInfo(path).Length - offset);
        }
    }

    private sealed class CountingPipeWriter(PipeWriter inner) : PipeWriter
    {
        public long Written { get; private set; }

        public override void Advance(int bytes)
        {
            inner.Advance(bytes);
            Written += bytes;
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;

        public override async ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            var result = await inner.WriteAsync(source, cancellationToken).ConfigureAwait(false);
            Written += source.Length;
            return result;
        }
    }

    private sealed class CountingStream(Stream inner) : Stream
    {
        public long Written { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            Written += buffer.Length;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            Written += buffer.Length;
        }
    }
}
