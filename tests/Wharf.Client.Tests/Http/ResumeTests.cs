using System.Net;
using System.Net.Http.Headers;
using Wharf.Content;
using Wharf.Oci;

namespace Wharf.Client.Tests.Http;

public class ResumeTests
{
    private const string Base = "https://reg.test";

    private static readonly byte[] Bytes = MakeBytes();

    private static readonly Descriptor Layer = new() { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Compute(Bytes), Size = Bytes.Length };

    private static string BlobUrl => $"{Base}/v2/lab/app/blobs/{Layer.Digest}";

    private static byte[] MakeBytes()
    {
        byte[] b = new byte[100_000];
        new Random(4).NextBytes(b);
        return b;
    }

    private static RegistryClient Client(ScriptedHandler handler) =>
        new("reg.test", new RegistryClientOptions { Transport = handler, RetryDelay = _ => TimeSpan.Zero });

    /// <summary>A body that delivers <paramref name="cut"/> bytes, then fails as a reset connection does.</summary>
    private static HttpResponseMessage CutAt(int cut)
    {
        var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new CutStream(Bytes, cut)) };
        response.Content.Headers.ContentLength = Bytes.Length;
        return response;
    }

    private static HttpResponseMessage Partial(int from, string? contentRange = null)
    {
        var response = new HttpResponseMessage(HttpStatusCode.PartialContent) { Content = new ByteArrayContent(Bytes[from..]) };
        response.Content.Headers.ContentRange = contentRange is null ? new ContentRangeHeaderValue(from, Bytes.Length - 1, Bytes.Length) : ContentRangeHeaderValue.Parse(contentRange);
        return response;
    }

    private static async Task<byte[]> ReadAll(RegistryClient client)
    {
        using var stream = await client.Repository("lab/app").FetchAsync(Layer, CancellationToken.None);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    [Fact]
    public async Task Fetch_ConnectionDropsMidBody_ResumesWithRangeFromBytesReceived()
    {
        var ranges = new List<string?>();
        var handler = new ScriptedHandler()
            .Expect(HttpMethod.Get, Base + "/v2/", HttpStatusCode.OK)
            .Expect(HttpMethod.Get, BlobUrl, r =>
            {
                ranges.Add(r.Headers.Range?.ToString());
                return CutAt(40_000);
            })
            .Expect(HttpMethod.Get, BlobUrl, r =>
            {
                ranges.Add(r.Headers.Range?.ToString());
                return Partial(40_000);
            });
        using var client = Client(handler);

        byte[] received = await ReadAll(client);

        Assert.Equal(Bytes, received);
        Assert.Equal([null, "bytes=40000-"], ranges);
        Assert.Equal(0, handler.Remaining);
    }

    [Fact]
    public async Task Fetch_DropsTwice_EachResumeAsksFromWhereItStopped()
    {
        var ranges = new List<string?>();
        var handler = new ScriptedHandler()
            .Expect(HttpMethod.Get, Base + "/v2/", HttpStatusCode.OK)
            .Expect(HttpMethod.Get, BlobUrl, _ => CutAt(10_000))
            .Expect(HttpMethod.Get, BlobUrl, r =>
            {
                ranges.Add(r.Headers.Range?.ToString());
                var response = new HttpResponseMessage(HttpStatusCode.PartialContent) { Content = new StreamContent(new CutStream(Bytes[10_000..], 30_000)) };
                response.Content.Headers.ContentRange = new ContentRangeHeaderValue(10_000, Bytes.Length - 1, Bytes.Length);
                return response;
            })
            .Expect(HttpMethod.Get, BlobUrl, r =>
            {
                ranges.Add(r.Headers.Range?.ToString());
                return Partial(40_000);
            });
        using var client = Client(handler);

        Assert.Equal(Bytes, await ReadAll(client));
        Assert.Equal(["bytes=10000-", "bytes=40000-"], ranges);
    }

    [Fact]
    public async Task Fetch_RegistryIgnoresRange_FullRefetchSkipsReceivedAndVerifies()
    {
        var handler = new ScriptedHandler()
            .Expect(HttpMethod.Get, Base + "/v2/", HttpStatusCode.OK)
            .Expect(HttpMethod.Get, BlobUrl, _ => CutAt(40_000))
            .Expect(HttpMethod.Get, BlobUrl, HttpStatusCode.OK, body: Bytes);
        using var client = Client(handler);

        Assert.Equal(Bytes, await ReadAll(client));
        Assert.Equal(0, handler.Remaining);
    }

    [Fact]
    public async Task Fetch_PartialFromWrongOffset_FailsInsteadOfCorrupting()
    {
        var handler = new ScriptedHandler()
            .Expect(HttpMethod.Get, Base + "/v2/", HttpStatusCode.OK)
            .Expect(HttpMethod.Get, BlobUrl, _ => CutAt(40_000))
            .Expect(HttpMethod.Get, BlobUrl, _ => Partial(30_000));
        using var client = Client(handler);

        var e = await Assert.ThrowsAsync<IOException>(() => ReadAll(client));

        Assert.Contains("Content-Range", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fetch_ResumedBytesWrong_DigestMismatchDetected()
    {
        byte[] corrupt = (byte[])Bytes.Clone();
        corrupt[50_000] ^= 0xff;
        var handler = new ScriptedHandler()
            .Expect(HttpMethod.Get, Base + "/v2/", HttpStatusCode.OK)
            .Expect(HttpMethod.Get, BlobUrl, _ => CutAt(40_000))
            .Expect(HttpMethod.Get, BlobUrl, _ =>
            {
                var response = new HttpResponseMessage(HttpStatusCode.PartialContent) { Content = new ByteArrayContent(corrupt[40_000..]) };
                response.Content.Headers.ContentRange = new ContentRangeHeaderValue(40_000, Bytes.Length - 1, Bytes.Length);
                return response;
            });
        using var client = Client(handler);

        await Assert.ThrowsAsync<ContentException>(() => ReadAll(client));
    }

    private sealed class CutStream(byte[] data, int cut) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_position >= cut)
            {
                throw new IOException("connection reset by peer");
            }

            int n = Math.Min(Math.Min(count, cut - _position), data.Length - _position);
            Array.Copy(data, _position, buffer, offset, n);
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
