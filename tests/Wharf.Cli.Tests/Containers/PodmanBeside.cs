namespace Wharf.Cli.Tests.Containers;

/// <summary>
/// podman beside wharf, for the tests that compare the two: podman (vfs, runc) on the container
/// fixture's store, which holds <c>localhost/bb:1</c>, and on a store of its own that holds nothing.
/// Containers a test names through <see cref="Unique"/> carry a suffix of this instance, so
/// <see cref="Dispose"/> removes exactly those, whether the test passed or failed, and resets the
/// empty store when it was used.
/// </summary>
internal sealed class PodmanBeside : IDisposable
{
    /// <summary>podman's defaults exceed the limits of some test machines; wharf's tests pass these too.</summary>
    public static readonly string[] Limits = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

    private readonly string _shared;
    private readonly string _own = System.IO.Directory.CreateTempSubdirectory("wharf-podman-").FullName;
    private bool _ownUsed;

    public PodmanBeside(ContainerFixture fixture)
    {
        _shared = Path.Combine(fixture.Root, "podman");
        Suffix = Path.GetFileName(_own).Replace("wharf-podman-", string.Empty, StringComparison.Ordinal).ToLowerInvariant();
    }

    /// <summary>Lower-case letters and digits unique to this instance.</summary>
    public string Suffix { get; }

    /// <summary>A private directory for the test's files (env files and the like), removed by <see cref="Dispose"/>.</summary>
    public string Directory => _own;

    /// <summary>A container name of this instance: removed by <see cref="Dispose"/>.</summary>
    public string Unique(string name) => name + "-" + Suffix;

    /// <summary>podman on the fixture's store.</summary>
    public (int ExitCode, string Stdout, string Stderr) Run(params string[] args) => RunAt(_shared, args);

    /// <summary>podman on the fixture's store; fails the test unless it exits 0.</summary>
    public string Check(params string[] args)
    {
        var r = Run(args);
        Assert.True(r.ExitCode == 0, $"podman {string.Join(' ', args)} exited {r.ExitCode}: {r.Stderr}");
        return r.Stdout;
    }

    /// <summary>podman on a store of its own with no image and no container.</summary>
    public (int ExitCode, string Stdout, string Stderr) RunEmpty(params string[] args)
    {
        _ownUsed = true;
        return RunAt(Path.Combine(_own, "empty"), args);
    }

    private static (int ExitCode, string Stdout, string Stderr) RunAt(string dir, string[] args) =>
        Tools.Run("podman", ["--root", Path.Combine(dir, "storage"), "--runroot", Path.Combine(dir, "run"), "--tmpdir", Path.Combine(dir, "tmp"),
            "--storage-driver", "vfs", "--runtime", "runc", .. args]);

    public void Dispose()
    {
        string mine = Unique(string.Empty);
        foreach (string name in Run("ps", "-a", "--format", "{{.Names}}").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (name.EndsWith(mine, StringComparison.Ordinal))
            {
                Run("rm", "-f", "-t", "0", name);
            }
        }

        if (_ownUsed)
        {
            RunEmpty("system", "reset", "-f");
        }

        System.IO.Directory.Delete(_own, recursive: true);
    }
}
