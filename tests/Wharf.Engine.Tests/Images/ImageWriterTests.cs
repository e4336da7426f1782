using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Wharf.Engine.Containers;
using Wharf.Engine.Images;
using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine.Tests.Images;

/// <summary>The one image writer: config and manifest bytes, digests, media types, layers from a diff.</summary>
public sealed class ImageWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-writer-").FullName;
    private readonly ImageStore _store;
    private readonly ImageWriter _writer;

    public ImageWriterTests()
    {
        _store = new ImageStore(Path.Combine(_dir, "graph"));
        _writer = new ImageWriter(_store);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ImageConfig Config() => new()
    {
        Created = "2026-01-02T03:04:05.1234567Z",
        Architecture = "amd64",
        Os = "linux",
        Config = new ContainerConfig { Env = ["PATH=/bin", "A=1"], Cmd = ["sh"] },
        RootFs = new RootFs { DiffIds = ["sha256:" + new string('a', 64)] },
        History = [new HistoryEntry { Created = "2026-01-02T03:04:05.1234567Z", CreatedBy = "/bin/sh -c #(nop) CMD [\"sh\"]", EmptyLayer = true }],
    };

    private static Descriptor GzipLayer(string mediaType = MediaTypes.OciLayerGzip) =>
        new() { MediaType = mediaType, Digest = Digest.Parse("sha256:" + new string('b', 64)), Size = 10 };

    [Fact]
    public void Serialize_Config_FieldsInSpecOrder()
    {
        string json = Encoding.UTF8.GetString(ImageWriter.Serialize(Config() with { Author = "Jane" }));

        Assert.Equal(
            "{\"created\":\"2026-01-02T03:04:05.1234567Z\",\"author\":\"Jane\",\"architecture\":\"amd64\",\"os\":\"linux\","
            + "\"config\":{\"Env\":[\"PATH=/bin\",\"A=1\"],\"Cmd\":[\"sh\"]},"
            + "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:" + new string('a', 64) + "\"]},"
            + "\"history\":[{\"created\":\"2026-01-02T03:04:05.1234567Z\",\"created_by\":\"/bin/sh -c #(nop) CMD [\\\"sh\\\"]\",\"empty_layer\":true}]}",
            json);
    }

    [Fact]
    public void ParseConfig_UnknownFieldsAndNanosecondTimes_WrittenBackUnchanged()
    {
        const string original = "{\"created\":\"2024-01-26T23:44:52.034535419Z\",\"architecture\":\"arm64\",\"os\":\"linux\","
            + "\"config\":{\"Env\":[\"A=1\"],\"Hostname\":\"abc\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},"
            + "\"history\":[{\"created\":\"2024-01-26T23:44:52.034535419Z\",\"created_by\":\"x\"}],\"docker_version\":\"20.10\"}";

        var config = ImageWriter.ParseConfig(Encoding.UTF8.GetBytes(original));

        Assert.Equal(original, Encoding.UTF8.GetString(ImageWriter.Serialize(config)));
        Assert.Equal(new DateTimeOffset(2024, 1, 26, 23, 44, 52, TimeSpan.Zero).AddTicks(345354), config.CreatedTime);
    }

    [Fact]
    public async Task WriteAsync_Oci_DigestsOverStoredBytes()
    {
        var image = await _writer.WriteAsync(Config(), [GzipLayer()], ImageFormat.Oci, default);

        byte[] configBytes = _store.ReadBlob(image.Config.Digest);
        byte[] manifestBytes = _store.ReadBlob(image.Manifest.Digest);
        Assert.Equal(image.Config.Digest.ToString(), "sha256:" + Convert.ToHexStringLower(SHA256.HashData(configBytes)));
        Assert.Equal(image.Manifest.Digest.ToString(), "sha256:" + Convert.ToHexStringLower(SHA256.HashData(manifestBytes)));
        Assert.Equal(configBytes.Length, image.Config.Size);
        Assert.Equal(ImageWriter.Serialize(Config()), configBytes);
        Assert.Equal(
            "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
            + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + image.Config.Digest + "\",\"size\":" + configBytes.Length + "},"
            + "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:" + new string('b', 64) + "\",\"size\":10}]}",
            Encoding.UTF8.GetString(manifestBytes));
        Assert.Equal(image.Config.Digest.Encoded, image.Id);
    }

    [Fact]
    public async Task WriteAsync_Docker_ManifestConfigAndLayerTypesConverted()
    {
        var image = await _writer.WriteAsync(Config(), [GzipLayer()], ImageFormat.Docker, default);

        var manifest = JsonNode.Parse(_store.ReadBlob(image.Manifest.Digest))!;
        Assert.Equal(MediaTypes.DockerManifest, manifest["mediaType"]!.GetValue<string>());
        Assert.Equal(MediaTypes.DockerConfig, manifest["config"]!["mediaType"]!.GetValue<string>());
        Assert.Equal(MediaTypes.DockerLayerGzip, manifest["layers"]![0]!["mediaType"]!.GetValue<string>());
    }

    [Fact]
    public async Task WriteConfigAsync_GivenBytes_StoredAsGiven()
    {
        // load keeps an archive's config bytes, whatever their spacing, so the image ID does not change.
        byte[] bytes = Encoding.UTF8.GetBytes("{ \"architecture\": \"amd64\", \"os\": \"linux\", \"rootfs\": {\"type\": \"layers\", \"diff_ids\": []} }");

        var descriptor = await _writer.WriteConfigAsync(bytes, ImageFormat.Oci, default);

        Assert.Equal(bytes, _store.ReadBlob(descriptor.Digest));
        Assert.Equal(Digest.Compute(bytes), descriptor.Digest);
    }

    [Theory]
    [InlineData(MediaTypes.OciLayerGzip, ImageFormat.Docker, MediaTypes.DockerLayerGzip)]
    [InlineData(MediaTypes.DockerLayerGzip, ImageFormat.Oci, MediaTypes.OciLayerGzip)]
    [InlineData(MediaTypes.OciLayerGzip, ImageFormat.Oci, MediaTypes.OciLayerGzip)]
    [InlineData(MediaTypes.OciLayerZstd, ImageFormat.Oci, MediaTypes.OciLayerZstd)]
    [InlineData(MediaTypes.DockerForeignLayerGzip, ImageFormat.Docker, MediaTypes.DockerForeignLayerGzip)]
    public void ConvertLayer_EachFormat_ExpectedType(string from, ImageFormat format, string expected) =>
        Assert.Equal(expected, ImageFormats.ConvertLayer(from, format));

    [Theory]
    [InlineData(MediaTypes.OciLayerZstd)]
    [InlineData(MediaTypes.OciLayerTar)]
    public void ConvertLayer_NoDockerEquivalent_Throws(string mediaType) =>
        Assert.Throws<WharfException>(() => ImageFormats.ConvertLayer(mediaType, ImageFormat.Docker));

    [Fact]
    public void Parse_UnknownFormat_PodmanMessage()
    {
        var e = Assert.Throws<WharfException>(() => ImageFormats.Parse("v1"));
        Assert.Equal("unrecognized image type \"v1\"", e.Message);
    }

    [Fact]
    public async Task FromChangesAsync_Directory_DigestsSizeAndDiffId()
    {
        string upper = Path.Combine(_dir, "upper");
        Directory.CreateDirectory(Path.Combine(upper, "etc"));
        await File.WriteAllTextAsync(Path.Combine(upper, "etc", "motd"), "hello\n");
        var changes = ContainerChanges.Compute(upper, [], [], []);

        string blob = Path.Combine(_dir, "layer.tar.gz");
        var layer = await Layer.FromChangesAsync(changes, blob, ImageFormat.Docker, default);

        byte[] compressed = await File.ReadAllBytesAsync(blob);
        Assert.Equal(MediaTypes.DockerLayerGzip, layer.Blob.MediaType);
        Assert.Equal(compressed.Length, layer.Blob.Size);
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(compressed)), layer.Blob.Digest.ToString());
        using var tar = new MemoryStream();
        using (var gz = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress))
        {
            await gz.CopyToAsync(tar);
        }

        Assert.Equal(tar.Length, layer.UncompressedSize);
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(tar.ToArray())), layer.DiffId.ToString());
        tar.Position = 0;
        var names = new List<string>();
        using (var reader = new TarReader(tar))
        {
            while (reader.GetNextEntry() is { } e)
            {
                names.Add(e.Name);
            }
        }

        Assert.Equal(["etc/", "etc/motd"], names);
    }

    [Fact]
    public async Task Register_NameTakenFromAnotherImage_MovesToNewImage()
    {
        var first = await _writer.WriteAsync(Config() with { Author = "one" }, [], ImageFormat.Oci, default);
        _writer.Register(first, "localhost/x:1", [], TimeProvider.System);
        var second = await _writer.WriteAsync(Config() with { Author = "two" }, [], ImageFormat.Oci, default);

        var record = _writer.Register(second, "localhost/x:1", ["registry.example/a"], TimeProvider.System);

        var images = _store.ReadImages();
        Assert.Empty(images.Single(i => i.Id == first.Id).Names);
        Assert.Equal(["localhost/x:1"], images.Single(i => i.Id == second.Id).Names);
        Assert.Equal(["registry.example/a"], record.Locations);
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(1234567), record.Created);
        Assert.Equal([second.Config.Digest.ToString()], record.Blobs);
    }

    [Fact]
    public void WithEnv_ExistingVariable_ReplacedInPlace()
    {
        var run = new ContainerConfig { Env = ["PATH=/bin", "X=old", "Y=1"] };

        var changed = run.WithEnv([("X", "new"), ("Z", "2")]);

        Assert.Equal(["PATH=/bin", "X=new", "Y=1", "Z=2"], changed.Env);
    }
}
