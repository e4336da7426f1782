using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Oci;
using Wharf.Registry.Proxy;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Proxy;

/// <summary>Registering an upstream and a proxy-cache project through the management API, as an admin does.</summary>
internal static class ProxySetup
{
    public static async Task<long> RegisterAsync(WharfServer server, string name, Uri url, string type = "docker-registry", string? key = null, string? secret = null)
    {
        using var admin = server.Admin();
        object body = key is null
            ? new { name, type, url = url.ToString(), insecure = false }
            : new { name, type, url = url.ToString(), insecure = false, credential = new { type = "basic", access_key = key, access_secret = secret } };
        using var response = await admin.PostAsJsonAsync("api/v2.0/registries", body);
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.Created);
        return long.Parse(response.Headers.Location!.ToString().Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    public static async Task<long> CreateProxyProjectAsync(WharfServer server, string project, long registryId, bool isPublic = false, long? storageLimit = null)
    {
        using var admin = server.Admin();
        using var response = await admin.PostAsJsonAsync("api/v2.0/projects", new
        {
            project_name = project,
            registry_id = registryId,
            metadata = new { @public = isPublic ? "true" : "false" },
            storage_limit = storageLimit ?? -1,
        });
        await WharfEndpoint.ExpectAsync(response, HttpStatusCode.Created);
        return long.Parse(response.Headers.Location!.ToString().Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Until every manifest the proxy fetched so far is stored (the client already has it).</summary>
    public static Task WhenStoredAsync(WharfServer server) => server.Services.GetRequiredService<ProxyCache>().WhenStoredAsync();

    public static async Task<(Digest Digest, byte[] Body, string MediaType)> GetManifestAsync(HttpClient client, string repository, string reference)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v2/{repository}/manifests/{reference}");
        request.Headers.TryAddWithoutValidation("Accept", $"{MediaTypes.OciManifest}, {MediaTypes.OciIndex}, {MediaTypes.DockerManifest}, {MediaTypes.DockerManifestList}");
        using var response = await client.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {repository}:{reference}: {(int)response.StatusCode} {text}");
        var body = await response.Content.ReadAsByteArrayAsync();
        return (Digest.Parse(response.Headers.GetValues("Docker-Content-Digest").Single()), body, response.Content.Headers.ContentType!.MediaType!);
    }

    public static async Task<byte[]> GetBlobAsync(HttpClient client, string repository, string digest)
    {
        using var response = await client.GetAsync($"v2/{repository}/blobs/{digest}");
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET blob {digest} of {repository}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadAsByteArrayAsync();
    }

    /// <summary>Every blob digest an image manifest lists (config first).</summary>
    public static IReadOnlyList<string> BlobsOf(byte[] manifest)
    {
        var parsed = ManifestParser.Parse(manifest, MediaTypes.OciManifest);
        return [.. parsed.Blobs.Select(b => b.Digest.ToString())];
    }

    /// <summary>Pushes an OCI image index of <paramref name="children"/> (digest, size) tagged <paramref name="tag"/>.</summary>
    public static async Task<Digest> PushIndexAsync(HttpClient client, string repository, string tag, params (Digest Digest, long Size, string Arch)[] children)
    {
        var manifests = children.Select(c => new Dictionary<string, object>
        {
            ["mediaType"] = MediaTypes.OciManifest,
            ["digest"] = c.Digest.ToString(),
            ["size"] = c.Size,
            ["platform"] = new Dictionary<string, string> { ["architecture"] = c.Arch, ["os"] = "linux" },
        });
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["schemaVersion"] = 2, ["mediaType"] = MediaTypes.OciIndex, ["manifests"] = manifests });
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(MediaTypes.OciIndex);
        using var response = await client.PutAsync($"v2/{repository}/manifests/{tag}", content);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"push index: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return Digest.Compute(body);
    }

    public static byte[] RandomLayer(int size = 4096) => System.Security.Cryptography.RandomNumberGenerator.GetBytes(size);

    public static string Text(byte[] bytes) => Encoding.UTF8.GetString(bytes);
}
