using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Wharf.Oci;

namespace Wharf.Registry.Tests.Support;

/// <summary>Pushes small images over the distribution API with any client (Basic or bearer), and writes OCI layouts for skopeo.</summary>
public static class Images
{
    public const string ConfigJson = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";

    public static long ConfigSize => Encoding.UTF8.GetByteCount(ConfigJson);

    public static async Task<Digest> PushBlobAsync(HttpClient client, string repo, byte[] content)
    {
        var digest = Digest.Compute(content);
        using var post = await client.PostAsync($"v2/{repo}/blobs/uploads/", null);
        Assert.True(post.StatusCode == HttpStatusCode.Accepted, $"blob upload start in {repo}: {post.StatusCode} {await post.Content.ReadAsStringAsync()}");
        string location = post.Headers.Location!.OriginalString;
        location += (location.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "digest=" + digest;
        using var put = await client.PutAsync(location.TrimStart('/'), new ByteArrayContent(content));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        return digest;
    }

    /// <summary>Pushes config + layers + manifest; the manifest answer is returned for the caller to judge.</summary>
    public static async Task<(Digest Digest, byte[] Body, HttpResponseMessage Response)> TryPushImageAsync(HttpClient client, string repo, string tag, params byte[][] layers)
    {
        var config = Encoding.UTF8.GetBytes(ConfigJson);
        var configDigest = await PushBlobAsync(client, repo, config);
        var descriptors = new List<string>();
        foreach (var layer in layers)
        {
            var d = await PushBlobAsync(client, repo, layer);
            descriptors.Add($"{{\"mediaType\":\"{MediaTypes.OciLayerGzip}\",\"digest\":\"{d}\",\"size\":{layer.Length}}}");
        }

        string json = $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"{configDigest}\",\"size\":{config.Length}}},\"layers\":[{string.Join(',', descriptors)}]}}";
        var body = Encoding.UTF8.GetBytes(json);
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(MediaTypes.OciManifest);
        var response = await client.PutAsync($"v2/{repo}/manifests/{tag}", content);
        return (Digest.Compute(body), body, response);
    }

    public static async Task<(Digest Digest, byte[] Body)> PushImageAsync(HttpClient client, string repo, string tag, params byte[][] layers)
    {
        var (digest, body, response) = await TryPushImageAsync(client, repo, tag, layers);
        using (response)
        {
            Assert.True(response.StatusCode == HttpStatusCode.Created, $"push {repo}:{tag}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        return (digest, body);
    }

    /// <summary>An OCI image layout with one image (one gzip layer holding one file) tagged <paramref name="tag"/>.</summary>
    public static async Task WriteOciLayoutAsync(string directory, string tag, string fileContent)
    {
        string blobs = Path.Combine(directory, "blobs", "sha256");
        Directory.CreateDirectory(blobs);
        var tar = new MemoryStream();
        await using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            var entry = new PaxTarEntry(TarEntryType.RegularFile, "hello.txt") { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(fileContent)) };
            await writer.WriteEntryAsync(entry);
        }

        byte[] uncompressed = tar.ToArray();
        var gz = new MemoryStream();
        await using (var gzip = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
        {
            await gzip.WriteAsync(uncompressed);
        }

        byte[] layer = gz.ToArray();
        byte[] config = Encoding.UTF8.GetBytes($"{{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{{}},\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{Digest.Compute(uncompressed)}\"]}}}}");
        byte[] manifest = Encoding.UTF8.GetBytes(
            $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"{Digest.Compute(config)}\",\"size\":{config.Length}}},\"layers\":[{{\"mediaType\":\"{MediaTypes.OciLayerGzip}\",\"digest\":\"{Digest.Compute(layer)}\",\"size\":{layer.Length}}}]}}");
        foreach (var blob in new[] { layer, config, manifest })
        {
            await File.WriteAllBytesAsync(Path.Combine(blobs, Digest.Compute(blob).ToString()["sha256:".Length..]), blob);
        }

        await File.WriteAllTextAsync(Path.Combine(directory, "oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        await File.WriteAllTextAsync(Path.Combine(directory, "index.json"),
            $"{{\"schemaVersion\":2,\"manifests\":[{{\"mediaType\":\"{MediaTypes.OciManifest}\",\"digest\":\"{Digest.Compute(manifest)}\",\"size\":{manifest.Length},\"annotations\":{{\"org.opencontainers.image.ref.name\":\"{tag}\"}}}}]}}");
    }
}
