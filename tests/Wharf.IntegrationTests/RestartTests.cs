using Wharf.IntegrationTests.Images;
using Wharf.IntegrationTests.Infrastructure;

namespace Wharf.IntegrationTests;

/// <summary>A registry of its own, killed and started again on the same data directory.</summary>
public sealed class RestartTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TempDirectory _scratch = new("wharf-it-restart");
    private readonly Skopeo _skopeo = new(output);
    private RegistryServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = RegistryServer.Create(Path.Combine(_scratch.Path, "data"));
        await _server.StartAsync();
    }

    public async Task DisposeAsync()
    {
        output.WriteLine(_server.Logs);
        await _server.DisposeAsync();
        _scratch.Dispose();
    }

    [SkopeoFact]
    public async Task Restart_KilledThenStartedOnSameDataDir_ServesImagesPushedBeforeAndAfter()
    {
        var layout = new OciLayoutBuilder(_scratch.Sub("source"));
        var before = await layout.AddImageAsync([256 * 1024, 64 * 1024]);
        var after = await layout.AddImageAsync([128 * 1024]);
        layout.Tag("before", before.Manifest);
        layout.Tag("after", after.Manifest);
        var repository = $"library/restart";
        string Ref(string tag) => $"docker://{_server.Host}/{repository}:{tag}";

        var first = await _skopeo.CopyAsync(layout.Reference("before"), Ref("before"));
        Assert.True(first.Succeeded, first.ToString());

        await _server.RestartAsync();

        Assert.Equal(before.ManifestBytes, await _skopeo.InspectRawAsync(Ref("before")));
        var second = await _skopeo.CopyAsync(layout.Reference("after"), Ref("after"));
        Assert.True(second.Succeeded, second.ToString());

        await _server.RestartAsync();

        foreach (var (tag, image) in new[] { ("before", before), ("after", after) })
        {
            var back = Path.Combine(_scratch.Path, "pulled-" + tag);
            var pull = await _skopeo.CopyAsync(Ref(tag), $"oci:{back}:{tag}");
            Assert.True(pull.Succeeded, pull.ToString());
            Assert.Equal(image.Manifest.Digest, OciLayoutReader.DigestOfTag(back, tag));
            foreach (var blob in image.Blobs)
            {
                Assert.Equal(blob.Digest, OciLayoutReader.HashBlob(back, blob.Digest));
            }
        }
    }
}
