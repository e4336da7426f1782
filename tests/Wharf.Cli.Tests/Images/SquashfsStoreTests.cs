using System.Diagnostics;
using System.Text.Json.Nodes;
using Wharf.Cli.Tests.Containers;
using Wharf.Cli.Tests.Rootless;
using Wharf.Testing;

namespace Wharf.Cli.Tests.Images;

/// <summary>
/// Shared stores whose layers are squashfs files (<c>image publish --format squashfs</c>,
/// docs/shared-store.md): one shared directory, nodes with their own stores and runroots, real
/// wharf processes, real mounts (kernel squashfs as root, squashfuse rootless), real runc, a
/// wharfd that is stopped before the nodes run, and podman reading the same storage.conf.
/// </summary>
[Collection("containers")]
public sealed class SquashfsStoreTests(ContainerFixture fixture) : IDisposable
{
    private readonly TempDirectory _dir = new("wharf-squashfs-");

    private string Shared => Path.Combine(_dir.Path, "shared");

    public void Dispose() => _dir.Dispose();

    private WharfProcess Node()
    {
        var node = new WharfProcess();
        string conf = Path.Combine(node.Dir, "storage.conf");
        File.WriteAllText(conf, $"[storage]\ndriver = \"overlay\"\ngraphroot = \"{node.GraphRoot}\"\n\n[storage.options]\nadditionalimagestores = [\"{Shared}\"]\n");
        node.Env["CONTAINERS_STORAGE_CONF"] = conf;
        return node;
    }

    /// <summary>Pulls fixture's image from a wharfd of this test's own, publishes it as squashfs, and stops the registry.</summary>
    private string PublishFromRegistry()
    {
        using var publisher = new WharfProcess();
        using var wharfd = WharfdProcess.Start();
        wharfd.CreateProjectAsync("lab", isPublic: true).GetAwaiter().GetResult();
        fixture.Podman("push", "-q", "--tls-verify=false", "--creds", ContainerFixture.Creds, "localhost/bb:1", $"{wharfd.Host}/lab/bb:1");
        string image = $"{wharfd.Host}/lab/bb:1";
        publisher.Check("pull", "-q", "--tls-verify=false", image);
        var (code, stdout, stderr) = publisher.Run("image", "publish", image, "--store", Shared, "--format", "squashfs");
        Assert.True(code == 0, stderr);
        Assert.Matches("^[0-9a-f]{64}\n$", stdout);
        Assert.Contains("layer(s) as squashfs", stderr, StringComparison.Ordinal);
        return image;
    }

    /// <summary>The squashfs layer mounts (mount points) under <paramref name="runRoot"/> in a mount table.</summary>
    private static List<string> SquashfsMounts(string mountInfo, string runRoot) =>
        [.. mountInfo.Split('\n')
            .Select(l => l.Split(' '))
            .Where(f => f.Length > 4 && f[4].StartsWith(Path.Combine(runRoot, "wharf", "squashfs") + "/", StringComparison.Ordinal))
            .Select(f => f[4])];

    private static string[] LayerDirs(string shared) =>
        Directory.Exists(Path.Combine(shared, "wharf", "layers")) ? Directory.GetDirectories(Path.Combine(shared, "wharf", "layers")) : [];

    [Fact]
    public void PublishSquashfs_RegistryStopped_NodeRunsFromMountAndCopiesNothing()
    {
        string image = PublishFromRegistry();

        // Each layer is one file on the shared filesystem, no unpacked tree.
        Assert.All(LayerDirs(Shared), d =>
        {
            Assert.True(File.Exists(Path.Combine(d, "layer.squashfs")), d);
            Assert.False(Directory.Exists(Path.Combine(d, "diff")), d);
            Assert.Equal("644", Convert.ToString((int)File.GetUnixFileMode(Path.Combine(d, "layer.squashfs")) & 0x1ff, 8));
        });

        using var node = Node();
        Assert.Equal($"{image} true\n", node.Check("images", "--format", "{{.Repository}}:{{.Tag}} {{.ReadOnly}}"));
        Assert.Equal("from the image\nchanged\n", node.Check("run", "--rm", image, "sh", "-c", "cat /etc/motd; echo changed > /etc/motd; cat /etc/motd"));

        // --rm released the mount; nothing was copied into the node's store.
        Assert.Empty(SquashfsMounts(File.ReadAllText("/proc/self/mountinfo"), node.RunRoot));
        string blobs = Path.Combine(node.GraphRoot, "wharf", "blobs", "sha256");
        Assert.Empty(Directory.Exists(blobs) ? Directory.GetFiles(blobs) : []);
        string layers = Path.Combine(node.GraphRoot, "wharf", "layers");
        Assert.Empty(Directory.Exists(layers) ? Directory.GetDirectories(layers).Where(d => Path.GetFileName(d) is not ("tmp" or "pulled")) : []);

        // Publishing the same image again in the unpacked form adds it beside the squashfs file.
        using (var again = new WharfProcess())
        {
            string tar = Path.Combine(fixture.Root, "rootfs.tar");
            again.Check("import", "-q", tar, "localhost/imported:1");
            again.Check("image", "publish", "-q", "localhost/imported:1", "--store", Shared, "--format", "squashfs");
            again.Check("image", "publish", "-q", "localhost/imported:1", "--store", Shared, "--format", "dir");
        }

        Assert.Contains(LayerDirs(Shared), d => File.Exists(Path.Combine(d, "layer.squashfs")) && Directory.Exists(Path.Combine(d, "diff")));

        // podman, pointed at the same storage.conf's store, works as before.
        string podmanRoot = Path.Combine(_dir.Path, "podman");
        string conf = Path.Combine(_dir.Path, "podman-storage.conf");
        File.WriteAllText(conf, $"[storage]\ndriver = \"vfs\"\ngraphroot = \"{podmanRoot}/storage\"\nrunroot = \"{podmanRoot}/run\"\n\n[storage.options]\nadditionalimagestores = [\"{Shared}\"]\n");
        (int ExitCode, string Stdout, string Stderr) Podman(params string[] args) => Tools.Run("env", ["CONTAINERS_STORAGE_CONF=" + conf, "podman", .. args]);
        try
        {
            var imported = Podman("import", "-q", Path.Combine(fixture.Root, "rootfs.tar"), "localhost/podmans:1");
            Assert.True(imported.ExitCode == 0, imported.Stderr);
            // runc: crun refuses this machine's hybrid cgroups; the ulimits keep podman within what the test may set.
            var ran = Podman("--runtime", "runc", "run", "--rm", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "localhost/podmans:1", "cat", "/etc/motd");
            Assert.True(ran.ExitCode == 0, ran.Stderr);
            Assert.Equal("from the image\n", ran.Stdout);
        }
        finally
        {
            Podman("system", "reset", "-f");
        }

        // Unpublished: gone from the store, files and all.
        using var admin = new WharfProcess();
        admin.Check("image", "unpublish", image, "--store", Shared);
        admin.Check("image", "unpublish", "localhost/imported:1", "--store", Shared);
        Assert.Empty(LayerDirs(Shared));
    }

    [Fact]
    public void TwoContainers_OneNode_ShareOneMountReleasedAfterTheLast()
    {
        string image = PublishFromRegistry();
        int layerCount = LayerDirs(Shared).Length;
        using var node = Node();
        try
        {
            node.Check("run", "-d", "--name", "one", image, "sleep", "600");
            node.Check("run", "-d", "--name", "two", image, "sleep", "600");
            var mounts = SquashfsMounts(File.ReadAllText("/proc/self/mountinfo"), node.RunRoot);
            Assert.Equal(layerCount, mounts.Count);
            Assert.Equal(mounts.Count, mounts.Distinct().Count());

            // A layer the other container uses is not taken away from it, nor may unpublish delete it.
            var (refused, _, why) = node.Run("image", "unpublish", image, "--store", Shared);
            Assert.Equal(2, refused);
            Assert.Contains("in use", why, StringComparison.Ordinal);
            node.Check("rm", "-f", "-t", "0", "one");
            Assert.Equal(mounts, SquashfsMounts(File.ReadAllText("/proc/self/mountinfo"), node.RunRoot));
            Assert.Equal("from the image\n", node.Check("exec", "two", "cat", "/etc/motd"));

            node.Check("rm", "-f", "-t", "0", "two");
            Assert.Empty(SquashfsMounts(File.ReadAllText("/proc/self/mountinfo"), node.RunRoot));

            // What a crash leaves mounted (a container gone without its rm) goes at the next start.
            node.Check("run", "-d", "--name", "three", image, "sleep", "600");
            string three = node.Check("inspect", "--format", "{{.State.Pid}}", "three").Trim();
            Tools.Check("kill", "-KILL", three);
            Assert.True(SpinWait.SpinUntil(() => node.Check("inspect", "--format", "{{.State.Status}}", "three").Trim() == "exited", TimeSpan.FromSeconds(30)));
            Assert.NotEmpty(SquashfsMounts(File.ReadAllText("/proc/self/mountinfo"), node.RunRoot));
            Assert.Equal("from the image\n", node.Check("run", "--rm", image, "cat", "/etc/motd"));
            Assert.Empty(SquashfsMounts(File.ReadAllText("/proc/self/mountinfo"), node.RunRoot));
        }
        finally
        {
            node.Run("rm", "-a", "-f", "-t", "0");
        }
    }

    [Fact]
    public void PublishSquashfs_RootlessUser_RunsFromSquashfuseMount()
    {
        string image = PublishFromRegistry();
        Tools.Check("chmod", "0755", _dir.Path);
        using var user = new RootlessUser.Session(RootlessUser.WithRanges);
        string config = Path.Combine(user.Home, ".config", "containers");
        Directory.CreateDirectory(config);
        File.WriteAllText(Path.Combine(config, "storage.conf"), $"[storage]\ndriver = \"overlay\"\n\n[storage.options]\nadditionalimagestores = [\"{Shared}\"]\n");
        Tools.Check("chown", "-R", $"{user.Uid}:{user.Gid}", Path.Combine(user.Home, ".config"));

        // The image's files belong to host root: the container still writes /etc (copy-up as the user).
        Assert.Equal("from the image\nchanged\n", user.Check("run", "--rm", image, "sh", "-c", "cat /etc/motd; echo changed > /etc/motd; cat /etc/motd"));
        string blobs = Path.Combine(user.DefaultGraphRoot, "wharf", "blobs", "sha256");
        Assert.False(Directory.Exists(blobs) && Directory.GetFiles(blobs).Length > 0, "the user's store got blobs");
        string layers = Path.Combine(user.DefaultGraphRoot, "wharf", "layers");
        Assert.Empty(Directory.Exists(layers) ? Directory.GetDirectories(layers).Where(d => Path.GetFileName(d) is not ("tmp" or "pulled")) : []);

        // While a container runs, its layer is a squashfuse mount in the user's namespace; after rm it is gone.
        user.Check("run", "-d", "--name", "held", image, "sleep", "600");
        int pause = user.PausePid ?? throw new InvalidOperationException("no pause process");
        string InNamespace() => Tools.Check("nsenter", "-t", pause.ToString(System.Globalization.CultureInfo.InvariantCulture), "-m", "cat", "/proc/self/mountinfo");
        var mounted = InNamespace().Split('\n').Where(l => l.Contains(" fuse.squashfuse ", StringComparison.Ordinal) && l.Contains("/wharf/squashfs/", StringComparison.Ordinal)).ToList();
        Assert.Equal(LayerDirs(Shared).Length, mounted.Count);
        user.Check("rm", "-f", "-t", "0", "held");
        Assert.DoesNotContain(" fuse.squashfuse ", InNamespace(), StringComparison.Ordinal);
    }

    [Fact]
    public void PublishSquashfs_KilledAtRandomPoints_ReadersSeeNothingOrTheWholeImage()
    {
        using var publisher = new WharfProcess();
        publisher.Check("import", "-q", Path.Combine(fixture.Root, "rootfs.tar"), "localhost/imported:1");
        using var node = Node();
        var random = new Random(2222);
        int seen = 0;
        for (int round = 0; round < 6; round++)
        {
            using (var p = Process.Start(publisher.StartInfo("image", "publish", "-q", "localhost/imported:1", "--store", Shared, "--format", "squashfs"))!)
            {
                p.StandardInput.Close();
                Thread.Sleep(random.Next(0, 2500));
                p.Kill();
                p.WaitForExit();
            }

            var (code, ids, stderr) = node.Run("images", "-q", "--no-trunc");
            Assert.True(code == 0, stderr);
            if (ids.Trim().Length == 0)
            {
                // Nothing published: no layer under a final name without its file.
                Assert.All(LayerDirs(Shared), d => Assert.True(File.Exists(Path.Combine(d, "layer.squashfs")), $"{d} has no layer.squashfs"));
                continue;
            }

            seen++;
            AssertComplete();
            Assert.Equal("from the image\n", node.Check("run", "--rm", "localhost/imported:1", "cat", "/etc/motd"));
            publisher.Check("image", "unpublish", "localhost/imported:1", "--store", Shared);
        }

        publisher.Check("image", "publish", "-q", "localhost/imported:1", "--store", Shared, "--format", "squashfs");
        AssertComplete();
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(Shared, "wharf", "tmp")));
        Assert.Equal("from the image\n", node.Check("run", "--rm", "localhost/imported:1", "cat", "/etc/motd"));
        Assert.InRange(seen, 0, 6);
    }

    [Fact]
    public void Publish_UnknownFormat_RefusedAndNothingWritten()
    {
        using var publisher = new WharfProcess();
        publisher.Check("import", "-q", Path.Combine(fixture.Root, "rootfs.tar"), "localhost/imported:1");
        var (code, _, stderr) = publisher.Run("image", "publish", "localhost/imported:1", "--store", Shared, "--format", "zip");
        Assert.Equal(125, code);
        Assert.Contains("unsupported publish format \"zip\"", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Shared));
    }

    /// <summary>Whatever the index lists has its blobs and, for every layer chain of it, the squashfs file.</summary>
    private void AssertComplete()
    {
        string root = Path.Combine(Shared, "wharf");
        foreach (var image in JsonNode.Parse(File.ReadAllText(Path.Combine(root, "images.json")))!.AsArray())
        {
            foreach (string digest in image!["blobs"]!.AsArray().Select(b => (string)b!).Append((string)image["digest"]!))
            {
                Assert.True(File.Exists(Path.Combine(root, "blobs", "sha256", digest[7..])), $"published image lists {digest}, which is missing");
            }
        }

        Assert.NotEmpty(LayerDirs(Shared));
        Assert.All(LayerDirs(Shared), d => Assert.True(File.Exists(Path.Combine(d, "layer.squashfs")) && File.Exists(Path.Combine(d, "diffid")), d));
    }
}
