using System.Text.Json;
using Wharf.IntegrationTests.Images;
using Wharf.IntegrationTests.Infrastructure;

namespace Wharf.IntegrationTests;

/// <summary>skopeo, the reference client of containers/image, pushing to and pulling from the registry under test.</summary>
[Collection(RegistryCollection.Name)]
public sealed class SkopeoInteropTests(RegistryFixture fixture, ITestOutputHelper output) : RegistryTestBase(fixture, output)
{
    [SkopeoFact]
    public async Task Copy_OciLayoutToRegistryAndBack_ManifestBytesAndBlobDigestsMatch()
    {
        var layout = new OciLayoutBuilder(Scratch.Sub("source"));
        var image = await layout.AddImageAsync([64 * 1024, 700 * 1024, 1]);
        layout.Tag("v1", image.Manifest);
        var repository = NewRepository();

        var push = await Skopeo.CopyAsync(layout.Reference("v1"), DockerRef(repository, "v1"));
        Assert.True(push.Succeeded, push.ToString());

        Assert.Equal(image.ManifestBytes, await Skopeo.InspectRawAsync(DockerRef(repository, "v1")));
        Assert.Equal(image.ManifestBytes, await Skopeo.InspectRawAsync(DockerRef(repository, image.Manifest.Digest)));

        var back = Path.Combine(Scratch.Path, "pulled");
        var pull = await Skopeo.CopyAsync(DockerRef(repository, "v1"), $"oci:{back}:v1");
        Assert.True(pull.Succeeded, pull.ToString());
        Assert.Equal(image.Manifest.Digest, OciLayoutReader.DigestOfTag(back, "v1"));
        foreach (var blob in image.Blobs)
        {
            Assert.Equal(blob.Digest, OciLayoutReader.HashBlob(back, blob.Digest));
        }
    }

    [SkopeoFact]
    public async Task CopyAll_MultiPlatformIndex_IndexAndEveryChildServedByteForByte()
    {
        var layout = new OciLayoutBuilder(Scratch.Sub("source"));
        var amd64 = await layout.AddImageAsync([128 * 1024, 16 * 1024], "amd64");
        var arm64 = await layout.AddImageAsync([96 * 1024], "arm64");
        var index = layout.AddIndex([amd64, arm64]);
        layout.Tag("multi", index.Index);
        var repository = NewRepository();

        var push = await Skopeo.CopyAsync(layout.Reference("multi"), DockerRef(repository, "multi"), "--all");
        Assert.True(push.Succeeded, push.ToString());

        Assert.Equal(index.IndexBytes, await Skopeo.InspectRawAsync(DockerRef(repository, "multi")));
        Assert.Equal(index.IndexBytes, await Skopeo.InspectRawAsync(DockerRef(repository, index.Index.Digest)));
        foreach (var child in index.Images)
        {
            Assert.Equal(child.ManifestBytes, await Skopeo.InspectRawAsync(DockerRef(repository, child.Manifest.Digest)));
        }

        // A client on arm64 resolves the index to its own child and gets that child's layers.
        var back = Path.Combine(Scratch.Path, "pulled-arm64");
        var pull = await Skopeo.RunAsync("--override-arch", "arm64", "--override-variant", "v8",
            "copy", "--src-tls-verify=false", DockerRef(repository, "multi"), $"oci:{back}:arm");
        Assert.True(pull.Succeeded, pull.ToString());
        Assert.Equal(arm64.Manifest.Digest, OciLayoutReader.DigestOfTag(back, "arm"));
        foreach (var blob in arm64.Blobs)
        {
            Assert.Equal(blob.Digest, OciLayoutReader.HashBlob(back, blob.Digest));
        }
    }

    [SkopeoFact]
    public async Task ListTags_TwoTagsPushed_ListsExactlyThoseTags()
    {
        var layout = new OciLayoutBuilder(Scratch.Sub("source"));
        var first = await layout.AddImageAsync([32 * 1024]);
        var second = await layout.AddImageAsync([32 * 1024]);
        layout.Tag("1.0", first.Manifest);
        layout.Tag("latest", second.Manifest);
        var repository = NewRepository();
        foreach (var tag in new[] { "1.0", "latest" })
        {
            var push = await Skopeo.CopyAsync(layout.Reference(tag), DockerRef(repository, tag));
            Assert.True(push.Succeeded, push.ToString());
        }

        var list = await Skopeo.MustRunAsync("list-tags", "--tls-verify=false", $"docker://{Server.Host}/{repository}");

        using var json = JsonDocument.Parse(list.StandardOutputBytes);
        var tags = json.RootElement.GetProperty("Tags").EnumerateArray().Select(t => t.GetString()).Order(StringComparer.Ordinal);
        Assert.Equal(["1.0", "latest"], tags);
    }

    [SkopeoFact]
    public async Task Delete_ManifestByDigest_PullByDigestAndTagFailAfterwards()
    {
        var layout = new OciLayoutBuilder(Scratch.Sub("source"));
        var image = await layout.AddImageAsync([48 * 1024]);
        layout.Tag("doomed", image.Manifest);
        var repository = NewRepository();
        var push = await Skopeo.CopyAsync(layout.Reference("doomed"), DockerRef(repository, "doomed"));
        Assert.True(push.Succeeded, push.ToString());

        var delete = await Skopeo.RunAsync("delete", "--tls-verify=false", DockerRef(repository, image.Manifest.Digest));
        Assert.True(delete.Succeeded, delete.ToString());

        var byDigest = await Skopeo.CopyAsync(DockerRef(repository, image.Manifest.Digest), $"oci:{Path.Combine(Scratch.Path, "a")}:x");
        Assert.False(byDigest.Succeeded, "pull by digest still works after the manifest was deleted");
        Assert.Contains("manifest unknown", byDigest.StandardError, StringComparison.OrdinalIgnoreCase);
        var byTag = await Skopeo.CopyAsync(DockerRef(repository, "doomed"), $"oci:{Path.Combine(Scratch.Path, "b")}:x");
        Assert.False(byTag.Succeeded, "the tag still resolves after the manifest it named was deleted");
    }

    [SkopeoFact]
    public async Task Copy_TwoPushesOfOneImageAtOnce_BothSucceedAndImageIsWhole()
    {
        var layout = new OciLayoutBuilder(Scratch.Sub("source"));
        var image = await layout.AddImageAsync([2 * 1024 * 1024, 1024 * 1024, 512 * 1024, 256 * 1024]);
        layout.Tag("race", image.Manifest);
        var repository = NewRepository();

        var pushes = await Task.WhenAll(
            Skopeo.CopyAsync(layout.Reference("race"), DockerRef(repository, "race")),
            Skopeo.CopyAsync(layout.Reference("race"), DockerRef(repository, "race")));

        Assert.All(pushes, push => Assert.True(push.Succeeded, push.ToString()));
        Assert.Equal(image.ManifestBytes, await Skopeo.InspectRawAsync(DockerRef(repository, "race")));
        var back = Path.Combine(Scratch.Path, "pulled");
        var pull = await Skopeo.CopyAsync(DockerRef(repository, "race"), $"oci:{back}:race");
        Assert.True(pull.Succeeded, pull.ToString());
        foreach (var blob in image.Blobs)
        {
            Assert.Equal(blob.Digest, OciLayoutReader.HashBlob(back, blob.Digest));
        }
    }

    [SkopeoFact]
    public async Task Copy_TagPushedAgainWithNewImage_PullGetsNewImageAndOldStaysByDigest()
    {
        var layout = new OciLayoutBuilder(Scratch.Sub("source"));
        var old = await layout.AddImageAsync([32 * 1024]);
        var fresh = await layout.AddImageAsync([32 * 1024]);
        layout.Tag("old", old.Manifest);
        layout.Tag("fresh", fresh.Manifest);
        var repository = NewRepository();

        var first = await Skopeo.CopyAsync(layout.Reference("old"), DockerRef(repository, "latest"));
        Assert.True(first.Succeeded, first.ToString());
        var second = await Skopeo.CopyAsync(layout.Reference("fresh"), DockerRef(repository, "latest"));
        Assert.True(second.Succeeded, second.ToString());

        Assert.Equal(fresh.ManifestBytes, await Skopeo.InspectRawAsync(DockerRef(repository, "latest")));
        Assert.Equal(old.ManifestBytes, await Skopeo.InspectRawAsync(DockerRef(repository, old.Manifest.Digest)));
    }

    [SkopeoFact]
    public async Task Copy_TwoImagesSharingBaseLayersIntoTwoRepositoriesAtOnce_BothPullWhole()
    {
        var layout = new OciLayoutBuilder(Scratch.Sub("source"));
        var baseImage = await layout.AddImageAsync([1024 * 1024, 512 * 1024]);
        var app1 = await layout.AddImageAsync([64 * 1024], baseImage: baseImage);
        var app2 = await layout.AddImageAsync([64 * 1024], baseImage: baseImage);
        layout.Tag("app1", app1.Manifest);
        layout.Tag("app2", app2.Manifest);
        var (repository1, repository2) = (NewRepository("team"), NewRepository("other"));

        var pushes = await Task.WhenAll(
            Skopeo.CopyAsync(layout.Reference("app1"), DockerRef(repository1, "1")),
            Skopeo.CopyAsync(layout.Reference("app2"), DockerRef(repository2, "1")));

        Assert.All(pushes, push => Assert.True(push.Succeeded, push.ToString()));
        foreach (var (repository, image) in new[] { (repository1, app1), (repository2, app2) })
        {
            var back = Path.Combine(Scratch.Path, "pulled-" + repository.Replace('/', '-'));
            var pull = await Skopeo.CopyAsync(DockerRef(repository, "1"), $"oci:{back}:1");
            Assert.True(pull.Succeeded, pull.ToString());
            foreach (var blob in image.Blobs)
            {
                Assert.Equal(blob.Digest, OciLayoutReader.HashBlob(back, blob.Digest));
            }
        }
    }

    [SkopeoFact]
    public async Task Copy_LayerLargerThanDefaultRequestBodyLimit_RoundTripsIntact()
    {
        // wharfd caps request bodies at 32 MiB except where blobs are received, and skopeo sends a
        // layer as one PATCH: a 40 MiB layer shows the cap is lifted on the upload endpoints.
        var layout = new OciLayoutBuilder(Scratch.Sub("source"));
        var image = await layout.AddImageAsync([40L * 1024 * 1024]);
        layout.Tag("large", image.Manifest);
        var repository = NewRepository();

        var push = await Skopeo.CopyAsync(layout.Reference("large"), DockerRef(repository, "large"));
        Assert.True(push.Succeeded, push.ToString());

        var back = Path.Combine(Scratch.Path, "pulled");
        var pull = await Skopeo.CopyAsync(DockerRef(repository, "large"), $"oci:{back}:large");
        Assert.True(pull.Succeeded, pull.ToString());
        foreach (var blob in image.Blobs)
        {
            Assert.Equal(blob.Digest, OciLayoutReader.HashBlob(back, blob.Digest));
        }
    }
}
