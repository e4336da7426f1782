using System.Formats.Tar;
using System.Net.Http.Headers;
using System.Text.Json;
using Wharf.IntegrationTests.Infrastructure;

namespace Wharf.IntegrationTests;

/// <summary>
/// podman pushing an image from its own store and pulling it into another, as a user on the cluster
/// would. Each podman store is private to the test (vfs driver, own root and runroot).
/// </summary>
[Collection(RegistryCollection.Name)]
public sealed class PodmanInteropTests(RegistryFixture fixture, ITestOutputHelper output) : RegistryTestBase(fixture, output)
{
    private const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    private const string OciManifest = "application/vnd.oci.image.manifest.v1+json";

    [PodmanFact]
    public async Task Push_ImportedImage_PullIntoFreshStoreShowsSameDigestAndLayers()
    {
        var (pusher, local) = await ImportImageAsync();
        var remote = $"{Server.Host}/{NewRepository()}:1";
        var digestFile = Path.Combine(Scratch.Path, "digest");

        await pusher.MustRunAsync("push", "--tls-verify=false", "--digestfile", digestFile, local, remote);

        var puller = NewPodman("puller");
        await puller.MustRunAsync("pull", "--tls-verify=false", remote);
        var pushed = await InspectAsync(pusher, local);
        var pulled = await InspectAsync(puller, remote);
        Assert.Equal(File.ReadAllText(digestFile).Trim(), pulled.Digest);
        Assert.Equal(pushed.Id, pulled.Id);
        Assert.Equal(pushed.Layers, pulled.Layers);
    }

    [PodmanFact]
    public Task Push_FormatOci_RegistryServesOciManifestThatPullsBack() => PushWithFormatAsync("oci", OciManifest);

    [PodmanFact]
    public Task Push_FormatV2s2_RegistryServesDockerManifestThatPullsBack() => PushWithFormatAsync("v2s2", DockerManifest);

    [PodmanFact]
    public async Task Push_SameImageToSecondRepository_LayerIsMountedNotUploadedAgain()
    {
        var (pusher, local) = await ImportImageAsync();
        var first = $"{Server.Host}/{NewRepository("team")}:1";
        var second = $"{Server.Host}/{NewRepository("other")}:1";
        await pusher.MustRunAsync("push", "--tls-verify=false", local, first);

        var push = await pusher.MustRunAsync("push", "--tls-verify=false", "--log-level=debug", local, second);

        // containers/image remembers where it pushed the layer and asks the registry to mount it from
        // there (POST ...uploads/?mount=&from=, distribution spec "Mounting a blob from another repository");
        // "mount OK" is its note that the registry answered 201 and no byte of the layer was sent again.
        Assert.True(push.StandardError.Contains("mount OK", StringComparison.Ordinal)
                    || push.StandardError.Contains("skipped: already exists", StringComparison.Ordinal),
            "the second push uploaded the layer again instead of mounting it\n" + push);
        var puller = NewPodman("puller");
        await puller.MustRunAsync("pull", "--tls-verify=false", second);
        Assert.Equal((await InspectAsync(pusher, local)).Layers, (await InspectAsync(puller, second)).Layers);
    }

    [PodmanFact]
    public async Task Search_PushedRepository_FoundByNameFragmentWithItsTags()
    {
        var (pusher, local) = await ImportImageAsync();
        var repository = NewRepository("team");
        var decoy = NewRepository("team");
        await pusher.MustRunAsync("push", "--tls-verify=false", local, $"{Server.Host}/{repository}:1.0");
        await pusher.MustRunAsync("push", "--tls-verify=false", local, $"{Server.Host}/{decoy}:1.0");
        var fragment = repository[(repository.LastIndexOf('-') + 1)..];

        // No v1 search here: podman falls back to the catalog and filters it (GET /v2/_catalog).
        var search = await pusher.MustRunAsync("search", "--tls-verify=false", "--format", "{{.Name}}", $"{Server.Host}/{fragment}");
        Assert.Equal([$"{Server.Host}/{repository}"], search.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        // podman 4.3 prints --list-tags as a NAME/TAG table whatever --format says.
        var tags = await pusher.MustRunAsync("search", "--tls-verify=false", "--list-tags", $"{Server.Host}/{repository}");
        var rows = tags.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal([$"{Server.Host}/{repository} 1.0"], rows.Select(cells => string.Join(' ', cells)));
    }

    private async Task PushWithFormatAsync(string format, string expectedMediaType)
    {
        var (pusher, local) = await ImportImageAsync();
        var repository = NewRepository();
        var remote = $"{Server.Host}/{repository}:{format}";

        await pusher.MustRunAsync("push", "--tls-verify=false", "--format", format, local, remote);

        using var http = new HttpClient { BaseAddress = Server.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v2/{repository}/manifests/{format}");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(OciManifest));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(DockerManifest));
        using var response = await http.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, $"GET manifest answered {(int)response.StatusCode}");
        Assert.Equal(expectedMediaType, response.Content.Headers.ContentType?.MediaType);

        var puller = NewPodman("puller");
        await puller.MustRunAsync("pull", "--tls-verify=false", remote);
        Assert.Equal((await InspectAsync(pusher, local)).Layers, (await InspectAsync(puller, remote)).Layers);
    }

    /// <summary>Makes a local image the way a user without a base image would: <c>podman import</c> of a root filesystem tar.</summary>
    private async Task<(Podman Store, string Name)> ImportImageAsync()
    {
        var rootfs = Path.Combine(Scratch.Path, $"rootfs-{Guid.NewGuid():N}.tar");
        await using (var file = File.Create(rootfs))
        await using (var tar = new TarWriter(file, TarEntryFormat.Pax))
        {
            foreach (var directory in new[] { "etc/", "opt/", "opt/app/" })
            {
                await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.Directory, directory) { Mode = (UnixFileMode)0b111_101_101 });
            }
            var release = new PaxTarEntry(TarEntryType.RegularFile, "etc/os-release")
            {
                Mode = (UnixFileMode)0b110_100_100,
                DataStream = new MemoryStream("NAME=wharf-test\n"u8.ToArray()),
            };
            await tar.WriteEntryAsync(release);
            var payload = new byte[300 * 1024];
            Random.Shared.NextBytes(payload);
            var data = new PaxTarEntry(TarEntryType.RegularFile, "opt/app/data.bin")
            {
                Mode = (UnixFileMode)0b110_100_100,
                DataStream = new MemoryStream(payload),
            };
            await tar.WriteEntryAsync(data);
        }

        var store = NewPodman("pusher");
        var name = $"localhost/it/imported-{Guid.NewGuid():N}"[..30] + ":1";
        await store.MustRunAsync("import", rootfs, name);
        return (store, name);
    }

    private sealed record ImageFacts(string Id, string Digest, string[] Layers);

    private static async Task<ImageFacts> InspectAsync(Podman store, string image)
    {
        var result = await store.MustRunAsync("image", "inspect", image);
        using var json = JsonDocument.Parse(result.StandardOutputBytes);
        var facts = json.RootElement[0];
        return new ImageFacts(
            facts.GetProperty("Id").GetString()!,
            facts.GetProperty("Digest").GetString()!,
            [.. facts.GetProperty("RootFS").GetProperty("Layers").EnumerateArray().Select(l => l.GetString()!)]);
    }
}
