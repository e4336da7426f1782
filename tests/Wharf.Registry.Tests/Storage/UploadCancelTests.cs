using System.Net;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Storage;

/// <summary>DELETE of an upload while a PATCH still streams into it: no 500, nothing left behind.</summary>
public sealed class UploadCancelTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync() => _server = await WharfServer.StartOpenAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Delete_WhilePatchIsStreaming_Answers204_PatchGetsBlobUploadUnknown_NothingLeft()
    {
        using var client = _server.Client();
        string location;
        using (var post = await client.PostAsync("v2/lab/a/blobs/uploads/", null))
        {
            Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
            location = post.Headers.Location!.OriginalString.TrimStart('/');
        }

        var body = new HeldStream(firstPart: 256 * 1024, rest: 256 * 1024);
        using var patchClient = _server.Client();
        var patch = patchClient.SendAsync(new HttpRequestMessage(HttpMethod.Patch, location) { Content = new StreamContent(body) });

        // Wait (bounded) until the first part has reached the server's upload file (the status
        // answers only acknowledged bytes, so it says 0-0 until the chunk is done).
        string file = Path.Combine(_server.DataDirectory, "uploads", location.Split('?')[0].Split('/')[^1]);
        for (int i = 0; ; i++)
        {
            Assert.True(i < 400, "the first part of the chunk never arrived");
            using var status = await client.GetAsync(location);
            Assert.Equal(HttpStatusCode.NoContent, status.StatusCode);
            if (new FileInfo(file).Length > 0)
            {
                break;
            }

            await Task.Delay(25);
        }

        using (var delete = await client.DeleteAsync(location))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        body.Release();
        using (var patched = await patch)
        {
            await ErrorAssert.HasErrorAsync(patched, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        }

        using (var gone = await client.GetAsync(location))
        {
            await ErrorAssert.HasErrorAsync(gone, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        }

        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_server.DataDirectory, "uploads")));

        // The registry goes on: a new upload in the same repository works.
        var digest = await RegistryPush.PushBlobAsync(client, "lab/a", new byte[1000]);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/lab/a/blobs/{digest}"))).StatusCode);
    }

    /// <summary>A request body that sends its first part, then waits until released before sending the rest.</summary>
    private sealed class HeldStream(int firstPart, int rest) : Stream
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public void Release() => _released.TrySetResult();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position == firstPart)
            {
                await _released.Task.WaitAsync(cancellationToken);
            }

            long end = _position < firstPart ? firstPart : firstPart + rest;
            int n = (int)Math.Min(buffer.Length, end - _position);
            buffer.Span[..n].Fill(0x5A);
            _position += n;
            return n;
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
