using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Wharf.Cli.Tests.Containers;
using Wharf.Testing;

namespace Wharf.Cli.Tests.Images;

/// <summary>
/// wharfd as the gateway into a shared image store (docs/shared-store.md, "Publishing from the
/// registry"): a real wharfd process with <c>Registry:SharedStore:Path</c>, podman pushing into it,
/// and a "node" (a wharf process with its own store, storage.conf naming the shared store) that runs
/// the image once wharfd has been stopped.
/// </summary>
[Collection("containers")]
public sealed class RegistryPublishTests(ContainerFixture fixture) : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);

    private readonly SharedStoreCluster _cluster = new(fixture, "wharf-regpub-");

    private string Shared => _cluster.Shared;

    public void Dispose() => _cluster.Dispose();

    private WharfdProcess StartRegistry(string format = "squashfs", string? dataDirectory = null) => WharfdProcess.Start(new WharfdOptions
    {
        Arguments = [$"--Registry:SharedStore:Path={Shared}", $"--Registry:SharedStore:Format={format}"],
        DataDirectory = dataDirectory,
    });

    private static async Task CreateProjectAsync(WharfdProcess wharfd, string name, object metadata, HttpStatusCode expected = HttpStatusCode.Created)
    {
        using var admin = wharfd.Admin();
        using var response = await admin.PostAsJsonAsync("api/v2.0/projects", new { project_name = name, metadata });
        Assert.True(response.StatusCode == expected, $"POST project {name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private void Push(WharfdProcess wharfd, string target) => _cluster.Push(wharfd, target);

    private static async Task<JsonObject> StatusAsync(WharfdProcess wharfd, string project)
    {
        using var admin = wharfd.Admin();
        return JsonNode.Parse(await admin.GetStringAsync($"api/v2.0/projects/{project}/shared-store"))!.AsObject();
    }

    /// <summary>Polls the project's status until <paramref name="done"/> holds for its images (name → state), within a bound.</summary>
    private static async Task<Dictionary<string, string>> WaitForAsync(WharfdProcess wharfd, string project, Func<Dictionary<string, string>, bool> done)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var images = (await StatusAsync(wharfd, project))["images"]!.AsArray()
                .ToDictionary(i => (string)i!["name"]!, i => (string)i!["state"]! + ((string?)i["error"] is { } e ? ": " + e : ""));
            if (done(images))
            {
                return images;
            }

            Assert.True(clock.Elapsed < Bound, $"shared store status of {project} never settled: {string.Join(", ", images.Select(i => $"{i.Key}={i.Value}"))}");
            await Task.Delay(200);
        }
    }

    private string[] PublishedNames() => _cluster.PublishedNames();

    private WharfProcess Node() => _cluster.Node();

    [Fact]
    public async Task Push_PublishingProject_PublishedAndRunsWithRegistryStopped_DeletesUnpublish()
    {
        string image;
        using (var wharfd = StartRegistry())
        {
            await CreateProjectAsync(wharfd, "lab", new Dictionary<string, string> { ["public"] = "true", ["publish_to_shared_store"] = "true" });
            await CreateProjectAsync(wharfd, "plain", new Dictionary<string, string> { ["public"] = "true" });
            using (var admin = wharfd.Admin())
            {
                var project = JsonNode.Parse(await admin.GetStringAsync("api/v2.0/projects/lab"))!;
                Assert.Equal("true", (string?)project["metadata"]!["publish_to_shared_store"]);
                var plain = JsonNode.Parse(await admin.GetStringAsync("api/v2.0/projects/plain"))!;
                Assert.Null(plain["metadata"]!["publish_to_shared_store"]);
            }

            image = $"{wharfd.Host}/lab/bb:1";
            Push(wharfd, "lab/bb:1");
            Push(wharfd, "lab/bb:2");
            Push(wharfd, "lab/other:1");
            Push(wharfd, "plain/bb:1");

            string[] all = [$"{wharfd.Host}/lab/bb:1", $"{wharfd.Host}/lab/bb:2", $"{wharfd.Host}/lab/other:1"];
            var states = await WaitForAsync(wharfd, "lab", s => all.All(n => s.GetValueOrDefault(n) == "published") || s.Values.Any(v => v.StartsWith("failed", StringComparison.Ordinal)));
            Assert.All(all, n => Assert.Equal("published", states[n]));
            Assert.Equal(all.Order(StringComparer.Ordinal), PublishedNames());
            // One image under three names: its layers are stored once, as squashfs files, readable by everyone.
            var layers = Directory.GetDirectories(Path.Combine(Shared, "wharf", "layers"));
            Assert.Single(layers);
            string squashfs = Path.Combine(layers[0], "layer.squashfs");
            Assert.True(File.Exists(squashfs), "the layer is published as one squashfs file");
            Assert.Equal(UnixFileMode.OtherRead, File.GetUnixFileMode(squashfs) & UnixFileMode.OtherRead);

            // A project without the setting publishes nothing.
            Assert.Empty((await StatusAsync(wharfd, "plain"))["images"]!.AsArray());
            Assert.DoesNotContain(PublishedNames(), n => n.Contains("/plain/", StringComparison.Ordinal));

            // A tag deleted (Harbor's tag API) and a repository deleted: their names leave the store.
            using (var admin = wharfd.Admin())
            {
                using var tagDelete = await admin.DeleteAsync("api/v2.0/projects/lab/repositories/bb/artifacts/2/tags/2");
                Assert.Equal(HttpStatusCode.OK, tagDelete.StatusCode);
                using var repoDelete = await admin.DeleteAsync("api/v2.0/projects/lab/repositories/other");
                Assert.Equal(HttpStatusCode.OK, repoDelete.StatusCode);
            }

            await WaitForAsync(wharfd, "lab", s => s.Count == 1);
            Assert.Equal([image], PublishedNames());
        }

        // wharfd is gone: the node lists and runs the image from the shared store, and pulls nothing.
        using var node = Node();
        Assert.Equal($"{image} true\n", node.Check("images", "--format", "{{.Repository}}:{{.Tag}} {{.ReadOnly}}"));
        Assert.Equal("from the image\n", node.Check("run", "--rm", image, "cat", "/etc/motd"));
        Assert.True(SharedStoreCluster.CopiedNothing(node), "the node's store got blobs or layers");
    }

    [Fact]
    public async Task PushIndex_PublishingProject_NodeRunsByIndexDigestWithRegistryStopped()
    {
        string repository, index;
        using (var wharfd = StartRegistry("dir"))
        {
            await CreateProjectAsync(wharfd, "lab", new Dictionary<string, string> { ["public"] = "true", ["publish_to_shared_store"] = "true" });
            index = _cluster.PushIndex(wharfd, "lab/multi:1");
            repository = $"{wharfd.Host}/lab/multi";
            var states = await WaitForAsync(wharfd, "lab", s => s.ContainsKey(repository + ":1"));
            Assert.Equal("published", states[repository + ":1"]);
        }

        // The store holds the index's linux/amd64 image and knows the index it came through.
        var entry = JsonNode.Parse(File.ReadAllText(Path.Combine(Shared, "wharf", "images.json")))!.AsArray().Single()!;
        Assert.Equal([index], entry["listDigests"]!.AsArray().Select(d => (string)d!));

        using var node = Node();
        Assert.Equal("from the image\n", node.Check("run", "--rm", $"{repository}@{index}", "cat", "/etc/motd"));
        Assert.True(SharedStoreCluster.CopiedNothing(node), "the node's store got blobs or layers");
    }

    [Fact]
    public async Task Publish_StoreUnusable_FailedWithError_RestartPublishesWhatIsPending()
    {
        // The store's path is a plain file: every publish fails, and says why.
        File.WriteAllText(Shared, "not a directory");
        string data = Path.Combine(_cluster.Dir, "data");
        string name;
        using (var wharfd = StartRegistry("dir", data))
        {
            await CreateProjectAsync(wharfd, "lab", new Dictionary<string, string> { ["public"] = "true", ["publish_to_shared_store"] = "true" });
            Push(wharfd, "lab/bb:1");
            name = $"{wharfd.Host}/lab/bb:1";
            var states = await WaitForAsync(wharfd, "lab", s => s.ContainsKey(name));
            Assert.StartsWith("failed: ", states[name], StringComparison.Ordinal);
        }

        // Fixed while wharfd is down: the next wharfd on the same data (same port, same names) publishes at start, with no new push.
        File.Delete(Shared);
        int port = int.Parse(name.Split('/')[0].Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        using var again = WharfdProcess.Start(new WharfdOptions
        {
            Arguments = [$"--Registry:SharedStore:Path={Shared}", "--Registry:SharedStore:Format=dir"],
            DataDirectory = data,
            Port = port,
        });
        var after = await WaitForAsync(again, "lab", s => s.GetValueOrDefault(name) == "published");
        Assert.Equal("published", after[name]);
        Assert.Equal([name], PublishedNames());
        Assert.False(Directory.Exists(Path.Combine(data, "shared-store-staging")), "the staging store is emptied after a publish");
    }

    [Fact]
    public async Task PublishFlag_BadValueOrNoStore_Is400AndChangesNothing()
    {
        using (var wharfd = StartRegistry("dir"))
        {
            await CreateProjectAsync(wharfd, "bad", new Dictionary<string, string> { ["publish_to_shared_store"] = "yes" }, HttpStatusCode.BadRequest);
            using var admin = wharfd.Admin();
            using (var missing = await admin.GetAsync("api/v2.0/projects/bad"))
            {
                Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            }

            // Turned on later by PUT, then off: what was published leaves the store.
            await CreateProjectAsync(wharfd, "later", new Dictionary<string, string> { ["public"] = "true" });
            Push(wharfd, "later/bb:1");
            using (var bad = await admin.PutAsJsonAsync("api/v2.0/projects/later", new { metadata = new { publish_to_shared_store = "1" } }))
            {
                Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
                Assert.Contains("publish_to_shared_store", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }

            using (var on = await admin.PutAsJsonAsync("api/v2.0/projects/later", new { metadata = new { publish_to_shared_store = "true" } }))
            {
                Assert.Equal(HttpStatusCode.OK, on.StatusCode);
            }

            string name = $"{wharfd.Host}/later/bb:1";
            var states = await WaitForAsync(wharfd, "later", s => s.ContainsKey(name));
            Assert.Equal("published", states[name]);
            Assert.Equal([name], PublishedNames());
            // The unpacked form (Format=dir): layer directories, world-readable.
            var layer = Directory.GetDirectories(Path.Combine(Shared, "wharf", "layers")).Single();
            Assert.True(Directory.Exists(Path.Combine(layer, "diff", "bin")));

            using (var off = await admin.PutAsJsonAsync("api/v2.0/projects/later", new { metadata = new { publish_to_shared_store = "false" } }))
            {
                Assert.Equal(HttpStatusCode.OK, off.StatusCode);
            }

            await WaitForAsync(wharfd, "later", s => s.Count == 0);
            Assert.Empty(PublishedNames());
            Assert.Empty(Directory.GetDirectories(Path.Combine(Shared, "wharf", "layers")));
        }

        // A wharfd without a shared store refuses the setting.
        using var plain = WharfdProcess.Start();
        await CreateProjectAsync(plain, "want", new Dictionary<string, string> { ["publish_to_shared_store"] = "true" }, HttpStatusCode.BadRequest);
        using var client = plain.Admin();
        using var response = await client.GetAsync("api/v2.0/projects/want");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
