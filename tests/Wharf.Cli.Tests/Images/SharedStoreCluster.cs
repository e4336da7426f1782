using System.Text.Json.Nodes;
using Wharf.Cli.Tests.Containers;
using Wharf.Cli.Tests.Rootless;
using Wharf.Testing;

namespace Wharf.Cli.Tests.Images;

/// <summary>
/// One machine playing a cluster for the shared-store tests (docs/shared-store.md): a private
/// directory holding the shared store, "nodes" (wharf processes with their own stores and
/// runroots) whose storage.conf names it in <c>additionalimagestores</c>, and wharfd instances
/// of the test's own to pull from. Disposing it removes the directory; each node and wharfd is
/// disposed by the test that made it.
/// </summary>
internal sealed class SharedStoreCluster(ContainerFixture fixture, string prefix) : IDisposable
{
    private readonly TempDirectory _dir = new(prefix);

    /// <summary>The test's private directory; the shared store is <see cref="Shared"/> inside it.</summary>
    public string Dir => _dir.Path;

    public string Shared => Path.Combine(_dir.Path, "shared");

    public void Dispose() => _dir.Dispose();

    /// <summary>A node: its own store, reading storage.conf that names the shared store (and, when given, more).</summary>
    public WharfProcess Node(params string[] moreStores)
    {
        var node = new WharfProcess();
        string conf = Path.Combine(node.Dir, "storage.conf");
        string stores = string.Join(", ", new[] { Shared }.Concat(moreStores).Select(s => $"\"{s}\""));
        File.WriteAllText(conf, $"[storage]\ndriver = \"overlay\"\ngraphroot = \"{node.GraphRoot}\"\n\n[storage.options]\nadditionalimagestores = [{stores}]\n");
        node.Env["CONTAINERS_STORAGE_CONF"] = conf;
        return node;
    }

    /// <summary>
    /// The unprivileged test account (with subuid ranges) as a node: the cluster's directory opened for
    /// it to read, and its own ~/.config/containers/storage.conf naming the shared store, as a user
    /// on a real node would write it. The caller disposes the session.
    /// </summary>
    public RootlessUser.Session RootlessNode()
    {
        Tools.Check("chmod", "0755", Dir);
        var user = new RootlessUser.Session(RootlessUser.WithRanges);
        string config = Path.Combine(user.Home, ".config", "containers");
        Directory.CreateDirectory(config);
        File.WriteAllText(Path.Combine(config, "storage.conf"), $"[storage]\ndriver = \"overlay\"\n\n[storage.options]\nadditionalimagestores = [\"{Shared}\"]\n");
        Tools.Check("chown", "-R", $"{user.Uid}:{user.Gid}", Path.Combine(user.Home, ".config"));
        return user;
    }

    /// <summary>A wharfd of the test's own with a public project <c>lab</c> holding the fixture's image as <c>lab/bb:1</c>.</summary>
    public WharfdProcess StartRegistry(WharfdOptions? options = null)
    {
        var wharfd = WharfdProcess.Start(options ?? new WharfdOptions());
        try
        {
            wharfd.CreateProjectAsync("lab", isPublic: true).GetAwaiter().GetResult();
            Push(wharfd, "lab/bb:1");
            return wharfd;
        }
        catch
        {
            wharfd.Dispose();
            throw;
        }
    }

    /// <summary>podman pushes a local image of the fixture (<c>localhost/bb:1</c> by default) to <paramref name="target"/> (<c>project/repo:tag</c>).</summary>
    public void Push(WharfdProcess wharfd, string target, string source = "localhost/bb:1") =>
        fixture.Podman("push", "-q", "--tls-verify=false", "--creds", ContainerFixture.Creds, source, $"{wharfd.Host}/{target}");

    /// <summary>
    /// Pushes a two-platform image index to <paramref name="target"/>: the fixture's files (an
    /// image of its own, so the fixture's images are never touched) as linux/amd64, and an image
    /// with another config as linux/arm64. Returns the index digest.
    /// </summary>
    public string PushIndex(WharfdProcess wharfd, string target)
    {
        string suffix = Guid.NewGuid().ToString("N")[..8];
        string list = $"localhost/multi-{suffix}:1", amd64 = $"localhost/bb-amd64-{suffix}:1", arm64 = $"localhost/bb-arm64-{suffix}:1";
        string tar = Path.Combine(fixture.Root, "rootfs.tar");
        string digestFile = Path.Combine(Dir, "index.digest");
        fixture.Podman("import", "-q", "-c", "CMD [\"sh\"]", tar, amd64);
        fixture.Podman("import", "-q", "-c", "CMD [\"true\"]", tar, arm64);
        try
        {
            fixture.Podman("manifest", "create", list);
            fixture.Podman("manifest", "add", "--os", "linux", "--arch", "amd64", list, "containers-storage:" + amd64);
            fixture.Podman("manifest", "add", "--os", "linux", "--arch", "arm64", list, "containers-storage:" + arm64);
            fixture.Podman("manifest", "push", "-q", "--all", "--tls-verify=false", "--creds", ContainerFixture.Creds, "--digestfile", digestFile, list, $"docker://{wharfd.Host}/{target}");
            return File.ReadAllText(digestFile).Trim();
        }
        finally
        {
            // The list by manifest rm (rmi of a list may take its images along), then each image alone; best effort.
            string[] podman = ["podman", "--root", Path.Combine(fixture.Root, "podman", "storage"), "--runroot", Path.Combine(fixture.Root, "podman", "run"), "--tmpdir", Path.Combine(fixture.Root, "podman", "tmp"), "--storage-driver", "vfs"];
            Tools.Run(podman[0], [.. podman[1..], "manifest", "rm", list]);
            Tools.Run(podman[0], [.. podman[1..], "rmi", amd64, arm64]);
        }
    }

    /// <summary>The names in the shared store's index, sorted.</summary>
    public string[] PublishedNames()
    {
        string index = Path.Combine(Shared, "wharf", "images.json");
        return File.Exists(index)
            ? [.. JsonNode.Parse(File.ReadAllText(index))!.AsArray().SelectMany(i => i!["names"]!.AsArray().Select(n => (string)n!)).Order(StringComparer.Ordinal)]
            : [];
    }

    /// <summary>The shared store's layer directories (<c>wharf/layers/&lt;chain&gt;</c>).</summary>
    public string[] LayerDirs() =>
        Directory.Exists(Path.Combine(Shared, "wharf", "layers")) ? Directory.GetDirectories(Path.Combine(Shared, "wharf", "layers")) : [];

    /// <summary>Whether a node's own store holds no blob and no unpacked layer: everything it ran came from the shared store.</summary>
    public static bool CopiedNothing(WharfProcess node)
    {
        string blobs = Path.Combine(node.GraphRoot, "wharf", "blobs", "sha256");
        string layers = Path.Combine(node.GraphRoot, "wharf", "layers");
        return (!Directory.Exists(blobs) || Directory.GetFiles(blobs).Length == 0)
            && (!Directory.Exists(layers) || !Directory.GetDirectories(layers).Any(d => Path.GetFileName(d) is not ("tmp" or "pulled")));
    }
}
