using System.Security.Cryptography;
using Wharf.Oci;
using Wharf.Registry.Storage;

namespace Wharf.Registry.Tests.Storage;

public sealed class FileSystemBlobStoreTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("wharf-blobs-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Commit_AfterChunks_PublishesUnderDigestPath()
    {
        var store = new FileSystemBlobStore(_root);
        byte[] content = RandomNumberGenerator.GetBytes(700_000);
        store.CreateUpload("u1");
        await store.AppendAsync("u1", new MemoryStream(content, 0, 300_000), default);
        await store.AppendAsync("u1", new MemoryStream(content, 300_000, 400_000), default);
        var digest = Digest.Compute(content);

        Assert.Equal(content.Length, await store.CommitAsync("u1", digest, default));
        Assert.Equal(content.Length, store.Stat(digest));
        Assert.True(File.Exists(Path.Combine(_root, "blobs", "sha256", digest.Encoded[..2], digest.Encoded)));
        Assert.Null(store.UploadSize("u1"));
    }

    [Fact]
    public async Task Commit_WithNewStoreInstance_RebuildsHashFromFile()
    {
        byte[] content = RandomNumberGenerator.GetBytes(100_000);
        var first = new FileSystemBlobStore(_root);
        first.CreateUpload("u2");
        await first.AppendAsync("u2", new MemoryStream(content, 0, 50_000), default);

        // A restart loses the in-memory hash; the next append and commit must rebuild it.
        var second = new FileSystemBlobStore(_root);
        await second.AppendAsync("u2", new MemoryStream(content, 50_000, 50_000), default);
        var digest = await second.CommitAsync("u2", Digest.Compute(content), default);
        Assert.Equal(content.Length, digest);
    }

    [Fact]
    public async Task Commit_WrongDigest_ThrowsAndLeavesNothing()
    {
        var store = new FileSystemBlobStore(_root);
        store.CreateUpload("u3");
        await store.AppendAsync("u3", new MemoryStream([1, 2, 3]), default);
        var wrong = Digest.Compute(new byte[] { 4 });
        var e = await Assert.ThrowsAsync<OciException>(() => store.CommitAsync("u3", wrong, default));
        Assert.Equal(OciErrorCode.DigestInvalid, e.Code);
        Assert.Null(store.Stat(wrong));
        Assert.Empty(Directory.GetFiles(Path.Combine(_root, "uploads")));
        Assert.Empty(Directory.GetFiles(Path.Combine(_root, "blobs"), "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Commit_Sha512Digest_IsVerifiedWithSha512()
    {
        var store = new FileSystemBlobStore(_root);
        byte[] content = RandomNumberGenerator.GetBytes(1000);
        var digest = Digest.Parse("sha512:" + Convert.ToHexStringLower(SHA512.HashData(content)));
        store.CreateUpload("u4");
        await store.AppendAsync("u4", new MemoryStream(content), default);
        Assert.Equal(1000, await store.CommitAsync("u4", digest, default));
        Assert.Equal(1000, store.Stat(digest));
    }

    [Fact]
    public async Task Commit_SameContentTwice_KeepsOneFile()
    {
        var store = new FileSystemBlobStore(_root);
        byte[] content = RandomNumberGenerator.GetBytes(1000);
        var digest = Digest.Compute(content);
        foreach (string id in new[] { "a", "b" })
        {
            store.CreateUpload(id);
            await store.AppendAsync(id, new MemoryStream(content), default);
        }

        await Task.WhenAll(store.CommitAsync("a", digest, default), store.CommitAsync("b", digest, default));
        Assert.Single(Directory.GetFiles(Path.Combine(_root, "blobs"), "*", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(Path.Combine(_root, "uploads")));
    }

    [Fact]
    public async Task Append_UnknownUpload_ThrowsBlobUploadUnknown()
    {
        var store = new FileSystemBlobStore(_root);
        var e = await Assert.ThrowsAsync<OciException>(() => store.AppendAsync("missing", new MemoryStream([1]), default));
        Assert.Equal(OciErrorCode.BlobUploadUnknown, e.Code);
    }

    [Fact]
    public void Cancel_IsIdempotent()
    {
        var store = new FileSystemBlobStore(_root);
        store.CreateUpload("c");
        store.Cancel("c");
        store.Cancel("c");
        Assert.Null(store.UploadSize("c"));
    }
}
