namespace Wharf.Cli.Tests;

/// <summary>
/// Two docker-registry 2.8 processes (<see cref="DockerRegistry"/>: one open, one with htpasswd Basic auth) and a
/// private podman store holding a generated image that podman has pushed to the open registry.
/// </summary>
public sealed class RegistryFixture : IDisposable
{
    private readonly List<DockerRegistry> _registries = [];

    public RegistryFixture()
    {
        Tools.EnsureTool("podman", "podman");
        Tools.EnsureTool("htpasswd", "apache2-utils");
        Root = Directory.CreateTempSubdirectory("wharf-cli-it-").FullName;
        try
        {
            OpenPort = StartRegistry("open", auth: null);
            Tools.Check("htpasswd", "-Bbc", Path.Combine(Root, "htpasswd"), "alice", "s3cret");
            AuthPort = StartRegistry("auth", auth: Path.Combine(Root, "htpasswd"));

            // A small image made locally: a tar of a few files imported into a private podman store.
            string rootfs = Path.Combine(Root, "rootfs");
            Directory.CreateDirectory(Path.Combine(rootfs, "etc"));
            File.WriteAllText(Path.Combine(rootfs, "etc", "hello.txt"), "hello from wharf tests\n");
            File.WriteAllBytes(Path.Combine(rootfs, "data.bin"), Enumerable.Range(0, 200_000).Select(i => (byte)(i * 7 % 251)).ToArray());
            string tar = Path.Combine(Root, "layer.tar");
            Tools.Check("tar", "-C", rootfs, "-cf", tar, ".");
            ImageId = Podman("import", "-q", tar, "localhost/fixture:1").Trim().Replace("sha256:", string.Empty, StringComparison.Ordinal);
            Podman("push", "-q", "--tls-verify=false", "localhost/fixture:1", $"{Open}/lab/fixture:1");
        }
        catch
        {
            // xunit does not dispose a fixture whose constructor threw: stop the registries and clean up here.
            Dispose();
            throw;
        }
    }

    public string Root { get; }

    public int OpenPort { get; }

    public int AuthPort { get; }

    public string Open => $"127.0.0.1:{OpenPort}";

    public string Auth => $"127.0.0.1:{AuthPort}";

    /// <summary>The full ID podman gave the imported image.</summary>
    public string ImageId { get; }

    public string Podman(params string[] args) =>
        Tools.Check("podman", [.. PodmanStore, .. args]);

    /// <summary>podman with a store of the caller's own, so other tests' pulls do not show up.</summary>
    public static string PodmanAt(string storeDir, params string[] args) =>
        Tools.Check("podman", ["--root", Path.Combine(storeDir, "storage"), "--runroot", Path.Combine(storeDir, "run"), "--tmpdir", Path.Combine(storeDir, "tmp"), "--storage-driver", "vfs", .. args]);

    public (int ExitCode, string Stdout, string Stderr) PodmanRun(params string[] args) =>
        Tools.Run("podman", [.. PodmanStore, .. args]);

    private string[] PodmanStore =>
        // A private tmpdir too: podman's default /run/libpod is shared with every other podman on the machine.
        ["--root", Path.Combine(Root, "podman", "storage"), "--runroot", Path.Combine(Root, "podman", "run"), "--tmpdir", Path.Combine(Root, "podman", "tmp"), "--storage-driver", "vfs"];

    private int StartRegistry(string name, string? auth)
    {
        var registry = DockerRegistry.Start(name, auth);
        _registries.Add(registry);
        return registry.Port;
    }

    public void Dispose()
    {
        foreach (var registry in _registries)
        {
            registry.Dispose();
        }

        TempDirectory.TryDelete(Root);
    }
}

[CollectionDefinition("registry")]
public sealed class RegistryCollection : ICollectionFixture<RegistryFixture>;
