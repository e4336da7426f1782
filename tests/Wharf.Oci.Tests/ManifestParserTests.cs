using System.Text;

namespace Wharf.Oci.Tests;

public class ManifestParserTests
{
    private const string ConfigDigest = "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7";
    private const string LayerDigest = "sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0";
    private const string ChildDigest = "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f";
    private const string OtherDigest = "sha256:3e7f35e5a5a8b4a7f8d3c7b1b1e6c7f9b9d4f4c9a5c3e2d1f0e9d8c7b6a59483";

    private static readonly string OciImage = $$"""
        {
          "schemaVersion": 2,
          "mediaType": "application/vnd.oci.image.manifest.v1+json",
          "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": "{{ConfigDigest}}", "size": 7023 },
          "layers": [
            { "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "{{LayerDigest}}", "size": 32654 },
            { "mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": "{{OtherDigest}}", "size": 16724,
              "annotations": { "org.opencontainers.image.title": "layer2" } }
          ],
          "annotations": { "com.example.key1": "value1", "com.example.key2": "value2" }
        }
        """;

    private static readonly string DockerImage = $$"""
        {
          "schemaVersion": 2,
          "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
          "config": { "mediaType": "application/vnd.docker.container.image.v1+json", "size": 1469, "digest": "{{ConfigDigest}}" },
          "layers": [
            { "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 3370706, "digest": "{{LayerDigest}}" }
          ]
        }
        """;

    private static readonly string OciIndex = $$"""
        {
          "schemaVersion": 2,
          "mediaType": "application/vnd.oci.image.index.v1+json",
          "manifests": [
            { "mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 7143, "digest": "{{ChildDigest}}",
              "platform": { "architecture": "ppc64le", "os": "linux" } },
            { "mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 7682, "digest": "{{OtherDigest}}",
              "platform": { "architecture": "arm64", "os": "linux", "variant": "v8", "os.version": "6.1" } }
          ],
          "annotations": { "com.example.key1": "value1" }
        }
        """;

    private static readonly string DockerList = $$"""
        {
          "schemaVersion": 2,
          "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
          "manifests": [
            { "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 7143, "digest": "{{ChildDigest}}",
              "platform": { "architecture": "amd64", "os": "linux" } }
          ]
        }
        """;

    private static readonly string Artifact = $$"""
        {
          "schemaVersion": 2,
          "mediaType": "application/vnd.oci.image.manifest.v1+json",
          "artifactType": "application/vnd.example.sbom.v1+json",
          "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2, "data": "e30=" },
          "layers": [
            { "mediaType": "application/vnd.example.sbom.v1+json", "digest": "{{LayerDigest}}", "size": 321 }
          ],
          "subject": { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "{{ChildDigest}}", "size": 7682 },
          "annotations": { "org.opencontainers.image.created": "2024-01-02T03:04:05Z" }
        }
        """;

    private static ParsedManifest Parse(string json, string? contentType = null) =>
        ManifestParser.Parse(Encoding.UTF8.GetBytes(json), contentType);

    private static OciException ParseFails(string json, string? contentType = null) =>
        ParseFails(Encoding.UTF8.GetBytes(json), contentType);

    private static OciException ParseFails(byte[] body, string? contentType = null)
    {
        var e = Assert.Throws<OciException>(() => ManifestParser.Parse(body, contentType));
        Assert.Equal(OciErrorCode.ManifestInvalid, e.Code);
        Assert.False(string.IsNullOrEmpty(e.Detail));
        return e;
    }

    [Fact]
    public void Parse_OciImageManifest_ReadsConfigLayersAnnotations()
    {
        var m = Parse(OciImage, MediaTypes.OciManifest);

        Assert.Equal(MediaTypes.OciManifest, m.MediaType);
        Assert.False(m.IsIndex);
        Assert.NotNull(m.Config);
        Assert.Equal(MediaTypes.OciConfig, m.Config.MediaType);
        Assert.Equal(ConfigDigest, m.Config.Digest.ToString());
        Assert.Equal(7023, m.Config.Size);
        Assert.Equal(2, m.Layers.Count);
        Assert.Equal(LayerDigest, m.Layers[0].Digest.ToString());
        Assert.Equal(MediaTypes.OciLayerZstd, m.Layers[1].MediaType);
        Assert.Equal("layer2", m.Layers[1].Annotations!["org.opencontainers.image.title"]);
        Assert.Equal("value2", m.Annotations!["com.example.key2"]);
        Assert.Empty(m.Manifests);
        Assert.Null(m.Subject);
        Assert.Equal([ConfigDigest, LayerDigest, OtherDigest], m.Blobs.Select(b => b.Digest.ToString()));
    }

    [Fact]
    public void Parse_OciImageManifestWithoutArtifactType_ArtifactTypeIsConfigMediaType()
    {
        Assert.Equal(MediaTypes.OciConfig, Parse(OciImage).ArtifactType);
    }

    [Fact]
    public void Parse_DockerSchema2Manifest_ReadsConfigAndLayers()
    {
        var m = Parse(DockerImage, MediaTypes.DockerManifest);

        Assert.Equal(MediaTypes.DockerManifest, m.MediaType);
        Assert.Equal(MediaTypes.DockerConfig, m.Config!.MediaType);
        Assert.Equal(MediaTypes.DockerConfig, m.ArtifactType);
        Assert.Single(m.Layers);
        Assert.Equal(3370706, m.Layers[0].Size);
        Assert.Null(m.Annotations);
    }

    [Fact]
    public void Parse_ContentTypeWithParameters_IsAccepted()
    {
        var m = Parse(DockerImage, MediaTypes.DockerManifest + "; charset=utf-8");
        Assert.Equal(MediaTypes.DockerManifest, m.MediaType);
    }

    [Fact]
    public void Parse_OciIndex_ReadsManifestsAndPlatforms()
    {
        var m = Parse(OciIndex, MediaTypes.OciIndex);

        Assert.Equal(MediaTypes.OciIndex, m.MediaType);
        Assert.True(m.IsIndex);
        Assert.Null(m.Config);
        Assert.Empty(m.Layers);
        Assert.Empty(m.Blobs);
        Assert.Equal(2, m.Manifests.Count);
        Assert.Equal(ChildDigest, m.Manifests[0].Digest.ToString());
        Assert.Equal("ppc64le", m.Manifests[0].Platform!.Architecture);
        Assert.Equal("linux", m.Manifests[0].Platform!.Os);
        Assert.Equal("v8", m.Manifests[1].Platform!.Variant);
        Assert.Equal("6.1", m.Manifests[1].Platform!.OsVersion);
        Assert.Equal("value1", m.Annotations!["com.example.key1"]);
        Assert.Null(m.ArtifactType);
    }

    [Fact]
    public void Parse_DockerManifestList_IsIndex()
    {
        var m = Parse(DockerList, MediaTypes.DockerManifestList);

        Assert.Equal(MediaTypes.DockerManifestList, m.MediaType);
        Assert.True(m.IsIndex);
        Assert.Equal(MediaTypes.DockerManifest, Assert.Single(m.Manifests).MediaType);
    }

    [Fact]
    public void Parse_ArtifactManifest_ReadsArtifactTypeAndSubject()
    {
        var m = Parse(Artifact, MediaTypes.OciManifest);

        Assert.Equal("application/vnd.example.sbom.v1+json", m.ArtifactType);
        Assert.Equal(MediaTypes.OciEmpty, m.Config!.MediaType);
        Assert.NotNull(m.Subject);
        Assert.Equal(ChildDigest, m.Subject.Digest.ToString());
        Assert.Equal(MediaTypes.OciManifest, m.Subject.MediaType);
        Assert.Equal(7682, m.Subject.Size);
    }

    [Fact]
    public void Parse_ArtifactWithoutArtifactType_DefaultsToConfigMediaType()
    {
        string json = Artifact.Replace("\"artifactType\": \"application/vnd.example.sbom.v1+json\",", "", StringComparison.Ordinal)
            .Replace("application/vnd.oci.empty.v1+json", "application/vnd.example.config.v1+json", StringComparison.Ordinal);
        var m = Parse(json, MediaTypes.OciManifest);
        Assert.Equal("application/vnd.example.config.v1+json", m.ArtifactType);
        Assert.NotNull(m.Subject);
    }

    [Fact]
    public void Parse_IndexWithSubjectAndArtifactType_ReadsBoth()
    {
        string json = $$"""
            {
              "schemaVersion": 2,
              "mediaType": "application/vnd.oci.image.index.v1+json",
              "artifactType": "application/vnd.example.signatures",
              "manifests": [],
              "subject": { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "{{ChildDigest}}", "size": 10 }
            }
            """;
        var m = Parse(json);
        Assert.Equal("application/vnd.example.signatures", m.ArtifactType);
        Assert.Equal(ChildDigest, m.Subject!.Digest.ToString());
        Assert.Empty(m.Manifests);
    }

    [Fact]
    public void Parse_NullSubject_IsNoSubject()
    {
        string json = OciImage.Replace("\"schemaVersion\": 2,", "\"schemaVersion\": 2, \"subject\": null,", StringComparison.Ordinal);
        Assert.Null(Parse(json).Subject);
    }

    [Fact]
    public void Parse_DockerManifestWithArtifactType_Fails()
    {
        string json = DockerImage.Replace("\"schemaVersion\": 2,", "\"schemaVersion\": 2, \"artifactType\": \"application/x-foo\",", StringComparison.Ordinal);
        Assert.Contains("artifactType", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Schema1Manifest_FailsMentioningSchema1()
    {
        string json = """
            {
              "schemaVersion": 1,
              "name": "library/hello",
              "tag": "latest",
              "architecture": "amd64",
              "fsLayers": [ { "blobSum": "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4" } ],
              "history": [ { "v1Compatibility": "{}" } ]
            }
            """;
        Assert.Contains("schema1", ParseFails(json, MediaTypes.DockerSchema1Signed).Detail, StringComparison.Ordinal);
        Assert.Contains("schema1", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(MediaTypes.DockerSchema1)]
    [InlineData(MediaTypes.DockerSchema1Signed)]
    public void Parse_Schema1ContentTypeOnSchema2Body_FailsMentioningSchema1(string contentType)
    {
        Assert.Contains("schema1", ParseFails(DockerImage.Replace("\"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",", "", StringComparison.Ordinal), contentType).Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(MediaTypes.OciManifest, "DockerImage")]
    [InlineData(MediaTypes.DockerManifest, "OciImage")]
    [InlineData(MediaTypes.OciIndex, "OciImage")]
    [InlineData(MediaTypes.DockerManifestList, "OciIndex")]
    [InlineData(MediaTypes.OciManifest, "OciIndex")]
    public void Parse_ContentTypeDisagreesWithMediaType_Fails(string contentType, string body)
    {
        string json = body switch
        {
            "DockerImage" => DockerImage,
            "OciImage" => OciImage,
            _ => OciIndex,
        };
        var e = ParseFails(json, contentType);
        Assert.Contains("does not match Content-Type", e.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_NoMediaTypeButManifestContentType_TakesContentType()
    {
        string json = DockerImage.Replace("\"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",", "", StringComparison.Ordinal);
        Assert.Equal(MediaTypes.DockerManifest, Parse(json, MediaTypes.DockerManifest).MediaType);
    }

    [Fact]
    public void Parse_NoMediaTypeIndexContentTypeOnImageBody_Fails()
    {
        string json = OciImage.Replace("\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",", "", StringComparison.Ordinal);
        Assert.Contains("index", ParseFails(json, MediaTypes.OciIndex).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_NoMediaTypeNoContentTypeWithConfig_InfersOciManifest()
    {
        string json = OciImage.Replace("\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",", "", StringComparison.Ordinal);
        Assert.DoesNotContain("\"mediaType\": \"application/vnd.oci.image.manifest", json, StringComparison.Ordinal);
        Assert.Equal(MediaTypes.OciManifest, Parse(json).MediaType);
        Assert.Equal(MediaTypes.OciManifest, Parse(json, "application/octet-stream").MediaType);
    }

    [Fact]
    public void Parse_NoMediaTypeNoContentTypeWithManifests_InfersOciIndex()
    {
        string json = OciIndex.Replace("\"mediaType\": \"application/vnd.oci.image.index.v1+json\",", "", StringComparison.Ordinal);
        var m = Parse(json, "");
        Assert.Equal(MediaTypes.OciIndex, m.MediaType);
        Assert.True(m.IsIndex);
    }

    [Fact]
    public void Parse_NoMediaTypeNoConfigNoManifests_Fails()
    {
        Assert.Contains("media type", ParseFails("""{ "schemaVersion": 2, "layers": [] }""").Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("application/vnd.oci.image.config.v1+json")]
    [InlineData("application/json")]
    [InlineData("text/plain")]
    public void Parse_BodyMediaTypeNotAManifest_Fails(string mediaType)
    {
        string json = OciImage.Replace("application/vnd.oci.image.manifest.v1+json", mediaType, StringComparison.Ordinal);
        Assert.Contains("not a manifest type", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_MissingConfig_Fails()
    {
        string json = $$"""
            {
              "schemaVersion": 2,
              "mediaType": "application/vnd.oci.image.manifest.v1+json",
              "layers": [ { "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "{{LayerDigest}}", "size": 1 } ]
            }
            """;
        Assert.Contains("config", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ConfigNotAnObject_Fails()
    {
        string json = """{ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": "sha256:x", "layers": [] }""";
        Assert.Contains("config", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DockerManifestWithoutLayers_Fails()
    {
        string json = $$"""
            { "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
              "config": { "mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": "{{ConfigDigest}}" } }
            """;
        Assert.Contains("layers", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sha256:B5B2B2C507A0944348E0303114D8D93AAAA081732B86451D9BCE1F432A537BC7")]
    [InlineData("sha256:b5b2b2c507a0944348e0303114d8d93a")]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7")]
    [InlineData("")]
    public void Parse_BadDigestInLayer_FailsNamingTheLayer(string digest)
    {
        string json = OciImage.Replace(LayerDigest, digest, StringComparison.Ordinal);
        Assert.Contains("layers[0]", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BadDigestInConfig_FailsNamingConfig()
    {
        string json = OciImage.Replace(ConfigDigest, "sha256:nothex", StringComparison.Ordinal);
        Assert.Contains("config", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BadDigestInIndexEntry_Fails()
    {
        string json = OciIndex.Replace(OtherDigest, "sha256:123", StringComparison.Ordinal);
        Assert.Contains("manifests[1]", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BadDigestInSubject_Fails()
    {
        string json = Artifact.Replace(ChildDigest, "sha256:zz", StringComparison.Ordinal);
        Assert.Contains("subject", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DigestNotAString_Fails()
    {
        string json = OciImage.Replace($"\"{LayerDigest}\"", "42", StringComparison.Ordinal);
        ParseFails(json);
    }

    [Fact]
    public void Parse_DescriptorWithoutDigest_Fails()
    {
        string json = OciImage.Replace($"\"digest\": \"{LayerDigest}\", ", "", StringComparison.Ordinal);
        Assert.Contains("no digest", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("-32654")]
    [InlineData("1.5")]
    [InlineData("\"32654\"")]
    [InlineData("null")]
    [InlineData("1e400")]
    [InlineData("18446744073709551616")]
    public void Parse_InvalidSize_Fails(string size)
    {
        string json = OciImage.Replace("\"size\": 32654", "\"size\": " + size, StringComparison.Ordinal);
        Assert.Contains("layers[0] has no valid size", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ZeroSize_IsAccepted()
    {
        string json = OciImage.Replace("\"size\": 32654", "\"size\": 0", StringComparison.Ordinal);
        Assert.Equal(0, Parse(json).Layers[0].Size);
    }

    [Theory]
    [InlineData("no-slash")]
    [InlineData("application/")]
    [InlineData("/json")]
    [InlineData("a/b/c")]
    [InlineData("application/vnd example")]
    [InlineData("")]
    public void Parse_DescriptorMediaTypeNotTypeSubtype_Fails(string mediaType)
    {
        string json = OciImage.Replace("application/vnd.oci.image.layer.v1.tar+gzip", mediaType, StringComparison.Ordinal);
        Assert.Contains("layers[0]", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_PlatformWithoutOs_Fails()
    {
        string json = OciIndex.Replace("\"architecture\": \"ppc64le\", \"os\": \"linux\"", "\"architecture\": \"ppc64le\"", StringComparison.Ordinal);
        Assert.Contains("os", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{")]
    [InlineData("")]
    [InlineData("{\"schemaVersion\": 2,}")]
    [InlineData("{'schemaVersion': 2}")]
    [InlineData("{\"schemaVersion\": 2 /* comment */}")]
    [InlineData("\uFEFF\uFEFF{}")]
    public void Parse_InvalidJson_Fails(string json)
    {
        Assert.Contains("not valid JSON", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_TrailingContentAfterObject_FailsAsInvalidJson()
    {
        // RFC 8259: a JSON text is one value; a second one (or garbage) after it is not JSON.
        Assert.Contains("not valid JSON", ParseFails(OciImage + " {}").Detail, StringComparison.Ordinal);
        Assert.Contains("not valid JSON", ParseFails(OciImage + "garbage").Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_TrailingWhitespace_IsAccepted()
    {
        Assert.Equal(MediaTypes.OciManifest, Parse(OciImage + "\n\t  \r\n").MediaType);
    }

    [Fact]
    public void Parse_InvalidUtf8InString_FailsAsManifestInvalid()
    {
        byte[] body = Encoding.UTF8.GetBytes(OciImage.Replace("\"value1\"", "\"vXalue1\"", StringComparison.Ordinal));
        int x = Array.IndexOf(body, (byte)'X');
        body[x] = 0xFF;
        ParseFails(body);
    }

    [Fact]
    public void Parse_DeeplyNestedJson_FailsAsManifestInvalid()
    {
        string json = "{\"schemaVersion\":2,\"x\":" + new string('[', 200) + new string(']', 200) + "}";
        ParseFails(json);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("[{\"schemaVersion\": 2}]")]
    [InlineData("\"manifest\"")]
    [InlineData("42")]
    [InlineData("null")]
    [InlineData("true")]
    public void Parse_NonObjectJson_Fails(string json)
    {
        Assert.Contains("JSON object", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\"schemaVersion\": \"2\",")]
    [InlineData("\"schemaVersion\": 2.5,")]
    [InlineData("\"schemaVersion\": null,")]
    public void Parse_MissingOrNonIntegerSchemaVersion_Fails(string schemaVersion)
    {
        string json = OciImage.Replace("\"schemaVersion\": 2,", schemaVersion, StringComparison.Ordinal);
        Assert.Contains("schemaVersion", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SchemaVersion3_Fails()
    {
        string json = OciImage.Replace("\"schemaVersion\": 2,", "\"schemaVersion\": 3,", StringComparison.Ordinal);
        Assert.Contains("schemaVersion 3", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_IndexWithLayers_Fails()
    {
        string json = OciIndex.Replace("\"manifests\": [", $$"""
            "layers": [ { "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "{{LayerDigest}}", "size": 1 } ],
            "manifests": [
            """, StringComparison.Ordinal);
        Assert.Contains("must not have config or layers", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_IndexWithConfig_Fails()
    {
        string json = OciIndex.Replace("\"manifests\": [", $$"""
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": "{{ConfigDigest}}", "size": 1 },
            "manifests": [
            """, StringComparison.Ordinal);
        Assert.Contains("must not have config or layers", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_IndexWithoutManifests_Fails()
    {
        Assert.Contains("manifests", ParseFails("""{ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json" }""").Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_IndexManifestsNotAnArray_Fails()
    {
        Assert.Contains("array", ParseFails("""{ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": {} }""").Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ImageManifestWithManifests_Fails()
    {
        string json = OciImage.Replace("\"layers\": [", "\"manifests\": [], \"layers\": [", StringComparison.Ordinal);
        Assert.Contains("must not have manifests", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BodyOverFourMebibytes_Fails()
    {
        byte[] body = new byte[MediaTypes.MaxManifestBytes + 1];
        Array.Fill(body, (byte)' ');
        Encoding.UTF8.GetBytes(OciImage).CopyTo(body, 0);
        Assert.Contains("larger than", ParseFails(body).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BodyOfExactlyFourMebibytes_IsAccepted()
    {
        byte[] body = new byte[MediaTypes.MaxManifestBytes];
        Array.Fill(body, (byte)' ');
        Encoding.UTF8.GetBytes(OciImage).CopyTo(body, 0);
        Assert.Equal(MediaTypes.OciManifest, ManifestParser.Parse(body, null).MediaType);
    }

    [Theory]
    [InlineData("{ \"k\": 1 }")]
    [InlineData("{ \"k\": true }")]
    [InlineData("{ \"k\": { \"nested\": \"v\" } }")]
    [InlineData("{ \"k\": [\"v\"] }")]
    [InlineData("[\"k\"]")]
    [InlineData("\"k=v\"")]
    public void Parse_AnnotationsNotStrings_Fails(string annotations)
    {
        string json = OciImage.Replace("{ \"com.example.key1\": \"value1\", \"com.example.key2\": \"value2\" }", annotations, StringComparison.Ordinal);
        Assert.Contains("annotation", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DescriptorAnnotationsNotStrings_Fails()
    {
        string json = OciImage.Replace("\"layer2\"", "2", StringComparison.Ordinal);
        Assert.Contains("org.opencontainers.image.title", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_MediaTypeNotAString_Fails()
    {
        string json = OciImage.Replace("\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\"", "\"mediaType\": 2", StringComparison.Ordinal);
        Assert.Contains("mediaType", ParseFails(json).Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("   ", null)]
    [InlineData("application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.manifest.v1+json")]
    [InlineData("application/vnd.oci.image.manifest.v1+json; charset=utf-8", "application/vnd.oci.image.manifest.v1+json")]
    [InlineData("  application/json ;q=1", "application/json")]
    public void NormalizeContentType_Header_StripsParametersAndBlanks(string? header, string? expected)
    {
        Assert.Equal(expected, ManifestParser.NormalizeContentType(header));
    }
}
