namespace Wharf.Cli.Tests.Containers;

/// <summary>wharf cp both ways, directories, tar on stdin/stdout, running and stopped containers, and symlinks that point out of the container.</summary>
[Collection("containers")]
public sealed class CpTests(ContainerFixture fixture) : IDisposable
{
    private readonly WharfProcess _wharf = CreatePulled(fixture);

    private static WharfProcess CreatePulled(ContainerFixture fixture)
    {
        var w = new WharfProcess();
        w.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        return w;
    }

    public void Dispose() => _wharf.Dispose();

    private string HostFile(string name, string content)
    {
        string path = Path.Combine(_wharf.Dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void Cp_HostToRunningContainer_FileAndDirectoryArrive()
    {
        _wharf.Check("run", "-d", "--name", "cpr", fixture.Image, "sleep", "60");
        string file = HostFile("note.txt", "from host\n");
        string dir = Path.Combine(_wharf.Dir, "tree");
        Directory.CreateDirectory(Path.Combine(dir, "sub"));
        File.WriteAllText(Path.Combine(dir, "sub", "f"), "deep\n");

        Assert.Equal(string.Empty, _wharf.Check("cp", file, "cpr:/tmp/"));
        _wharf.Check("cp", dir, "cpr:/opt");
        _wharf.Check("cp", file, "cpr:/root/renamed.txt");
        Assert.Equal("from host\ndeep\nfrom host\n", _wharf.Check("exec", "cpr", "cat", "/tmp/note.txt", "/opt/tree/sub/f", "/root/renamed.txt"));
    }

    [Fact]
    public void Cp_StoppedContainerToHost_CopiesFilesAndDirectories_AndUnmounts()
    {
        _wharf.Check("run", "--name", "cps", fixture.Image, "sh", "-c", "mkdir -p /opt/out/in; echo made > /opt/out/in/x");
        string dest = Path.Combine(_wharf.Dir, "dest");
        Directory.CreateDirectory(dest);
        _wharf.Check("cp", "cps:/opt/out", dest);
        _wharf.Check("cp", "cps:/etc/motd", Path.Combine(dest, "motd.copy"));
        Assert.Equal("made\n", File.ReadAllText(Path.Combine(dest, "out", "in", "x")));
        Assert.Equal("from the image\n", File.ReadAllText(Path.Combine(dest, "motd.copy")));
        Assert.False(_wharf.AnyMountUnder());
    }

    [Fact]
    public void Cp_SymlinksPointingOutOfTheContainer_StayInsideIt()
    {
        string marker = "wharf-cp-escape-" + Guid.NewGuid().ToString("N");
        _wharf.Check("run", "--name", "esc", fixture.Image, "sh", "-c", "busybox ln -s / /opt/root; busybox ln -s ../../../../../../tmp /opt/up");

        // Writing through /opt/root or /opt/up lands in the container's /tmp, never the host's.
        _wharf.Check("cp", HostFile("a", "one\n"), $"esc:/opt/root/tmp/{marker}");
        _wharf.Check("cp", HostFile("b", "two\n"), $"esc:/opt/up/{marker}-2");
        Assert.False(File.Exists("/tmp/" + marker));
        Assert.False(File.Exists($"/tmp/{marker}-2"));

        // Reading through them reads the container's files.
        string dest = Path.Combine(_wharf.Dir, "passwd.copy");
        _wharf.Check("cp", "esc:/opt/root/etc/passwd", dest);
        Assert.StartsWith("root:x:0:0:root:/root:/bin/sh\njob:x:1000", File.ReadAllText(dest), StringComparison.Ordinal);

        string inside = Path.Combine(_wharf.Dir, "inside");
        Directory.CreateDirectory(inside);
        _wharf.Check("cp", $"esc:/tmp/{marker}", inside);
        _wharf.Check("cp", $"esc:/tmp/{marker}-2", inside);
        Assert.Equal("one\ntwo\n", File.ReadAllText(Path.Combine(inside, marker)) + File.ReadAllText(Path.Combine(inside, marker + "-2")));
    }

    [Fact]
    public void Cp_TarOnStdinAndStdout()
    {
        _wharf.Check("create", "--name", "cpt", fixture.Image, "true");
        string tar = Path.Combine(_wharf.Dir, "d.tar");
        Tools.Check("sh", "-c", _wharf.ShellCommand("cp", "cpt:/opt/d", "-") + " > " + tar);
        Assert.Equal(["d/", "d/a"], Tools.Check("tar", "-tf", tar).Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());

        string src = Path.Combine(_wharf.Dir, "src");
        Directory.CreateDirectory(Path.Combine(src, "pkg"));
        File.WriteAllText(Path.Combine(src, "pkg", "data"), "tarred\n");
        string input = Path.Combine(_wharf.Dir, "in.tar");
        Tools.Check("tar", "-C", src, "-cf", input, "pkg");
        Tools.Check("sh", "-c", _wharf.ShellCommand("cp", "-", "cpt:/root") + " < " + input);
        string back = Path.Combine(_wharf.Dir, "back");
        _wharf.Check("cp", "cpt:/root/pkg/data", back);
        Assert.Equal("tarred\n", File.ReadAllText(back));
    }

    [Fact]
    public void Cp_MissingPathsAndContainers_Fail()
    {
        _wharf.Check("create", "--name", "cpm", fixture.Image, "true");
        Assert.Equal(125, _wharf.Run("cp", "cpm:/no/such", _wharf.Dir).ExitCode);
        Assert.Equal(125, _wharf.Run("cp", Path.Combine(_wharf.Dir, "absent"), "cpm:/tmp").ExitCode);
        Assert.Equal(125, _wharf.Run("cp", "nosuch:/etc/motd", _wharf.Dir).ExitCode);
        Assert.Equal(125, _wharf.Run("cp", HostFile("x", "x"), "cpm:/no/such/dir/x").ExitCode);
    }
}
