using Wharf.Engine.Containers;

namespace Wharf.Engine.Tests.Containers;

public sealed class RootfsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("wharf-rootfs-").FullName;

    public RootfsTests()
    {
        Directory.CreateDirectory(Path.Combine(_root, "etc"));
        Directory.CreateDirectory(Path.Combine(_root, "bin"));
        File.WriteAllText(Path.Combine(_root, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\njob:x:1000:1000::/home/job:/bin/sh\n");
        File.WriteAllText(Path.Combine(_root, "etc", "group"), "root:x:0:\njob:x:1000:\nvideo:x:44:job\nrender:x:105:job,other\n");
        File.WriteAllText(Path.Combine(_root, "bin", "tool"), "#!/bin/sh\n");
        File.SetUnixFileMode(Path.Combine(_root, "bin", "tool"), (UnixFileMode)0x1ED);
        File.WriteAllText(Path.Combine(_root, "bin", "data"), "x");
        File.CreateSymbolicLink(Path.Combine(_root, "bin", "abs"), "/bin/tool");
        File.CreateSymbolicLink(Path.Combine(_root, "bin", "escape"), "../../../../etc/hostname");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void CheckCommand_ScriptOnABindMount_IsFoundOnTheHostSide()
    {
        string data = Directory.CreateTempSubdirectory("wharf-bind-").FullName;
        try
        {
            string script = Path.Combine(data, "job.sh");
            File.WriteAllText(script, "#!/bin/sh\n");
            File.SetUnixFileMode(script, (UnixFileMode)0x1ED);

            Assert.Equal(127, RootfsPaths.CheckCommand(_root, "/data/job.sh", "/", [])!.ExitCode);
            Assert.Null(RootfsPaths.CheckCommand(_root, "/data/job.sh", "/", [], [$"{data}:/data:ro"]));
            Assert.Null(RootfsPaths.CheckCommand(_root, "./job.sh", "/data", [], [$"{data}:/data"]));
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public void Resolve_AbsoluteSymlink_StaysInsideRoot()
    {
        Assert.Equal(Path.Combine(_root, "bin/tool"), RootfsPaths.Resolve(_root, "/bin/abs"));
    }

    [Fact]
    public void Resolve_DotDotSymlink_ClampedAtRoot()
    {
        Assert.Equal(Path.Combine(_root, "etc/hostname"), RootfsPaths.Resolve(_root, "/bin/escape"));
    }

    [Fact]
    public void CheckCommand_Found_Missing_NotExecutable()
    {
        Assert.Null(RootfsPaths.CheckCommand(_root, "tool", "/", ["PATH=/bin"]));
        Assert.Null(RootfsPaths.CheckCommand(_root, "/bin/abs", "/", []));
        Assert.Equal(127, RootfsPaths.CheckCommand(_root, "nope", "/", ["PATH=/bin"])!.ExitCode);
        Assert.Equal(127, RootfsPaths.CheckCommand(_root, "/bin/nope", "/", [])!.ExitCode);
        Assert.Equal(126, RootfsPaths.CheckCommand(_root, "/bin/data", "/", [])!.ExitCode);
        Assert.Equal(126, RootfsPaths.CheckCommand(_root, "/etc", "/", [])!.ExitCode);
    }

    [Fact]
    public void ResolveUser_NameAndGroups_FromImageFiles()
    {
        var (uid, gid, groups, home) = RootfsPaths.ResolveUser(_root, "job");
        Assert.Equal((1000u, 1000u, "/home/job"), (uid, gid, home));
        Assert.Equal([44u, 105u], groups);
        Assert.Equal((1000u, 44u), RootfsPaths.ResolveUser(_root, "job:video") is var r ? (r.Uid, r.Gid) : default);
        Assert.Equal((4242u, 7u), RootfsPaths.ResolveUser(_root, "4242:7") is var n ? (n.Uid, n.Gid) : default);
        Assert.Equal("/root", RootfsPaths.ResolveUser(_root, string.Empty).Home);
    }

    [Fact]
    public void ResolveUser_UnknownName_Fails()
    {
        var e = Assert.Throws<WharfException>(() => RootfsPaths.ResolveUser(_root, "ghost"));
        Assert.Contains("unable to find user ghost", e.Message, StringComparison.Ordinal);
        Assert.Throws<WharfException>(() => RootfsPaths.ResolveUser(_root, "job:nogroup"));
    }
}
