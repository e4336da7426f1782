using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Wharf.Oci;

namespace Wharf.Testing;

/// <summary>An image pushed by <see cref="RegistryPush"/>: its manifest and the distinct bytes it stored.</summary>
public sealed record PushedImage(Digest Digest, byte[] Body, long Size);

/// <summary>
/// Pushes through the distribution API exactly as a client does (POST then PUT with the digest,
/// manifest last), so a test's content goes through the routes, authorization and quota checks
/// under test instead of around them.
/// </summary>
public static class RegistryPush
{
    /// <summary>The image config every pushed image shares.</summary>
    public static readonly byte[] Config = Encoding.UTF8.GetBytes("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");

    /// <summary>Layer bytes of the given size that differ for each seed, so images do not share layers by accident.</summary>
    public static byte[] Layer(string seed, int size)
    {
        byte[] layer = new byte[size];
        byte[] key = SHA256.HashData(Encoding.UTF8.GetBytes(seed));
        for (int i = 0; i < size; i++)
        {
            layer[i] = key[i % key.Length];
        }

        return layer;
    }

    public static async Task<Digest> PushBlobAsync(HttpClient client, string repository, byte[] content)
    {
        ArgumentNullException.ThrowIfNull(client);
        var digest = Digest.Compute(content);
        using var post = await client.PostAsync(new Uri($"/v2/{repository}/blobs/uploads/", UriKind.Relative), null).ConfigureAwait(false);
        await WharfEndpoint.ExpectAsync(post, HttpStatusCode.Accepted).ConfigureAwait(false);
        using var body = new ByteArrayContent(content);
        using var put = await client.PutAsync(AppendQuery(post.Headers.Location!, "digest=" + digest), body).ConfigureAwait(false);
        await WharfEndpoint.ExpectAsync(put, HttpStatusCode.Created).ConfigureAwait(false);
        return digest;
    }

    /// <summary>Pushes the config, the layers and an OCI manifest tagged <paramref name="tag"/> (by digest when null).</summary>
    public static async Task<PushedImage> PushImageAsync(HttpClient client, string repository, string? tag, params byte[][] layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var configDigest = await PushBlobAsync(client, repository, Config).ConfigureAwait(false);
        var layerDescriptors = new List<string>();
        long size = Config.Length;
        var seen = new HashSet<Digest>();
        foreach (byte[] layer in layers)
        {
            var digest = await PushBlobAsync(client, repository, layer).ConfigureAwait(false);
            layerDescriptors.Add($"{{\"mediaType\":\"{MediaTypes.OciLayerGzip}\",\"digest\":\"{digest}\",\"size\":{layer.Length}}}");
            if (seen.Add(digest))
            {
                size += layer.Length;
            }
        }

        string json = $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"{configDigest}\",\"size\":{Config.Length}}},\"layers\":[{string.Join(',', layerDescriptors)}]}}";
        byte[] manifest = Encoding.UTF8.GetBytes(json);
        var manifestDigest = Digest.Compute(manifest);
        using var response = await PutManifestAsync(client, repository, tag ?? manifestDigest.ToString(), manifest, MediaTypes.OciManifest).ConfigureAwait(false);
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.Created).ConfigureAwait(false);
        return new PushedImage(manifestDigest, manifest, size + manifest.Length);
    }

    public static async Task<HttpResponseMessage> PutManifestAsync(HttpClient client, string repository, string reference, byte[] body, string mediaType)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(mediaType);
        return await client.PutAsync(new Uri($"/v2/{repository}/manifests/{reference}", UriKind.Relative), content).ConfigureAwait(false);
    }

    /// <summary>Adds a query parameter to an upload Location, which may already carry state in its query.</summary>
    public static Uri AppendQuery(Uri location, string query)
    {
        ArgumentNullException.ThrowIfNull(location);
        string s = location.OriginalString;
        return new Uri(s + (s.Contains('?', StringComparison.Ordinal) ? "&" : "?") + query, UriKind.RelativeOrAbsolute);
    }
}
