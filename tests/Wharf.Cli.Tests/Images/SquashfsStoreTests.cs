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
    private readonly SharedStoreCluster _cluster = new(fixture, "wharf-squashfs-");

    private string Shared => _cluster.Shared;

    public void Dispose() => _cluster.Dispose();

    private WharfProcess Node() => _cluster.Node();

    /// <summary>Pulls fixture's image from a wharfd of this test's own, publishes it as squashfs, and stops the registry.</summary>
    private string PublishFromRegistry()
    {
        using var publisher = new WharfProcess();
        using var wharfd = _cluster.StartRegistry();
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

    [Fact]
    public void PublishSquashfs_RegistryStopped_NodeRunsFromMountAndCopiesNothing()
    {
        string image = PublishFromRegistry();

        // Each layer is one file on the shared filesystem, no unpacked tree.
        Assert.All(_cluster.LayerDirs(), d =>
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
        Assert.True(SharedStoreCluster.CopiedNothing(node), "the node's store got blobs or layers");

        // Publishing the same image again in the unpacked form adds it beside the squashfs file.
        using (var again = new WharfProcess())
        {
            string tar = Path.Combine(fixture.Root, "rootfs.tar");
            again.Check("import", "-q", tar, "localhost/imported:1");
            again.Check("image", "publish", "-q", "localhost/imported:1", "--store", Shared, "--format", "squashfs");
            again.Check("image", "publish", "-q", "localhost/imported:1", "--store", Shared, "--format", "dir");
        }

        Assert.Contains(_cluster.LayerDirs(), d => File.Exists(Path.Combine(d, "layer.squashfs")) && Directory.Exists(Path.Combine(d, "diff")));

        // podman, pointed at the same storage.conf's store, works as before.
        string podmanRoot = Path.Combine(_cluster.Dir, "podman");
        string conf = Path.Combine(_cluster.Dir, "podman-storage.conf");
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
        Assert.Empty(_cluster.LayerDirs());
    }

    [Fact]
    public void Publish_LayersAlreadyPublished_NeitherUnpackedNorSquashedAgain()
    {
        var wharfd = _cluster.StartRegistry();
        try
        {
            PublishV1V2AndASecondTag(wharfd);
        }
        finally
        {
            wharfd.Dispose();
        }
    }

    private void PublishV1V2AndASecondTag(WharfdProcess wharfd)
    {
        // v2: v1 plus one layer (podman build, COPY only); v1 also under a second tag.
        string context = Path.Combine(_cluster.Dir, "v2");
        Directory.CreateDirectory(context);
        File.WriteAllText(Path.Combine(context, "extra"), "added in v2\n");
        File.WriteAllText(Path.Combine(context, "Containerfile"), "FROM localhost/bb:1\nCOPY extra /extra\n");
        string v2Local = "localhost/bb-v2-" + Guid.NewGuid().ToString("N")[..8] + ":2";
        fixture.Podman("build", "-q", "-t", v2Local, "-f", Path.Combine(context, "Containerfile"), context);
        try
        {
            _cluster.Push(wharfd, "lab/bb:2", v2Local);
        }
        finally
        {
            fixture.Podman("rmi", "-f", v2Local);
        }

        _cluster.Push(wharfd, "lab/bb:again");
        string v1 = $"{wharfd.Host}/lab/bb:1", again = $"{wharfd.Host}/lab/bb:again", v2 = $"{wharfd.Host}/lab/bb:2";

        // Each publisher is a fresh store whose pull leaves its layers packed (WHARF_UNPACK_ON_PULL=0):
        // whatever it has unpacked afterwards, the publish unpacked.
        (string Stderr, string[] Unpacked) PublishFresh(string image)
        {
            using var publisher = new WharfProcess();
            publisher.Env["WHARF_UNPACK_ON_PULL"] = "0";
            publisher.Check("pull", "-q", "--tls-verify=false", image);
            var (code, _, stderr) = publisher.Run("image", "publish", image, "--store", Shared, "--format", "squashfs");
            Assert.True(code == 0, stderr);
            string layers = Path.Combine(publisher.GraphRoot, "wharf", "layers");
            return (stderr, Directory.Exists(layers) ? [.. Directory.GetDirectories(layers).Select(Path.GetFileName).Where(d => d is not ("tmp" or "pulled"))!] : []);
        }

        var first = PublishFresh(v1);
        Assert.Contains("copied 3 blob(s), 1 layer(s) as squashfs", first.Stderr, StringComparison.Ordinal);
        Assert.Single(first.Unpacked);
        string baseFile = Path.Combine(_cluster.LayerDirs().Single(), "layer.squashfs");
        var before = (Inode: Tools.Check("stat", "-c", "%i %Y", baseFile), Bytes: File.ReadAllBytes(baseFile));

        // A second tag of the published image: nothing unpacked, nothing squashed, only a name added.
        var second = PublishFresh(again);
        Assert.Contains("copied 0 blob(s), 0 layer(s)", second.Stderr, StringComparison.Ordinal);
        Assert.Empty(second.Unpacked);

        // v2 on the published base: only its own new layer is unpacked and squashed.
        var third = PublishFresh(v2);
        Assert.Contains("1 layer(s) as squashfs", third.Stderr, StringComparison.Ordinal);
        Assert.Single(third.Unpacked);
        Assert.DoesNotContain(Path.GetFileName(Path.GetDirectoryName(baseFile)), third.Unpacked);
        Assert.Equal(2, _cluster.LayerDirs().Length);
        Assert.Equal(before.Inode, Tools.Check("stat", "-c", "%i %Y", baseFile));
        Assert.Equal(before.Bytes, File.ReadAllBytes(baseFile));
        Assert.Equal([v1, v2, again], _cluster.PublishedNames());

        // Stopped, the registry serves nothing: the node runs v2 from the store.
        wharfd.Process.Kill();
        using var node = Node();
        Assert.Equal("added in v2\nfrom the image\n", node.Check("run", "--rm", v2, "cat", "/extra", "/etc/motd"));
    }

    [Fact]
    public void PublishSquashfs_ServiceAccountWithoutNamespace_KeepsImageOwnersAndRefusesDirFormat()
    {
        // An image with files that are not root's and a setuid file of group 44.
        string rootfs = Path.Combine(_cluster.Dir, "owned");
        Tools.Check("cp", "-a", Path.Combine(fixture.Root, "rootfs"), rootfs);
        Directory.CreateDirectory(Path.Combine(rootfs, "home", "job"));
        File.WriteAllText(Path.Combine(rootfs, "home", "job", "notes"), "job's\n");
        Tools.Check("chown", "-R", "1000:1000", Path.Combine(rootfs, "home", "job"));
        Tools.Check("chmod", "0640", Path.Combine(rootfs, "home", "job", "notes"));
        string tool = Path.Combine(rootfs, "bin", "setuid-tool");
        File.WriteAllText(tool, "#!/bin/sh\n");
        Tools.Check("chown", "0:44", tool);
        Tools.Check("chmod", "4750", tool);
        string tar = Path.Combine(_cluster.Dir, "owned.tar");
        Tools.Check("tar", "-C", rootfs, "-cf", tar, ".");
        Tools.Check("chmod", "0755", _cluster.Dir);
        Tools.Check("chmod", "0644", tar);

        // A service account as wharfd runs under: no subordinate IDs, no user namespace.
        using var account = new RootlessUser.Session(RootlessUser.WithoutRanges, ranges: false);
        account.Extra["WHARF_USERNS"] = "host";
        Directory.CreateDirectory(Shared);
        Tools.Check("chown", $"{account.Uid}:{account.Gid}", Shared);
        account.Check("import", "-q", tar, "localhost/owned:1");

        // Unpacked directories would all be the account's: refused, and nothing is written.
        var (refused, _, why) = account.Run("image", "publish", "localhost/owned:1", "--store", Shared, "--format", "dir");
        Assert.Equal(125, refused);
        Assert.Contains("--format squashfs", why, StringComparison.Ordinal);
        Assert.Empty(_cluster.LayerDirs());

        // The squashfs form takes owners and modes from the layer's tar headers.
        account.Check("image", "publish", "-q", "localhost/owned:1", "--store", Shared, "--format", "squashfs");
        string listing = Tools.Check("unsquashfs", "-lln", Path.Combine(_cluster.LayerDirs().Single(), "layer.squashfs"));
        Assert.Matches(@"-rw-r----- 1000/1000 +\d+ \S+ \S+ squashfs-root/home/job/notes\n", listing);
        Assert.Matches(@"-rwsr-x--- 0/44 +\d+ \S+ \S+ squashfs-root/bin/setuid-tool\n", listing);
        Assert.Matches(@"-rw-r--r-- 0/0 +\d+ \S+ \S+ squashfs-root/etc/motd\n", listing);
        Assert.DoesNotContain($" {account.Uid}/", listing, StringComparison.Ordinal);

        // A node runs it with the image's owners.
        using var node = Node();
        string[] notes = node.Check("run", "--rm", "localhost/owned:1", "ls", "-ln", "/home/job/notes").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(("1000", "1000"), (notes[2], notes[3]));
    }

    [Fact]
    public void RootlessNode_NoSquashfuse_WarnsOnceNamingItThenUnpacksIntoOwnStore()
    {
        string image = PublishFromRegistry();
        using var user = _cluster.RootlessNode();

        // A node without squashfuse: the user's first command (so its pause process too) runs in a
        // private mount namespace whose /usr/bin is an overlay with squashfuse deleted.
        string upper = Path.Combine(_cluster.Dir, "usr-bin-upper"), work = Path.Combine(_cluster.Dir, "usr-bin-work");
        Directory.CreateDirectory(upper);
        Directory.CreateDirectory(work);
        string script = $"mount -t overlay overlay -o lowerdir=/usr/bin,upperdir={upper},workdir={work} /usr/bin && rm /usr/bin/squashfuse && exec \"$@\"";
        var argv = user.Argv("run", "--rm", image, "sh", "-c", "cat /etc/motd; cat /etc/motd");
        var (code, stdout, stderr) = Tools.Run("unshare", ["-m", "--propagation", "private", "sh", "-c", script, "sh", .. argv]);
        Assert.True(code == 0, stderr);
        Assert.Equal("from the image\nfrom the image\n", stdout);
        var warnings = stderr.Split('\n').Where(l => l.Contains("cannot mount the squashfs layers", StringComparison.Ordinal)).ToList();
        Assert.Single(warnings);
        Assert.StartsWith("WARN[0000] ", warnings[0], StringComparison.Ordinal);
        Assert.Contains(Shared, warnings[0], StringComparison.Ordinal);
        Assert.Contains("squashfuse is not installed (install squashfuse)", warnings[0], StringComparison.Ordinal);

        // The fallback: the layer was unpacked into the user's own store.
        string layers = Path.Combine(user.DefaultGraphRoot, "wharf", "layers");
        Assert.Equal(_cluster.LayerDirs().Length, Directory.GetDirectories(layers).Count(d => Path.GetFileName(d) is not ("tmp" or "pulled")));
    }

    [Fact]
    public void TwoContainers_OneNode_ShareOneMountReleasedAfterTheLast()
    {
        string image = PublishFromRegistry();
        int layerCount = _cluster.LayerDirs().Length;
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
        using var user = _cluster.RootlessNode();

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
        Assert.Equal(_cluster.LayerDirs().Length, mounted.Count);
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
                Assert.All(_cluster.LayerDirs(), d => Assert.True(File.Exists(Path.Combine(d, "layer.squashfs")), $"{d} has no layer.squashfs"));
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

        Assert.NotEmpty(_cluster.LayerDirs());
        Assert.All(_cluster.LayerDirs(), d => Assert.True(File.Exists(Path.Combine(d, "layer.squashfs")) && File.Exists(Path.Combine(d, "diffid")), d));
    }
}
