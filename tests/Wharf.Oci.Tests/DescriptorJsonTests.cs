using System.Text;
using System.Text.Json;

namespace Wharf.Oci.Tests;

public class DescriptorJsonTests
{
    private static readonly string Hex = new('a', 64);

    [Fact]
    public void Serialize_Descriptor_WritesDigestAsOciText()
    {
        var descriptor = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Parse("sha256:" + Hex), Size = 3 };

        using var json = JsonDocument.Parse(JsonSerializer.SerializeToUtf8Bytes(descriptor, OciJsonContext.Default.Descriptor));

        Assert.Equal(["mediaType", "digest", "size"], json.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(JsonValueKind.String, json.RootElement.GetProperty("digest").ValueKind);
        Assert.Equal("sha256:" + Hex, json.RootElement.GetProperty("digest").GetString());
    }

    [Fact]
    public void Deserialize_Index_DigestIsTyped()
    {
        byte[] json = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"manifests\":[{{\"mediaType\":\"{MediaTypes.OciManifest}\",\"digest\":\"sha256:{Hex}\",\"size\":7}}]}}");

        var index = JsonSerializer.Deserialize(json, OciJsonContext.Default.ImageIndex)!;

        Assert.Equal(Digest.Sha256, index.Manifests[0].Digest.Algorithm);
        Assert.Equal(Hex, index.Manifests[0].Digest.Encoded);
    }

    [Theory]
    [InlineData("\"sha256:abc\"", "sha256 digest must be 64 lower-case hex digits")]
    [InlineData("\"md5:abc\"", "is not supported")]
    [InlineData("\"nocolon\"", "is not of the form algorithm:hex")]
    [InlineData("17", "must be a string")]
    public void Deserialize_InvalidDigest_JsonExceptionNamesTheProblem(string digest, string expected)
    {
        byte[] json = Encoding.UTF8.GetBytes($"{{\"mediaType\":\"{MediaTypes.OciLayerGzip}\",\"digest\":{digest},\"size\":3}}");

        var e = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize(json, OciJsonContext.Default.Descriptor));

        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ManifestParser_InvalidDigest_SameManifestInvalidError()
    {
        byte[] body = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"sha256:ABC\",\"size\":2}},\"layers\":[]}}");

        var e = Assert.Throws<OciException>(() => ManifestParser.Parse(body, null));

        Assert.Equal(OciErrorCode.ManifestInvalid, e.Code);
        Assert.Equal("config: sha256 digest must be 64 lower-case hex digits", e.Detail);
    }
}
