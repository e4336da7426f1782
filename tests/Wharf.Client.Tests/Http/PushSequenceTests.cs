using System.Net;
using System.Text;
using System.Text.Json;
using Wharf.Content;
using Wharf.Oci;

namespace Wharf.Client.Tests.Http;

public sealed class PushSequenceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-pushseq-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Descriptor Put(OciLayoutTarget layout, string mediaType, byte[] body)
    {
        var d = new Descriptor { MediaType = mediaType, Digest = Digest.Compute(body), Size = body.Length };
        layout.PushAsync(d, new MemoryStream(body), CancellationToken.None).GetAwaiter().GetResult();
        return d;
    }

    [Fact]
    public async Task CopyGraph_ToRegistryWithTag_LayerThenConfigThenOneManifestPutByTag()
    {
        var layout = new OciLayoutTarget(_dir).Initialize();
        var layer = Put(layout, MediaTypes.OciLayerGzip, Encoding.UTF8.GetBytes("layer"));
        var config = Put(layout, MediaTypes.OciConfig, Encoding.UTF8.GetBytes("{\"architecture\":\"amd64\",\"os\":\"linux\"}"));
        var manifest = Put(layout, MediaTypes.OciManifest, JsonSerializer.SerializeToUtf8Bytes(
            new ImageManifest { MediaType = MediaTypes.OciManifest, Config = config, Layers = [layer] }, OciJsonContext.Default.ImageManifest));
        const string B = "https://reg.test";
        var handler = new ScriptedHandler()
            .Expect(HttpMethod.Get, B + "/v2/", HttpStatusCode.OK)
            .Expect(HttpMethod.Head, $"{B}/v2/lab/app/blobs/{layer.Digest}", HttpStatusCode.NotFound)
            .Expect(HttpMethod.Post, $"{B}/v2/lab/app/blobs/uploads/?mount={Uri.EscapeDataString(layer.Digest.ToString())}&from=lab%2Fbase", HttpStatusCode.Accepted,
                r => r.Headers.Location = new Uri(B + "/v2/lab/app/blobs/uploads/m1"))
            .Expect(HttpMethod.Delete, $"{B}/v2/lab/app/blobs/uploads/m1", HttpStatusCode.NoContent)
            .Expect(HttpMethod.Post, $"{B}/v2/lab/app/blobs/uploads/", HttpStatusCode.Accepted, r => r.Headers.Location = new Uri(B + "/up/1"))
            .Expect(HttpMethod.Put, $"{B}/up/1?digest={Uri.EscapeDataString(layer.Digest.ToString())}", HttpStatusCode.Created)
            .Expect(HttpMethod.Head, $"{B}/v2/lab/app/blobs/{config.Digest}", HttpStatusCode.OK, r => r.Content.Headers.ContentLength = config.Size)
            .Expect(HttpMethod.Put, $"{B}/v2/lab/app/manifests/v1", HttpStatusCode.Created);
        using var client = new RegistryClient("reg.test", new RegistryClientOptions { Transport = handler, RetryDelay = _ => TimeSpan.Zero });

        await CopyEngine.CopyGraphAsync(layout, client.Repository("lab/app"), manifest, new CopyOptions
        {
            RootReference = "v1",
            MountCandidates = d => d.Digest == layer.Digest ? ["lab/base"] : [],
        }, CancellationToken.None);

        Assert.Equal(0, handler.Remaining);
        Assert.Equal("layer"u8.ToArray(), handler.Requests[5].Body);
        Assert.Equal(File.ReadAllBytes(layout.BlobPath(manifest.Digest)), handler.Requests[^1].Body);
    }
}
