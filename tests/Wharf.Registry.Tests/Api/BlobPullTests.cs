using System.Net;
using System.Security.Cryptography;
using FsCheck;
using FsCheck.Fluent;
using Wharf.Oci;
using Wharf.Registry.Api;

namespace Wharf.Registry.Tests.Api;

/// <summary>
/// Pulling blobs as clients do it under load and after failures: every form of a single byte range,
/// the answers to ranges that cannot be served, HEAD, a download cut midway and resumed with Range,
/// and a burst of concurrent pulls of one blob, all through the real pipeline on a real socket.
/// </summary>
public sealed class BlobPullTests : IAsyncLifetime
{
    private const int Size = 1000;

    private RegistryServer _server = null!;
    private byte[] _content = [];
    private Digest _digest;

    private HttpClient Client => _server.Client;

    private string BlobPath => $"/v2/lab/pull/blobs/{_digest}";

    public async Task InitializeAsync()
    {
        _server = await RegistryServer.StartAsync();
        _content = RandomNumberGenerator.GetBytes(Size);
        _digest = await _server.PushBlobAsync("lab/pull", _content);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("bytes=0-99", 0, 100)]
    [InlineData("bytes=100-199", 100, 100)]
    [InlineData("bytes=999-999", 999, 1)]
    [InlineData("bytes=900-", 900, 100)]
    [InlineData("bytes=0-", 0, Size)]
    [InlineData("bytes=500-5000", 500, 500)]
    [InlineData("bytes=10-99999999999999999999999", 10, 990)]
    [InlineData("bytes=-1", 999, 1)]
    [InlineData("bytes=-250", 750, 250)]
    [InlineData("bytes=-5000", 0, Size)]
    [InlineData("BYTES = 5 - 9", 5, 5)]
    public async Task Get_SingleRange_Returns206WithThoseBytes(string range, int offset, int length)
    {
        using var resp = await GetAsync(range);
        Assert.Equal(HttpStatusCode.PartialContent, resp.StatusCode);
        Assert.Equal($"bytes {offset}-{offset + length - 1}/{Size}", resp.Content.Headers.ContentRange!.ToString());
        Assert.Equal(length, resp.Content.Headers.ContentLength);
        Assert.Equal(_content.AsSpan(offset, length).ToArray(), await resp.Content.ReadAsByteArrayAsync());
        Assert.Equal(_digest.ToString(), resp.Headers.GetValues(RegistryApi.ContentDigestHeader).Single());
        Assert.Equal($"\"{_digest}\"", resp.Headers.ETag!.Tag);
    }

    [Theory]
    [InlineData("bytes=0-9,20-29")] // several ranges: allowed to answer with everything (RFC 9110 14.2)
    [InlineData("items=0-9")] // a unit we do not know is ignored
    public async Task Get_RangeItDoesNotServe_ReturnsTheWholeBlob(string range)
    {
        using var resp = await GetAsync(range);
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        Assert.Null(resp.Content.Headers.ContentRange);
        Assert.Equal(_content, await resp.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("bytes=1000-")]
    [InlineData("bytes=1000-1001")]
    [InlineData("bytes=-0")]
    [InlineData("bytes=20-10")]
    [InlineData("bytes=abc")]
    [InlineData("bytes=1-2x")]
    [InlineData("bytes=+1-5")]
    [InlineData("bytes")]
    public async Task Get_UnsatisfiableOrMalformedRange_Returns416WithTheSize(string range)
    {
        using var resp = await GetAsync(range);
        await ErrorAssert.HasErrorAsync(resp, HttpStatusCode.RequestedRangeNotSatisfiable, "RANGE_INVALID");
        Assert.Equal($"bytes */{Size}", resp.Content.Headers.ContentRange!.ToString());
    }

    [Fact]
    public async Task Get_RangeOfAnEmptyBlob_Returns416_WholeReturnsNothing()
    {
        var empty = await _server.PushBlobAsync("lab/pull", []);
        using var whole = await Client.GetAsync($"/v2/lab/pull/blobs/{empty}");
        Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        Assert.Empty(await whole.Content.ReadAsByteArrayAsync());

        using var req = new HttpRequestMessage(HttpMethod.Get, $"/v2/lab/pull/blobs/{empty}");
        req.Headers.TryAddWithoutValidation("Range", "bytes=-10");
        using var ranged = await Client.SendAsync(req);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, ranged.StatusCode);
        Assert.Equal("bytes */0", ranged.Content.Headers.ContentRange!.ToString());
    }

    [Fact]
    public async Task Head_SaysWhatAGetWouldSend_WithoutABody()
    {
        using var req = new HttpRequestMessage(HttpMethod.Head, BlobPath);
        req.Headers.TryAddWithoutValidation("Range", "bytes=0-9"); // Range has no meaning for HEAD
        using var head = await Client.SendAsync(req);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(Size, head.Content.Headers.ContentLength);
        Assert.Equal(_digest.ToString(), head.Headers.GetValues(RegistryApi.ContentDigestHeader).Single());
        Assert.Equal($"\"{_digest}\"", head.Headers.ETag!.Tag);
        Assert.Equal("bytes", head.Headers.AcceptRanges.Single());
        Assert.Equal("application/octet-stream", head.Content.Headers.ContentType!.MediaType);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_IfRange_ServesTheRangeOnlyForThisBlobsETag()
    {
        using var same = await GetAsync("bytes=10-19", ifRange: $"\"{_digest}\"");
        Assert.Equal(HttpStatusCode.PartialContent, same.StatusCode);
        Assert.Equal(_content[10..20], await same.Content.ReadAsByteArrayAsync());

        // The client's partial copy is of something else: it gets the whole blob, not a splice.
        using var other = await GetAsync("bytes=10-19", ifRange: "\"sha256:0000000000000000000000000000000000000000000000000000000000000000\"");
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.Equal(_content, await other.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_IfNoneMatchTheDigest_Returns304()
    {
        using var req = new HttpRequestMessage(HttpMethod.Get, BlobPath);
        req.Headers.TryAddWithoutValidation("If-None-Match", $"\"{_digest}\"");
        using var resp = await Client.SendAsync(req);
        Assert.Equal(HttpStatusCode.NotModified, resp.StatusCode);
        Assert.Empty(await resp.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_ConnectionCutMidway_ResumesWithRangeAndTheDigestMatches()
    {
        // Larger than every buffer between the file and the client, so the cut really is midway.
        byte[] big = RandomNumberGenerator.GetBytes(24 * 1024 * 1024);
        var digest = await _server.PushBlobAsync("lab/big", big);
        string path = $"/v2/lab/big/blobs/{digest}";

        using var partial = new MemoryStream();
        using (var first = await Client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Equal(big.Length, first.Content.Headers.ContentLength);
            await using var body = await first.Content.ReadAsStreamAsync();
            byte[] buffer = new byte[64 * 1024];
            while (partial.Length < 5 * 1024 * 1024)
            {
                int n = await body.ReadAsync(buffer);
                Assert.NotEqual(0, n);
                partial.Write(buffer, 0, n);
            }

            // Disposing the response with most of the body unread aborts the connection.
        }

        Assert.InRange(partial.Length, 5 * 1024 * 1024, big.Length - (1024 * 1024));
        using var req = new HttpRequestMessage(HttpMethod.Get, path);
        req.Headers.TryAddWithoutValidation("Range", $"bytes={partial.Length}-");
        req.Headers.TryAddWithoutValidation("If-Range", $"\"{digest}\"");
        using var rest = await Client.SendAsync(req, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.PartialContent, rest.StatusCode);
        Assert.Equal($"bytes {partial.Length}-{big.Length - 1}/{big.Length}", rest.Content.Headers.ContentRange!.ToString());
        await (await rest.Content.ReadAsStreamAsync()).CopyToAsync(partial);

        Assert.Equal(digest, Digest.Compute(partial.ToArray()));
    }

    [Fact]
    public async Task Get_32ConcurrentPullsOfOneBlob_AllCompleteWithTheDigest()
    {
        byte[] big = RandomNumberGenerator.GetBytes(8 * 1024 * 1024);
        var digest = await _server.PushBlobAsync("lab/burst", big);

        // One connection per pull, as 32 tasks on as many nodes would open.
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 64 };
        using var client = new HttpClient(handler) { BaseAddress = _server.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
        using var start = new SemaphoreSlim(0);
        var pulls = Enumerable.Range(0, 32).Select(async _ =>
        {
            await start.WaitAsync();
            using var resp = await client.GetAsync($"/v2/lab/burst/blobs/{digest}", HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
            await using var body = await resp.Content.ReadAsStreamAsync();
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            byte[] buffer = new byte[128 * 1024];
            long total = 0;
            int n;
            while ((n = await body.ReadAsync(buffer)) > 0)
            {
                sha.AppendData(buffer, 0, n);
                total += n;
            }

            return (total, "sha256:" + Convert.ToHexStringLower(sha.GetHashAndReset()));
        }).ToList();
        start.Release(32);

        foreach (var (total, got) in await Task.WhenAll(pulls))
        {
            Assert.Equal(big.Length, total);
            Assert.Equal(digest.ToString(), got);
        }
    }

    [Fact]
    public void Evaluate_AnyHeader_NeverThrowsAndAPartialAnswerLiesInsideTheBlob()
    {
        var pieces = Gen.Elements("bytes", "BYTES", "items", "=", " ", "-", ",", "+", "x", "0", "1", "7", "999", "1000", "1001", "99999999999999999999");
        var headers = Gen.Choose(0, 8).SelectMany(n => Gen.ListOf(pieces, n)).Select(p => string.Concat(p));
        var cases = Gen.Choose(0, 1500).SelectMany(size => headers, (size, header) => (Size: size, Header: header));
        var property = Prop.ForAll(Arb.From(cases), c =>
        {
            var range = BlobRange.Evaluate(c.Header, null, "\"x\"", c.Size);
            bool ok = range.Kind switch
            {
                BlobRangeKind.Partial => range.Offset >= 0 && range.Length > 0 && range.Offset + range.Length <= c.Size,
                BlobRangeKind.Whole => range.Offset == 0 && range.Length == c.Size,
                _ => range.ContentRange(c.Size) == $"bytes */{c.Size}",
            };
            Assert.True(ok, $"{c.Header} on {c.Size} bytes gave {range}");
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(500), property);
    }

    private async Task<HttpResponseMessage> GetAsync(string range, string? ifRange = null)
    {
        using var req = new HttpRequestMessage(HttpMethod.Get, BlobPath);
        req.Headers.TryAddWithoutValidation("Range", range);
        if (ifRange is not null)
        {
            req.Headers.TryAddWithoutValidation("If-Range", ifRange);
        }

        return await Client.SendAsync(req);
    }
}
