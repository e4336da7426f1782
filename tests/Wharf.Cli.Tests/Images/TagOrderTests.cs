using System.Formats.Tar;
using Wharf.Cli.Tests.Containers;

namespace Wharf.Cli.Tests.Images;

/// <summary>
/// tag adds names after the ones an image has, as podman (containers/storage) does: RepoTags,
/// <c>images</c> and rmi's refusal list them in the order they were given, on wharf as on podman.
/// </summary>
public sealed class TagOrderTests : IDisposable
{
    private readonly WharfProcess _wharf = new();
    private readonly string _podmanDir = Directory.CreateTempSubdirectory("wharf-tag-podman-").FullName;

    public void Dispose()
    {
        _wharf.Dispose();
        Tools.Run("podman", [.. PodmanGlobals, "system", "reset", "-f"]);
        try
        {
            Directory.Delete(_podmanDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private string[] PodmanGlobals =>
        ["--root", Path.Combine(_podmanDir, "storage"), "--runroot", Path.Combine(_podmanDir, "run"), "--tmpdir", Path.Combine(_podmanDir, "tmp"), "--storage-driver", "vfs"];

    private (int ExitCode, string Stdout, string Stderr) Podman(params string[] args) => Tools.Run("podman", [.. PodmanGlobals, .. args]);

    [Fact]
    public void Tag_NewNamesAppended_ExistingNameKeepsItsPlace_AsPodman()
    {
        Tools.EnsureTool("podman", "podman");
        string tar = Path.Combine(_wharf.Dir, "rootfs.tar");
        using (var stream = File.Create(tar))
        using (var w = new TarWriter(stream, TarEntryFormat.Pax))
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "etc/motd") { DataStream = new MemoryStream("tags\n"u8.ToArray()) });
        }

        var steps = new[]
        {
            new[] { "import", "-q", tar, "localhost/a:1" },
            ["tag", "localhost/a:1", "b:2", "c:3"],
            ["tag", "a:1", "d:4"],
            ["tag", "a:1", "b:2"],
            ["tag", "a:1", "a:1"],
        };
        foreach (string[] step in steps)
        {
            Assert.Equal(0, Podman(step).ExitCode);
            _wharf.Check(step);
        }

        string[] inspect = ["image", "inspect", "--format", "{{.RepoTags}}", "a:1"];
        Assert.Equal("[localhost/a:1 localhost/b:2 localhost/c:3 localhost/d:4]\n", _wharf.Check(inspect));
        Assert.Equal(Podman(inspect).Stdout, _wharf.Check(inspect));
        string[] images = ["images", "--format", "{{.Repository}}:{{.Tag}}"];
        Assert.Equal(Podman(images).Stdout, _wharf.Check(images));

        // A name moved from another image goes last on the image it moves to.
        _wharf.Check("import", "-q", "-c", "ENV OTHER=1", tar, "localhost/other:1");
        Podman("import", "-q", "-c", "ENV OTHER=1", tar, "localhost/other:1");
        _wharf.Check("tag", "other:1", "c:3");
        Podman("tag", "other:1", "c:3");
        string[] other = ["image", "inspect", "--format", "{{.RepoTags}}", "other:1"];
        Assert.Equal(Podman(other).Stdout, _wharf.Check(other));
    }
}
