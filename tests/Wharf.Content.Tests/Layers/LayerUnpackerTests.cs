using Wharf.Content;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using Wharf.Content.Layers;
using Wharf.Oci;

namespace Wharf.Content.Tests.Layers;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class LayerUnpackerTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("wharf-layer-").FullName;

    private string Root => Path.Combine(_work, "root");

    private string Outside => Path.Combine(_work, "outside");

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task Unpack_OrdinaryLayer_KeepsContentModesLinksAndReportsDiffId()
    {
        var when = new DateTimeOffset(2020, 1, 2, 3, 4, 5, TimeSpan.Zero);
        byte[] tar = Tar(w =>
        {
            w.WriteEntry(Dir("etc/", when, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute));
            w.WriteEntry(File("etc/hello", "hi\n", when, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead));
            w.WriteEntry(File("bin/tool", "#!/bin/sh\n", when, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.SetUser));
            w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "etc/link") { LinkName = "/etc/hello" });
            w.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "etc/hard") { LinkName = "etc/hello" });
        });

        var report = await LayerUnpacker.UnpackAsync(new MemoryStream(tar), Root);

        Assert.Equal(Digest.Compute(tar), report.DiffId);
        Assert.Equal("hi\n", await System.IO.File.ReadAllTextAsync(Path.Combine(Root, "etc/hello")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, System.IO.File.GetUnixFileMode(Path.Combine(Root, "etc/hello")));
        Assert.True(System.IO.File.GetUnixFileMode(Path.Combine(Root, "bin/tool")).HasFlag(UnixFileMode.SetUser));
        Assert.Equal(when.UtcDateTime, System.IO.File.GetLastWriteTimeUtc(Path.Combine(Root, "etc/hello")));
        Assert.Equal(when.UtcDateTime, Directory.GetLastWriteTimeUtc(Path.Combine(Root, "etc")));
        Assert.Equal("/etc/hello", new FileInfo(Path.Combine(Root, "etc/link")).LinkTarget);
        Assert.Equal("hi\n", await System.IO.File.ReadAllTextAsync(Path.Combine(Root, "etc/hard")));
    }

    [Fact]
    public async Task Unpack_GzipAndZstd_AreDetectedFromTheBytes()
    {
        byte[] tar = Tar(w => w.WriteEntry(File("a.txt", "compressed", default)));
        using var gz = new MemoryStream();
        await using (var g = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
        {
            g.Write(tar);
        }

        var report = await LayerUnpacker.UnpackAsync(new MemoryStream(gz.ToArray()), Path.Combine(_work, "gz"));
        Assert.Equal(Digest.Compute(tar), report.DiffId);
        Assert.Equal("compressed", await System.IO.File.ReadAllTextAsync(Path.Combine(_work, "gz", "a.txt")));

        using var zstd = new ZstdSharp.Compressor();
        byte[] zs = zstd.Wrap(tar).ToArray();
        var zreport = await LayerUnpacker.UnpackAsync(new MemoryStream(zs), Path.Combine(_work, "zst"));
        Assert.Equal(Digest.Compute(tar), zreport.DiffId);
        Assert.True(System.IO.File.Exists(Path.Combine(_work, "zst", "a.txt")));
    }

    [Theory]
    [InlineData("../outside/evil")]
    [InlineData("a/../../outside/evil")]
    public async Task Unpack_DotDotName_IsRefusedAndNothingIsWrittenOutside(string name)
    {
        byte[] tar = Tar(w => w.WriteEntry(File(name, "x", default)));
        var e = await Assert.ThrowsAsync<LayerException>(() => LayerUnpacker.UnpackAsync(new MemoryStream(tar), Root));
        Assert.Contains("..", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Outside));
    }

    [Fact]
    public async Task Unpack_AbsoluteName_IsRefused()
    {
        string target = Path.Combine(Outside, "abs");
        byte[] tar = Tar(w => w.WriteEntry(File(target, "x", default)));
        var e = await Assert.ThrowsAsync<LayerException>(() => LayerUnpacker.UnpackAsync(new MemoryStream(tar), Root));
        Assert.Contains("absolute", e.Message, StringComparison.Ordinal);
        Assert.False(System.IO.File.Exists(target));
    }

    [Theory]
    [InlineData("../outside")]
    [InlineData("ABSOLUTE")]
    public async Task Unpack_FileThroughSymlinkedDirectory_IsRefused(string linkTarget)
    {
        Directory.CreateDirectory(Outside);
        string target = linkTarget == "ABSOLUTE" ? Outside : linkTarget;
        byte[] tar = Tar(w =>
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "escape") { LinkName = target });
            w.WriteEntry(File("escape/pwned", "x", default));
        });

        var e = await Assert.ThrowsAsync<LayerException>(() => LayerUnpacker.UnpackAsync(new MemoryStream(tar), Root));
        Assert.Contains("symlink", e.Message, StringComparison.Ordinal);
        Assert.False(System.IO.File.Exists(Path.Combine(Outside, "pwned")));
    }

    [Theory]
    [InlineData("symlink")]
    [InlineData("whiteout")]
    [InlineData("opaque")]
    public async Task Unpack_DirectoryReplacedAfterFilesWereWrittenInIt_NextFileWalksAgain(string how)
    {
        // Files in one directory reuse its open descriptor; once the layer replaces that directory
        // (or an ancestor) the next file under the path must see the replacement, never the old one.
        Directory.CreateDirectory(Outside);
        byte[] tar = Tar(w =>
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "a/"));
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "a/d/"));
            w.WriteEntry(File("a/d/one", "1", default));
            switch (how)
            {
                case "symlink":
                    w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "a") { LinkName = Outside });
                    break;
                case "whiteout":
                    w.WriteEntry(File("a/.wh.d", string.Empty, default));
                    break;
                default:
                    w.WriteEntry(File("a/.wh..wh..opq", string.Empty, default));
                    break;
            }

            w.WriteEntry(File("a/d/two", "2", default));
        });

        if (how == "symlink")
        {
            var e = await Assert.ThrowsAsync<LayerException>(() => LayerUnpacker.UnpackAsync(new MemoryStream(tar), Root));
            Assert.Contains("symlink", e.Message, StringComparison.Ordinal);
            Assert.False(Directory.Exists(Path.Combine(Outside, "d")));
            return;
        }

        await LayerUnpacker.UnpackAsync(new MemoryStream(tar), Root, new LayerUnpackOptions { Whiteouts = WhiteoutMode.Apply });
        // A whiteout removes the directory; an opaque marker hides only lower layers' entries, not this layer's.
        Assert.Equal(how == "opaque", System.IO.File.Exists(Path.Combine(Root, "a", "d", "one")));
        Assert.Equal("2", await System.IO.File.ReadAllTextAsync(Path.Combine(Root, "a", "d", "two")));
    }

    [Fact]
    public async Task Unpack_FileOverSymlinkPointingOutside_ReplacesTheLinkNotTheTarget()
    {
        Directory.CreateDirectory(Outside);
        string victim = Path.Combine(Outside, "victim");
        await System.IO.File.WriteAllTextAsync(victim, "original");
        byte[] tar = Tar(w =>
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "f") { LinkName = victim });
            w.WriteEntry(File("f", "replaced", default));
        });

        await LayerUnpacker.UnpackAsync(new MemoryStream(tar), Root);
        Assert.Equal("original", await System.IO.File.ReadAllTextAsync(victim));
        Assert.Equal("replaced", await System.IO.File.ReadAllTextAsync(Path.Combine(Root, "f")));
        Assert.Null(new FileInfo(Path.Combine(Root, "f")).LinkTarget);
    }

    [Fact]
    public async Task Unpack_HardLinkOutsideRoot_IsRefused()
    {
        Directory.CreateDirectory(Outside);
        await System.IO.File.WriteAllTextAsync(Path.Combine(Outside, "secret"), "s");
        byte[] tar = Tar(w => w.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "h") { LinkName = "../outside/secret" }));
        await Assert.ThrowsAsync<LayerException>(() => LayerUnpacker.UnpackAsync(new MemoryStream(tar), Root));
        Assert.False(System.IO.File.Exists(Path.Combine(Root, "h")));
    }

    [Fact]
    public async Task Unpack_HardLinkThroughSymlink_IsRefused()
    {
        Directory.CreateDirectory(Outside);
        await System.IO.File.WriteAllTextAsync(Path.Combine(Outside, "secret"), "s");
        byte[] tar = Tar(w =>
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "dir") { LinkName = Outside });
            w.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "h") { LinkName = "dir/secret" });
        });
        var e = await Assert.ThrowsAsync<LayerException>(() => LayerUnpacker.UnpackAsync(new MemoryStream(tar), Root));
        Assert.Contains("symlink", e.Message, StringComparison.Ordinal);
        Assert.False(System.IO.File.Exists(Path.Combine(Root, "h")));
    }

    [Theory]
    [InlineData(".wh...")]
    [InlineData("sub/.wh...")]
    [InlineData(".wh.")]
    public async Task Unpack_WhiteoutOfDotDot_IsRefused(string name)
    {
        Directory.CreateDirectory(Outside);
        await System.IO.File.WriteAllTextAsync(Path.Combine(Outside, "keep"), "k");
        byte[] tar = Tar(w => w.WriteEntry(File(name, "", default)));
        await Assert.ThrowsAsync<LayerException>(() => LayerUnpacker.UnpackAsync(new MemoryStream(tar), Path.Combine(Outside, "root")));
        Assert.True(System.IO.File.Exists(Path.Combine(Outside, "keep")));
    }

    [Fact]
    public async Task Unpack_ApplyMode_WhiteoutsDeleteLowerFilesAndOpaqueClearsDirectory()
    {
        byte[] lower = Tar(w =>
        {
            w.WriteEntry(File("gone.txt", "1", default));
            w.WriteEntry(File("kept.txt", "2", default));
            w.WriteEntry(File("opq/old1", "3", default));
            w.WriteEntry(File("opq/sub/old2", "4", default));
        });
        byte[] upper = Tar(w =>
        {
            w.WriteEntry(File(".wh.gone.txt", "", default));
            w.WriteEntry(File("opq/new", "5", default));
            w.WriteEntry(File("opq/.wh..wh..opq", "", default));
        });

        await LayerUnpacker.UnpackAsync(new MemoryStream(lower), Root);
        await LayerUnpacker.UnpackAsync(new MemoryStream(upper), Root);

        Assert.False(System.IO.File.Exists(Path.Combine(Root, "gone.txt")));
        Assert.True(System.IO.File.Exists(Path.Combine(Root, "kept.txt")));
        Assert.Equal(new[] { "new" }, Directory.GetFileSystemEntries(Path.Combine(Root, "opq")).Select(Path.GetFileName));
        Assert.False(System.IO.File.Exists(Path.Combine(Root, ".wh.gone.txt")));
    }

    [Fact]
    public async Task Unpack_DeviceNodeRootless_IsSkippedNotAnError()
    {
        // Forced rootless, so the skip is exercised when the tests run as root as well.
        byte[] tar = Tar(w =>
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.CharacterDevice, "dev/null") { DeviceMajor = 1, DeviceMinor = 3 });
            w.WriteEntry(new PaxTarEntry(TarEntryType.BlockDevice, "dev/sda") { DeviceMajor = 8, DeviceMinor = 0 });
            w.WriteEntry(File("etc/after", "still unpacked", default));
        });
        var report = await LayerUnpacker.UnpackAsync(new MemoryStream(tar), Root, new LayerUnpackOptions { CreateDeviceNodes = false });
        Assert.False(Exists(Path.Combine(Root, "dev/null")));
        Assert.False(Exists(Path.Combine(Root, "dev/sda")));
        Assert.Contains(report.Skipped, s => s.Contains("dev/null", StringComparison.Ordinal));
        Assert.Contains(report.Skipped, s => s.Contains("dev/sda", StringComparison.Ordinal));
        Assert.Equal("still unpacked", await System.IO.File.ReadAllTextAsync(Path.Combine(Root, "etc/after")));
    }

    [Fact]
    public async Task Unpack_DeviceNodeAndOverlayWhiteouts_AsRoot()
    {
        RequireRealRoot();
        byte[] tar = Tar(w =>
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.CharacterDevice, "dev/null") { DeviceMajor = 1, DeviceMinor = 3, Mode = (UnixFileMode)0x1b6 });
            w.WriteEntry(File(".wh.removed", "", default));
            w.WriteEntry(File("d/.wh..wh..opq", "", default));
        });
        await LayerUnpacker.UnpackAsync(new MemoryStream(tar), Root, new LayerUnpackOptions { Whiteouts = WhiteoutMode.Overlay });

        var st = Stat(Path.Combine(Root, "dev/null"));
        Assert.Equal("character special file 1:3", st);
        Assert.Equal("666", Stat(Path.Combine(Root, "dev/null"), "%a"));
        Assert.Equal("character special file 0:0", Stat(Path.Combine(Root, "removed")));
        Assert.Equal("y", Xattr(Path.Combine(Root, "d"), "trusted.overlay.opaque"));
    }

    [Theory]
    [InlineData("0 0 4294967295", true)]
    [InlineData("         0          0 4294967295\n", true)]
    [InlineData("         0       1000          1\n         1     100000      65536\n", false)]
    [InlineData("0 100000 65536", false)]
    [InlineData("0 0 4294967295\n4294967295 0 1", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void IsInitial_UidMap_OnlyTheIdentityMapOfEveryIdIsTheHost(string? uidMap, bool initial)
    {
        Assert.Equal(initial, HostIdentity.IsInitial(uidMap));
    }

    [Fact]
    public void IsRealRoot_ThisProcess_MatchesEuidAndUidMap()
    {
        bool expected = LayerNative.geteuid() == 0 && System.IO.File.ReadAllText("/proc/self/uid_map").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries) is ["0", "0", "4294967295"];
        Assert.Equal(expected, HostIdentity.IsRealRoot);
        Assert.Equal(expected, new LayerUnpackOptions().CreateDeviceNodes);
    }

    private const UnixFileMode HostDirMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private const UnixFileMode HostFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const UnixFileMode AllRwx = (UnixFileMode)0x1ff; // 0777

    private const UnixFileMode SetUidRwx = (UnixFileMode)0x9ed; // 04755

    /// <summary>A host directory (0700, owner and time recorded) the layers below aim their symlinks at.</summary>
    private (string Path, string Before) HostDirectory()
    {
        string dir = Path.Combine(Outside, "hostdir");
        Directory.CreateDirectory(dir, HostDirMode);
        System.IO.File.SetUnixFileMode(dir, HostDirMode);
        return (dir, Stat(dir, "%a %u:%g %Y"));
    }

    private (string Path, string Before) HostFile()
    {
        Directory.CreateDirectory(Outside);
        string file = Path.Combine(Outside, "hostfile");
        System.IO.File.WriteAllText(file, "host");
        System.IO.File.SetUnixFileMode(file, HostFileMode);
        System.IO.File.SetLastWriteTimeUtc(file, new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        return (file, Stat(file, "%a %u:%g %Y %s"));
    }

    [Fact]
    public async Task Unpack_DirectoryLaterReplacedBySymlinkToHost_HostDirectoryKeepsModeOwnerAndTime()
    {
        // The directory's 0777 is applied after all entries: it must not land on what "x" became.
        var (host, before) = HostDirectory();
        byte[] tar = Tar(w =>
        {
            w.WriteEntry(Dir("x/", new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero), AllRwx | UnixFileMode.SetGroup, uid: 4321));
            w.WriteEntry(Symlink("x", host));
        });

        await LayerUnpacker.UnpackAsync(new MemoryStream(tar), Root);

        Assert.Equal(before, Stat(host, "%a %u:%g %Y"));
        Assert.Equal(host, new FileInfo(Path.Combine(Root, "x")).LinkTarget);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Unpack_DirectoryEntryOverSymlinkToHost_ReplacesTheLinkAndLeavesHostUntouched(bool symlinkInNextLayer)
    {
        var (host, before) = HostDirectory();
        var when = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);
        void Attack(TarWriter w)
        {
            w.WriteEntry(Symlink("x", host));
            w.WriteEntry(Dir("x/", when, AllRwx, uid: 4321));
            w.WriteEntry(File("x/file", "inside", when, SetUidRwx));
        }

        if (symlinkInNextLayer)
        {
            await LayerUnpacker.UnpackAsync(new MemoryStream(Tar(w => w.WriteEntry(Dir("x/", when, AllRwx)))), Root);
            await LayerUnpacker.UnpackAsync(new MemoryStream(Tar(Attack)), Root);
        }
        else
        {
            await LayerUnpacker.UnpackAsync(new MemoryStream(Tar(w =>
            {
                w.WriteEntry(Dir("x/", when, AllRwx));
                Attack(w);
            })), Root);
        }

        Assert.Equal(before, Stat(host, "%a %u:%g %Y"));
        Assert.Empty(Directory.GetFileSystemEntries(host));
        Assert.Null(new DirectoryInfo(Path.Combine(Root, "x")).LinkTarget);
        Assert.Equal(AllRwx, System.IO.File.GetUnixFileMode(Path.Combine(Root, "x")));
        Assert.Equal("inside", await System.IO.File.ReadAllTextAsync(Path.Combine(Root, "x", "file")));
        Assert.Equal(SetUidRwx, System.IO.File.GetUnixFileMode(Path.Combine(Root, "x", "file")));
    }

    [Fact]
    public async Task Unpack_FileUnderSymlinkToHostInNextLayer_IsRefusedAndHostGetsNoFile()
    {
        var (host, before) = HostDirectory();
        await LayerUnpacker.UnpackAsync(new MemoryStream(Tar(w => w.WriteEntry(Dir("x/", default, AllRwx)))), Root);
        byte[] upper = Tar(w =>
        {
            w.WriteEntry(Symlink("x", host));
            w.WriteEntry(File("x/file", "escaped", default, SetUidRwx));
        });

        var e = await Assert.ThrowsAsync<LayerException>(() => LayerUnpacker.UnpackAsync(new MemoryStream(upper), Root));

        Assert.Contains("symlink", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(host));
        Assert.Equal(before, Stat(host, "%a %u:%g %Y"));
    }

    [Theory]
    [InlineData("file")]
    [InlineData("hardlink")]
    [InlineData("fifo")]
    public async Task Unpack_SetuidEntryOverSymlinkToHostFile_HostFileKeepsModeAndContent(string kind)
    {
        var (host, before) = HostFile();
        byte[] tar = Tar(w =>
        {
            w.WriteEntry(File("t", "layer", default, SetUidRwx));
            w.WriteEntry(Symlink("s", host));
            switch (kind)
            {
                case "file":
                    w.WriteEntry(File("s", "layer", default, SetUidRwx));
                    break;
                case "hardlink":
                    w.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "s") { LinkName = "t", Mode = SetUidRwx });
                    break;
                default:
                    w.WriteEntry(new PaxTarEntry(TarEntryType.Fifo, "s") { Mode = SetUidRwx });
                    break;
            }
        });

        await LayerUnpacker.UnpackAsync(new MemoryStream(tar), Root);

        Assert.Equal(before, Stat(host, "%a %u:%g %Y %s"));
        Assert.Equal("host", await System.IO.File.ReadAllTextAsync(host));
        Assert.Null(new FileInfo(Path.Combine(Root, "s")).LinkTarget);
        if (kind != "fifo")
        {
            Assert.Equal("layer", await System.IO.File.ReadAllTextAsync(Path.Combine(Root, "s")));
            Assert.Equal(SetUidRwx, System.IO.File.GetUnixFileMode(Path.Combine(Root, "s")));
        }
    }

    [Fact]
    public async Task Unpack_SetuidFileLaterReplacedBySymlinkToHostFile_HostFileUntouched()
    {
        var (host, before) = HostFile();
        byte[] tar = Tar(w =>
        {
            w.WriteEntry(File("s", "layer", default, SetUidRwx));
            w.WriteEntry(Symlink("s", host));
        });

        await LayerUnpacker.UnpackAsync(new MemoryStream(tar), Root);

        Assert.Equal(before, Stat(host, "%a %u:%g %Y %s"));
        Assert.Equal(host, new FileInfo(Path.Combine(Root, "s")).LinkTarget);
    }

    [Fact]
    public async Task Unpack_WhiteoutThroughSymlinkToHost_IsRefusedAndHostKeepsItsFile()
    {
        var (host, _) = HostDirectory();
        await System.IO.File.WriteAllTextAsync(Path.Combine(host, "keep"), "k");
        byte[] tar = Tar(w =>
        {
            w.WriteEntry(Symlink("x", host));
            w.WriteEntry(File("x/.wh.keep", "", default));
        });

        await Assert.ThrowsAsync<LayerException>(() => LayerUnpacker.UnpackAsync(new MemoryStream(tar), Root));
        Assert.True(System.IO.File.Exists(Path.Combine(host, "keep")));
    }

    [Fact]
    public async Task Unpack_XattrsOnSymlinkAndFile_SetOnTheEntryNeverOnTheLinkTarget()
    {
        // trusted.* is the one namespace a symlink can carry, and only the host's root may set it.
        RequireRealRoot();
        var (host, _) = HostFile();
        byte[] tar = Tar(w =>
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "l", XattrHeader("trusted.wharf", "link")) { LinkName = host });
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "f", XattrHeader("user.wharf", "file")) { DataStream = new MemoryStream("x"u8.ToArray()), Mode = HostFileMode });
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "d/", XattrHeader("user.wharf", "dir")) { Mode = AllRwx });
        });

        var report = await LayerUnpacker.UnpackAsync(new MemoryStream(tar), Root);

        Assert.Empty(report.Skipped);
        Assert.Equal("link", Xattr(Path.Combine(Root, "l"), "trusted.wharf", follow: false));
        Assert.Equal("file", Xattr(Path.Combine(Root, "f"), "user.wharf"));
        Assert.Equal("dir", Xattr(Path.Combine(Root, "d"), "user.wharf"));
        Assert.Equal("", Xattr(host, "trusted.wharf"));
    }

    [Fact]
    public async Task Unpack_GzipBombOverBudget_StopsEarlyAndRemovesTheLayerDirectory()
    {
        // 2 GiB of zeros in one file, about 2 MB as gzip; the budget is a 100 MB quota.
        const long inflated = 2L << 30, budget = 100L << 20;
        byte[] bomb = GzipOfZeroFile("zeros", inflated);
        Assert.True(bomb.Length < 4 << 20, $"bomb is {bomb.Length} bytes");
        long bytesRead = 0;
        using var source = new Wharf.Content.CountingStream(new MemoryStream(bomb), n => bytesRead += n);

        var e = await Assert.ThrowsAsync<LayerBudgetException>(() =>
            LayerUnpacker.UnpackAsync(source, Root, new LayerUnpackOptions { Budget = new LayerBudget(budget) }));

        Assert.Equal(budget, e.Limit);
        Assert.False(Directory.Exists(Root));

        // It stopped at the budget (~5% of the stream), not after inflating all of it.
        Assert.True(bytesRead < bomb.Length / 4, $"read {bytesRead} of {bomb.Length} compressed bytes");
    }

    [Fact]
    public async Task Unpack_SharedBudget_CountsFileBytesAcrossLayers()
    {
        var budget = new LayerBudget(1000);
        byte[] first = Tar(w => w.WriteEntry(File("a", new string('a', 600), default)));
        byte[] second = Tar(w => w.WriteEntry(File("b", new string('b', 600), default)));

        await LayerUnpacker.UnpackAsync(new MemoryStream(first), Path.Combine(_work, "l1"), new LayerUnpackOptions { Budget = budget });
        Assert.Equal(400, budget.Remaining);
        await Assert.ThrowsAsync<LayerBudgetException>(() =>
            LayerUnpacker.UnpackAsync(new MemoryStream(second), Path.Combine(_work, "l2"), new LayerUnpackOptions { Budget = budget }));

        Assert.True(System.IO.File.Exists(Path.Combine(_work, "l1", "a")));
        Assert.False(Directory.Exists(Path.Combine(_work, "l2")));
    }

    [Fact]
    public async Task Unpack_ModesTheUmaskWouldStrip_AreKeptExactly()
    {
        // Files whose mode survives the umask are created with it and not chmod'ed again; the others must still end exact.
        string[] modes = ["644", "755", "600", "666", "777", "4755", "2711", "1777", "0", "444"];
        byte[] tar = Tar(w =>
        {
            foreach (string m in modes)
            {
                w.WriteEntry(File("m/" + m, "x", default, (UnixFileMode)Convert.ToInt32(m, 8)));
            }
        });

        await LayerUnpacker.UnpackAsync(new MemoryStream(tar), Root);

        foreach (string m in modes)
        {
            Assert.Equal(m, Stat(Path.Combine(Root, "m", m), "%a"));
            Assert.Equal("x", await System.IO.File.ReadAllTextAsync(Path.Combine(Root, "m", m)));
        }
    }

    [Fact]
    public async Task Unpack_RootOwnedFilesInSetgidDirectoryOfAnotherGroup_GetTheLayersOwners()
    {
        // A new file in a setgid directory takes the directory's group: here the chown that a file
        // already owned as the layer says may skip must not be skipped.
        RequireRealRoot();
        Directory.CreateDirectory(Path.Combine(Root, "shared"));
        Assert.Equal(0, chown(Path.Combine(Root, "shared"), 0, 4321));
        System.IO.File.SetUnixFileMode(Path.Combine(Root, "shared"), (UnixFileMode)0x5ed); // 02755
        byte[] tar = Tar(w =>
        {
            w.WriteEntry(File("shared/root", "r", default));
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "shared/user") { DataStream = new MemoryStream("u"u8.ToArray()), Uid = 1000, Gid = 1000, Mode = (UnixFileMode)0x1a4 });
            w.WriteEntry(File("plain/root", "r", default));
        });

        await LayerUnpacker.UnpackAsync(new MemoryStream(tar), Root);

        Assert.Equal("0:0", Stat(Path.Combine(Root, "shared/root"), "%u:%g"));
        Assert.Equal("1000:1000 644", Stat(Path.Combine(Root, "shared/user"), "%u:%g %a"));
        Assert.Equal("0:0", Stat(Path.Combine(Root, "plain/root"), "%u:%g"));
    }

    [Fact]
    public async Task Unpack_EntriesOverEveryKindOfExistingName_ReplaceItWithoutFollowingLinks()
    {
        // Names taken by a lower layer: each create fails with EEXIST first, then the old entry goes.
        var (hostFile, before) = HostFile();
        byte[] lower = Tar(w =>
        {
            w.WriteEntry(File("f", "file", default));
            w.WriteEntry(File("d/child", "child", default));
            w.WriteEntry(Symlink("s", hostFile));
            w.WriteEntry(new PaxTarEntry(TarEntryType.Fifo, "p") { Mode = (UnixFileMode)0x1a4 });
            w.WriteEntry(File("h", "old", default));
            w.WriteEntry(File("target", "target", default));
            w.WriteEntry(Dir("keep/", default, AllRwx));
            w.WriteEntry(File("keep/inside", "kept", default));
        });
        byte[] upper = Tar(w =>
        {
            w.WriteEntry(Dir("f/", default, AllRwx));
            w.WriteEntry(File("d", "now a file", default));
            w.WriteEntry(File("s", "not through the link", default));
            w.WriteEntry(Symlink("p", "f"));
            w.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "h") { LinkName = "target" });
            w.WriteEntry(Dir("keep/", default, AllRwx));
        });

        await LayerUnpacker.UnpackAsync(new MemoryStream(lower), Root);
        await LayerUnpacker.UnpackAsync(new MemoryStream(upper), Root);

        Assert.True(Directory.Exists(Path.Combine(Root, "f")));
        Assert.Equal("now a file", await System.IO.File.ReadAllTextAsync(Path.Combine(Root, "d")));
        Assert.Null(new FileInfo(Path.Combine(Root, "s")).LinkTarget);
        Assert.Equal("not through the link", await System.IO.File.ReadAllTextAsync(Path.Combine(Root, "s")));
        Assert.Equal(before, Stat(hostFile, "%a %u:%g %Y %s"));
        Assert.Equal("f", new FileInfo(Path.Combine(Root, "p")).LinkTarget);
        Assert.Equal("target", await System.IO.File.ReadAllTextAsync(Path.Combine(Root, "h")));
        Assert.Equal(Stat(Path.Combine(Root, "target"), "%i"), Stat(Path.Combine(Root, "h"), "%i"));
        Assert.Equal("kept", await System.IO.File.ReadAllTextAsync(Path.Combine(Root, "keep/inside")));
    }

    [System.Runtime.InteropServices.DllImport("libc", CharSet = System.Runtime.InteropServices.CharSet.Ansi, SetLastError = true)]
    private static extern int chown(string path, int owner, int group);

    /// <summary>A gzip'd tar of one file of zeros, built streaming so the inflated size never sits in memory.</summary>
    private static byte[] GzipOfZeroFile(string name, long size)
    {
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        using (var writer = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new ZeroStream(size) });
        }

        return compressed.ToArray();
    }

    private static void RequireRealRoot() =>
        Assert.True(HostIdentity.IsRealRoot, "needs root: run ./test.sh as root");

    private static bool Exists(string path) => System.IO.File.Exists(path) || Directory.Exists(path) || new FileInfo(path).LinkTarget is not null;

    private static string Stat(string path, string format = "%F %Hr:%Lr")
    {
        var psi = new System.Diagnostics.ProcessStartInfo("stat", ["-c", format, path]) { RedirectStandardOutput = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        string s = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return s;
    }

    private static string Xattr(string path, string name, bool follow = true)
    {
        byte[] buffer = new byte[64];
        long n = follow ? getxattr(path, name, buffer, (nuint)buffer.Length) : lgetxattr(path, name, buffer, (nuint)buffer.Length);
        return n < 0 ? "" : System.Text.Encoding.ASCII.GetString(buffer, 0, (int)n);
    }

    [System.Runtime.InteropServices.DllImport("libc", CharSet = System.Runtime.InteropServices.CharSet.Ansi)]
    private static extern long getxattr(string path, string name, byte[] value, nuint size);

    [System.Runtime.InteropServices.DllImport("libc", CharSet = System.Runtime.InteropServices.CharSet.Ansi)]
    private static extern long lgetxattr(string path, string name, byte[] value, nuint size);

    private static byte[] Tar(Action<TarWriter> write)
    {
        using var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            write(w);
        }

        return ms.ToArray();
    }

    private static PaxTarEntry File(string name, string content, DateTimeOffset when, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite)
    {
        var e = new PaxTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(content)),
            Mode = mode,
        };
        if (when != default)
        {
            e.ModificationTime = when;
        }

        return e;
    }

    private static PaxTarEntry Dir(string name, DateTimeOffset when, UnixFileMode mode, int uid = 0)
    {
        var e = new PaxTarEntry(TarEntryType.Directory, name) { Mode = mode, Uid = uid, Gid = uid };
        if (when != default)
        {
            e.ModificationTime = when;
        }

        return e;
    }

    private static Dictionary<string, string> XattrHeader(string attribute, string value) =>
        new() { ["SCHILY.xattr." + attribute] = value };

    private static PaxTarEntry Symlink(string name, string target) =>
        new(TarEntryType.SymbolicLink, name) { LinkName = target };

    /// <summary>A seekable stream of <c>length</c> zero bytes that holds none of them.</summary>
    private sealed class ZeroStream(long length) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => true;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position { get; set; }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = (int)Math.Min(count, length - Position);
            Array.Clear(buffer, offset, n);
            Position += n;
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => Position + offset,
            _ => length + offset,
        };

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
