using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Wharf.Cli.Tests.Containers;
using Wharf.Cli.Tests.Jobs;
using Wharf.Cli.Tests.Rootless;
using Wharf.Testing;

namespace Wharf.Cli.Tests.Images;

/// <summary>
/// Shared read-only image stores (docs/shared-store.md) on one machine playing a cluster: one
/// shared directory, node stores under their own roots, each wharf a real process, a real wharfd
/// that is stopped before the nodes start, real runc, and podman reading the same storage.conf.
/// </summary>
[Collection("containers")]
public sealed partial class SharedStoreTests(ContainerFixture fixture) : IDisposable
{
    private readonly SharedStoreCluster _cluster = new(fixture, "wharf-shared-");

    private string Shared => _cluster.Shared;

    public void Dispose() => _cluster.Dispose();

    /// <summary>A wharfd of this test's own, holding fixture's image as lab/bb:1, with an access log.</summary>
    private WharfdProcess StartRegistry() =>
        _cluster.StartRegistry(new WharfdOptions { Environment = new Dictionary<string, string> { ["WHARF_ACCESS_LOG"] = "1" } });

    private WharfProcess Node(params string[] moreStores) => _cluster.Node(moreStores);

    private static string Publish(WharfProcess publisher, string image, string store) =>
        publisher.Check("image", "publish", "-q", image, "--store", store).Trim();

    [Fact]
    public void PublishThenRun_RegistryStopped_NodeRunsFromSharedStoreAndCopiesNothing()
    {
        string image;
        using (var publisher = new WharfProcess())
        {
            using var wharfd = StartRegistry();
            image = $"{wharfd.Host}/lab/bb:1";
            publisher.Check("pull", "-q", "--tls-verify=false", image);
            string id = Publish(publisher, image, Shared);
            Assert.Matches("^[0-9a-f]{64}$", id);
        }

        // A directory in podman's containers-storage layout beside it: one warning line per command, no error.
        string podmanStore = Path.Combine(_cluster.Dir, "podman-store");
        Directory.CreateDirectory(Path.Combine(podmanStore, "overlay-images"));
        File.WriteAllText(Path.Combine(podmanStore, "overlay-images", "images.json"), "[]");
        using var node = Node(podmanStore);

        // The registry is gone: everything below comes from the shared store.
        var (code, listed, warnings) = node.Run("images", "--format", "{{.Repository}}:{{.Tag}} {{.ReadOnly}}");
        Assert.Equal(0, code);
        Assert.Equal($"{image} true\n", listed);
        Assert.Single(warnings.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"additional image store \"{podmanStore}\" is not used: it is podman's containers-storage layout", warnings, StringComparison.Ordinal);

        Assert.Equal("from the image\n", node.Check("run", "--rm", image, "cat", "/etc/motd"));
        node.Check("image", "exists", image);
        Assert.Contains("\"ReadOnly\": true", node.Check("images", "--format", "json"), StringComparison.Ordinal);
        Assert.Equal(string.Empty, node.Check("images", "--filter", "readonly=false", "-q"));

        // rmi is refused in podman's words; the image stays.
        var (rmiCode, _, rmiErr) = node.Run("rmi", image);
        Assert.Equal(125, rmiCode);
        Assert.Matches("Error: cannot remove read-only image \"[0-9a-f]{64}\"", rmiErr);
        node.Check("rmi", "-a");
        Assert.Equal(image + "\n", node.Check("images", "--format", "{{.Repository}}:{{.Tag}}"));

        // A job pins the digest it finds in the shared store and runs it without a registry.
        // (A node of its own: the warning above would be in the job's log too.)
        using var jobNode = Node();
        string job = JobHelpers.Submit(jobNode, image, "--", "cat", "/etc/motd");
        var record = JobHelpers.WaitFinal(jobNode, job);
        Assert.Equal("completed", (string?)record["state"]);
        Assert.Equal("from the image\n", jobNode.Check("job", "logs", job));
        JobHelpers.CancelAll(jobNode);

        // Nothing was copied into the node's store: no blob, no unpacked layer.
        Assert.True(SharedStoreCluster.CopiedNothing(node), "the node's store got blobs or layers");

        // Unpublished, it is gone for the node too, and the store keeps no blob or layer of it.
        using var admin = new WharfProcess();
        admin.Check("image", "unpublish", image, "--store", Shared);
        Assert.Equal(string.Empty, node.Check("images", "-q"));
        Assert.Empty(Directory.GetFiles(Path.Combine(Shared, "wharf", "blobs", "sha256")));
        Assert.Empty(Directory.GetDirectories(Path.Combine(Shared, "wharf", "layers")));
    }

    [Fact]
    public void PinnedIndexDigest_PulledAndPublished_NodeAndJobFindPlatformImageWithoutRegistry()
    {
        string repository, index;
        using (var publisher = new WharfProcess())
        {
            using var wharfd = StartRegistry();
            index = _cluster.PushIndex(wharfd, "lab/multi:1");
            repository = $"{wharfd.Host}/lab/multi";
            publisher.Check("pull", "-q", "--tls-verify=false", repository + ":1");
            Publish(publisher, repository + ":1", Shared);
        }

        // The registry is gone; the reference names the index, the store holds its linux/amd64 image.
        string pinned = $"{repository}@{index}";
        using var node = Node();
        node.Check("image", "exists", pinned);
        Assert.Equal("from the image\n", node.Check("run", "--rm", pinned, "cat", "/etc/motd"));

        // A job given the index digest finds it the same way, and nothing is pulled into the node's store.
        string job = JobHelpers.Submit(node, pinned, "--", "cat", "/etc/motd");
        var record = JobHelpers.WaitFinal(node, job);
        Assert.True((string?)record["state"] == "completed", $"job {job}: {record.ToJsonString()}\n{node.Run("job", "logs", job).Stdout}");
        Assert.Equal("from the image\n", node.Check("job", "logs", job));
        JobHelpers.CancelAll(node);
        Assert.True(SharedStoreCluster.CopiedNothing(node), "the node's store got blobs or layers");

        // A digest nobody pulled or published is still unknown (no false match on the list digests).
        var (code, _, _) = node.Run("image", "exists", $"{repository}@sha256:{new string('0', 64)}");
        Assert.Equal(1, code);
    }

    [Fact]
    public void PublishThenRun_RootlessUser_RunsFromSharedStoreWithoutRegistry()
    {
        string image;
        using (var publisher = new WharfProcess())
        {
            using var wharfd = StartRegistry();
            image = $"{wharfd.Host}/lab/bb:1";
            publisher.Check("pull", "-q", "--tls-verify=false", image);
            Publish(publisher, image, Shared);
        }

        using var user = _cluster.RootlessNode();

        Assert.Equal($"{image} true\n", user.Check("images", "--format", "{{.Repository}}:{{.Tag}} {{.ReadOnly}}"));

        // The image's files belong to host root, unmapped in the user's namespace: still the
        // container writes into /etc (copy-up) and runc creates /etc/hosts there.
        Assert.Equal("from the image\nchanged\n", user.Check("run", "--rm", image, "sh", "-c", "cat /etc/motd; echo changed > /etc/motd; cat /etc/motd"));
        Assert.False(Directory.Exists(Path.Combine(user.DefaultGraphRoot, "wharf", "blobs", "sha256")) && Directory.GetFiles(Path.Combine(user.DefaultGraphRoot, "wharf", "blobs", "sha256")).Length > 0);

        // Rootless podman on the same storage.conf: its own commands work, the store looks empty to it.
        var podman = Tools.Run("runuser", "-u", user.Name, "--", "env", $"HOME={user.Home}", $"XDG_RUNTIME_DIR={user.RuntimeDir}", "sh", "-c", $"cd {user.Home} && podman images -q");
        Assert.True(podman.ExitCode == 0, "rootless podman images failed: " + podman.Stderr);
        Assert.DoesNotContain("Error", podman.Stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, podman.Stdout);
    }

    [Fact]
    public void Podman_SameStorageConf_OwnCommandsWorkAndSharedStoreUntouched()
    {
        using var publisher = new WharfProcess();
        string tar = Path.Combine(fixture.Root, "rootfs.tar");
        publisher.Check("import", "-q", tar, "localhost/imported:1");
        Publish(publisher, "localhost/imported:1", Shared);
        string index = File.ReadAllText(Path.Combine(Shared, "wharf", "images.json"));

        string podmanRoot = Path.Combine(_cluster.Dir, "podman");
        string conf = Path.Combine(_cluster.Dir, "podman-storage.conf");
        File.WriteAllText(conf, $"[storage]\ndriver = \"vfs\"\ngraphroot = \"{podmanRoot}/storage\"\nrunroot = \"{podmanRoot}/run\"\n\n[storage.options]\nadditionalimagestores = [\"{Shared}\"]\n");
        (int ExitCode, string Stdout, string Stderr) Podman(params string[] args) => Tools.Run("env", ["CONTAINERS_STORAGE_CONF=" + conf, "podman", .. args]);
        try
        {
            var imported = Podman("import", "-q", tar, "localhost/podmans:1");
            Assert.True(imported.ExitCode == 0, imported.Stderr);
            var exists = Podman("image", "exists", "localhost/podmans:1");
            Assert.True(exists.ExitCode == 0, exists.Stderr);
            var images = Podman("images", "--format", "{{.Repository}}");
            Assert.Equal("localhost/podmans\n", images.Stdout);
            Assert.Empty(images.Stderr);
            var removed = Podman("rmi", "localhost/podmans:1");
            Assert.True(removed.ExitCode == 0, removed.Stderr);
        }
        finally
        {
            Podman("system", "reset", "-f");
        }

        // podman wrote nothing into wharf's part of the store.
        Assert.Equal(index, File.ReadAllText(Path.Combine(Shared, "wharf", "images.json")));
    }

    [Fact]
    public void Publish_KilledAtRandomPoints_ReadersSeeNothingOrTheWholeImage()
    {
        using var publisher = new WharfProcess();
        string tar = Path.Combine(fixture.Root, "rootfs.tar");
        publisher.Check("import", "-q", tar, "localhost/imported:1");
        using var node = Node();
        var random = new Random(22);
        int seenWhole = 0, seenNothing = 0;
        for (int round = 0; round < 8; round++)
        {
            using (var p = Process.Start(publisher.StartInfo("image", "publish", "-q", "localhost/imported:1", "--store", Shared))!)
            {
                p.StandardInput.Close();
                Thread.Sleep(random.Next(0, 1500));
                p.Kill();
                p.WaitForExit();
            }

            // Whatever the index lists is complete: every blob at its size, every layer unpacked.
            var (code, ids, stderr) = node.Run("images", "-q", "--no-trunc");
            Assert.True(code == 0, stderr);
            if (ids.Trim().Length == 0)
            {
                seenNothing++;
                continue;
            }

            seenWhole++;
            AssertComplete();
            Assert.Equal("from the image\n", node.Check("run", "--rm", "localhost/imported:1", "cat", "/etc/motd"));
            publisher.Check("image", "unpublish", "localhost/imported:1", "--store", Shared);
        }

        // The next publish sweeps what the killed ones left, and succeeds.
        Publish(publisher, "localhost/imported:1", Shared);
        AssertComplete();
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(Shared, "wharf", "tmp")));
        Assert.Equal("from the image\n", node.Check("run", "--rm", "localhost/imported:1", "cat", "/etc/motd"));
        Assert.Equal(8, seenWhole + seenNothing);
    }

    private void AssertComplete()
    {
        string root = Path.Combine(Shared, "wharf");
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "images.json")))!.AsArray();
        foreach (var image in index)
        {
            foreach (string digest in image!["blobs"]!.AsArray().Select(b => (string)b!).Append((string)image["digest"]!))
            {
                Assert.True(File.Exists(Path.Combine(root, "blobs", "sha256", digest[7..])), $"published image lists {digest}, which is missing");
            }
        }

        Assert.Contains(Directory.GetDirectories(Path.Combine(root, "layers")), d => Directory.Exists(Path.Combine(d, "diff")) && File.Exists(Path.Combine(d, "diffid")));
    }

    [Fact]
    public async Task EightRuns_MissingImageOnOneNode_RegistryServesEachBlobOnce()
    {
        using var wharfd = StartRegistry();
        string image = $"{wharfd.Host}/lab/bb:1";
        using var node = new WharfProcess();
        int mark = wharfd.Process.LogMark;

        var runs = Enumerable.Range(0, 8).Select(_ => Process.Start(node.StartInfo("run", "--rm", "--tls-verify=false", image, "cat", "/etc/motd"))!).ToList();
        try
        {
            foreach (var p in runs)
            {
                p.StandardInput.Close();
            }

            var outputs = await Task.WhenAll(runs.Select(async p =>
            {
                var stdout = p.StandardOutput.ReadToEndAsync();
                var stderr = p.StandardError.ReadToEndAsync();
                await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(4));
                return (p.ExitCode, Stdout: await stdout, Stderr: await stderr);
            }));
            Assert.All(outputs, o => Assert.True(o.ExitCode == 0 && o.Stdout == "from the image\n", $"exit {o.ExitCode}: {o.Stdout} {o.Stderr}"));
        }
        finally
        {
            foreach (var p in runs.Where(p => !p.HasExited))
            {
                p.Kill(entireProcessTree: true);
            }

            runs.ForEach(p => p.Dispose());
        }

        // Config and layer: each fetched by one process, once.
        var gets = BlobGet().Matches(wharfd.Process.LogsSince(mark)).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(2, gets.Count);
        Assert.Equal(2, gets.Distinct().Count());
    }

    [GeneratedRegex(@"""GET /v2/lab/bb/blobs/(sha256:[0-9a-f]{64}) HTTP/[0-9.]+"" 200 ")]
    private static partial Regex BlobGet();
}
