using System.Text.Json.Nodes;
using Wharf.Cli.Tests.Containers;

namespace Wharf.Cli.Tests.Build;

/// <summary>The same Dockerfile built by wharf and by podman: same files, same config; each runs under the other.</summary>
[Collection("build")]
public sealed class PodmanInteropTests : IDisposable
{
    private const string Dockerfile = BuildTests.Base + """
        ENV APP=/app PATH=/usr/local/bin:/usr/bin:/bin
        WORKDIR /app
        COPY a.txt ./
        COPY --chown=1000:1000 dir/ /srv/
        RUN mkdir -p /data && echo made > /data/f && chmod 640 /data/f && ln -s /data/f /app/link
        LABEL team=hpc
        EXPOSE 8080 53/udp
        USER 1000
        ENTRYPOINT ["/bin/sh", "-c"]
        CMD ["cat /app/a.txt /data/f"]
        """;

    // Empty mount points and files buildah leaves in RUN layers; wharf's commit leaves them out.
    private static readonly string[] BuildahMountPoints = ["./dev", "./proc", "./sys", "./etc/hostname", "./etc/hosts", "./etc/resolv.conf"];

    private readonly WharfProcess _wharf = new();

    public PodmanInteropTests()
    {
        BuildTools.Ensure();
        Context = Path.Combine(_wharf.Dir, "ctx");
        Directory.CreateDirectory(Path.Combine(Context, "dir", "sub"));
        File.Copy("/bin/busybox", Path.Combine(Context, "busybox"));
        File.WriteAllText(Path.Combine(Context, "a.txt"), "from a\n");
        File.WriteAllText(Path.Combine(Context, "dir", "sub", "s.txt"), "s\n");
        File.WriteAllText(Path.Combine(Context, "Dockerfile"), Dockerfile);
    }

    private string Context { get; }

    private string PodmanDir => Path.Combine(_wharf.Dir, "podman");

    /// <summary>
    /// podman with its own store, runc and its own --tmpdir: the default /run/libpod is shared by every
    /// podman on the machine, and this store's reset must not pull it from under them.
    /// </summary>
    private string[] PodmanGlobals =>
        ["--root", Path.Combine(PodmanDir, "storage"), "--runroot", Path.Combine(PodmanDir, "run"), "--tmpdir", Path.Combine(PodmanDir, "tmp"), "--storage-driver", "vfs", "--runtime", "runc"];

    private string Podman(params string[] args) => Tools.Check("podman", [.. PodmanGlobals, .. args]);

    public void Dispose()
    {
        Tools.Run("podman", [.. PodmanGlobals, "system", "reset", "-f"]);
        _wharf.Dispose();
    }

    [Fact]
    public void Build_SameDockerfile_WharfAndPodmanAgreeOnFilesAndConfigAndRunEachOther()
    {
        Podman("build", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "-q", "-t", "interop:1", Context);
        _wharf.Check("build", "-q", "-t", "interop:1", Context);

        var podmanConfig = JsonNode.Parse(Podman("inspect", "localhost/interop:1"))!.AsArray()[0]!["Config"]!.AsObject();
        var wharfConfig = JsonNode.Parse(_wharf.Check("inspect", "localhost/interop:1"))!.AsArray()[0]!["Config"]!.AsObject();
        (podmanConfig["Labels"] as JsonObject)?.Remove("io.buildah.version");
        foreach (string field in new[] { "Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts" })
        {
            Assert.True(JsonNode.DeepEquals(podmanConfig[field], wharfConfig[field]), $"{field}: podman {podmanConfig[field]?.ToJsonString()} wharf {wharfConfig[field]?.ToJsonString()}");
        }

        string podmanTar = Path.Combine(_wharf.Dir, "podman.tar"), wharfTar = Path.Combine(_wharf.Dir, "wharf.tar");
        Podman("save", "-q", "-o", podmanTar, "localhost/interop:1");
        _wharf.Check("save", "-q", "-o", wharfTar, "localhost/interop:1");
        var podmanFiles = Flatten(podmanTar).Where(l => !l.Split(" ").Any(BuildahMountPoints.Contains)).ToList();
        var wharfFiles = Flatten(wharfTar);
        Assert.Equal(podmanFiles, wharfFiles);
        Assert.Contains(wharfFiles, l => l.StartsWith("./srv/sub/s.txt f 644 1000 1000", StringComparison.Ordinal));
        Assert.Contains(wharfFiles, l => l.StartsWith("./data/f f 640 0 0", StringComparison.Ordinal));

        // Each tool runs the other's image.
        _wharf.Check("load", "-q", "-i", podmanTar);
        Podman("tag", "localhost/interop:1", "localhost/mine:1");
        Podman("rmi", "localhost/interop:1");
        Podman("load", "-q", "-i", wharfTar);
        Assert.Equal("from a\nmade\n", Podman("run", "--rm", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "localhost/interop:1"));
        Assert.Equal("from a\nmade\n", _wharf.Check("run", "--rm", "localhost/interop:1"));
    }

    /// <summary>The image's files after applying its layers in order: path, type, mode, owner, link target, content hash.</summary>
    private List<string> Flatten(string archive)
    {
        string dir = Path.Combine(_wharf.Dir, Path.GetFileNameWithoutExtension(archive));
        string root = dir + "-root";
        Directory.CreateDirectory(dir);
        Directory.CreateDirectory(root);
        Tools.Check("tar", "-C", dir, "-xf", archive);
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json")))!.AsArray()[0]!;
        foreach (var layer in manifest["Layers"]!.AsArray())
        {
            Tools.Check("tar", "-C", root, "-xf", Path.Combine(dir, layer!.GetValue<string>()));
        }

        string listing = Tools.Check("sh", "-c", $"cd '{root}' && find . -printf '%p %y %m %U %G %l\\n' | sort && find . -type f -exec sha256sum {{}} + | sort");
        return [.. listing.Split('\n', StringSplitOptions.RemoveEmptyEntries)];
    }
}
