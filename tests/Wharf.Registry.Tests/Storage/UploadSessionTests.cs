using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Oci;
using Wharf.Registry.Storage;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Storage;

/// <summary>
/// An upload session is its row and its data file (UploadSessions): it continues after a restart,
/// a broken chunk costs only itself, and an abandoned session expires with its file.
/// </summary>
public sealed class UploadSessionTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync() => _server = await WharfServer.StartOpenAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task ChunkedUpload_WharfdRestartedBetweenChunks_FinishesWithTheWholeBlob()
    {
        byte[] blob = Bytes(300_000, seed: 1);
        string location = await StartAsync();
        await PatchAsync(location, blob.AsMemory(0, 120_000), offset: 0, HttpStatusCode.Accepted);

        await _server.RestartAsync();

        using var client = _server.Client();
        using (var status = await client.GetAsync(location))
        {
            Assert.Equal(HttpStatusCode.NoContent, status.StatusCode);
            Assert.Equal("0-119999", status.Headers.GetValues("Range").Single());
        }

        await PatchAsync(location, blob.AsMemory(120_000), offset: 120_000, HttpStatusCode.Accepted);
        var digest = Digest.Compute(blob);
        using (var put = await client.PutAsync($"{location}{(location.Contains('?', StringComparison.Ordinal) ? '&' : '?')}digest={digest}", null))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        Assert.Equal(blob, await client.GetByteArrayAsync($"v2/lab/a/blobs/{digest}"));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_server.DataDirectory, "uploads")));
    }

    [Fact]
    public async Task Patch_AfterABrokenChunkLeftBytesBehind_ContinuesFromTheAcknowledgedOffset()
    {
        byte[] blob = Bytes(50_000, seed: 2);
        string location = await StartAsync();
        await PatchAsync(location, blob.AsMemory(0, 20_000), offset: 0, HttpStatusCode.Accepted);

        // What a chunk that broke off mid-stream (or a crash mid-write) leaves: bytes the client was never told about.
        string file = Path.Combine(_server.DataDirectory, "uploads", UploadId(location));
        await using (var data = new FileStream(file, FileMode.Append, FileAccess.Write))
        {
            await data.WriteAsync(Bytes(7_000, seed: 9));
        }

        using var client = _server.Client();
        using (var status = await client.GetAsync(location))
        {
            Assert.Equal("0-19999", status.Headers.GetValues("Range").Single());
        }

        await PatchAsync(location, blob.AsMemory(20_000), offset: 20_000, HttpStatusCode.Accepted);
        var digest = Digest.Compute(blob);
        using (var put = await client.PutAsync($"{location}{(location.Contains('?', StringComparison.Ordinal) ? '&' : '?')}digest={digest}", null))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        Assert.Equal(blob, await client.GetByteArrayAsync($"v2/lab/a/blobs/{digest}"));
    }

    [Fact]
    public async Task ExpireIdle_AbandonedSession_GoesWithItsFile_ActiveOneStays()
    {
        string abandoned = await StartAsync();
        string active = await StartAsync();
        await PatchAsync(abandoned, Bytes(1_000, seed: 3), offset: 0, HttpStatusCode.Accepted);

        _server.Clock.Advance(TimeSpan.FromHours(20));
        await PatchAsync(active, Bytes(1_000, seed: 4), offset: 0, HttpStatusCode.Accepted);
        _server.Clock.Advance(TimeSpan.FromHours(5));

        var uploads = _server.Services.GetRequiredService<UploadSessions>();
        var expired = await uploads.ExpireIdleAsync(_server.Clock.GetUtcNow() - TimeSpan.FromHours(24), CancellationToken.None);

        Assert.Equal([UploadId(abandoned)], expired.Select(s => s.Id));
        Assert.Equal([UploadId(active)], Directory.EnumerateFiles(Path.Combine(_server.DataDirectory, "uploads")).Select(Path.GetFileName));
        using var client = _server.Client();
        using (var gone = await client.GetAsync(abandoned))
        {
            await ErrorAssert.HasErrorAsync(gone, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        }

        using (var kept = await client.GetAsync(active))
        {
            Assert.Equal("0-999", kept.Headers.GetValues("Range").Single());
        }
    }

    [Fact]
    public async Task Patch_WithAGapAfterRestart_Answers416WithTheAcknowledgedRange()
    {
        string location = await StartAsync();
        await PatchAsync(location, Bytes(10_000, seed: 5), offset: 0, HttpStatusCode.Accepted);
        await _server.RestartAsync();

        using var response = await PatchAsync(location, Bytes(10, seed: 6), offset: 10_500, HttpStatusCode.RequestedRangeNotSatisfiable);

        Assert.Equal("0-9999", response.Headers.GetValues("Range").Single());
    }

    private async Task<string> StartAsync()
    {
        using var client = _server.Client();
        using var post = await client.PostAsync("v2/lab/a/blobs/uploads/", null);
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        return post.Headers.Location!.OriginalString.TrimStart('/');
    }

    private async Task<HttpResponseMessage> PatchAsync(string location, ReadOnlyMemory<byte> chunk, long offset, HttpStatusCode expected)
    {
        using var client = _server.Client();
        var content = new ByteArrayContent(chunk.ToArray());
        content.Headers.ContentType = new("application/octet-stream");
        content.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + chunk.Length - 1}");
        var response = await client.PatchAsync(location, content);
        Assert.Equal(expected, response.StatusCode);
        return response;
    }

    private static string UploadId(string location) => location.Split('?')[0].Split('/')[^1];

    private static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
