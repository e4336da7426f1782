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
    public async Task Unpack_DeviceNodeUnprivileged_IsSkipped()
    {
        byte[] tar = Tar(w => w.WriteEntry(new PaxTarEntry(TarEntryType.CharacterDevice, "dev/null") { DeviceMajor = 1, DeviceMinor = 3 }));
        var report = await LayerUnpacker.UnpackAsync(new MemoryStream(tar), Root, new LayerUnpackOptions { Privileged = false });
        Assert.False(System.IO.File.Exists(Path.Combine(Root, "dev/null")));
        Assert.Contains(report.Skipped, s => s.Contains("dev/null", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Unpack_DeviceNodeAndOverlayWhiteouts_AsRoot()
    {
        if (LayerNative.geteuid() != 0)
        {
            return; // needs root: CI runs as root
        }

        byte[] tar = Tar(w =>
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.CharacterDevice, "dev/null") { DeviceMajor = 1, DeviceMinor = 3, Mode = (UnixFileMode)0x1b6 });
            w.WriteEntry(File(".wh.removed", "", default));
            w.WriteEntry(File("d/.wh..wh..opq", "", default));
        });
        await LayerUnpacker.UnpackAsync(new MemoryStream(tar), Root, new LayerUnpackOptions { Whiteouts = WhiteoutMode.Overlay });

        var st = Stat(Path.Combine(Root, "dev/null"));
        Assert.Equal("character special file 1:3", st);
        Assert.Equal("character special file 0:0", Stat(Path.Combine(Root, "removed")));
        Assert.Equal("y", Xattr(Path.Combine(Root, "d"), "trusted.overlay.opaque"));
    }

    private static string Stat(string path)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%F %Hr:%Lr", path]) { RedirectStandardOutput = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        string s = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return s;
    }

    private static string Xattr(string path, string name)
    {
        byte[] buffer = new byte[64];
        long n = getxattr(path, name, buffer, (nuint)buffer.Length);
        return n < 0 ? "" : System.Text.Encoding.ASCII.GetString(buffer, 0, (int)n);
    }

    [System.Runtime.InteropServices.DllImport("libc", CharSet = System.Runtime.InteropServices.CharSet.Ansi)]
    private static extern long getxattr(string path, string name, byte[] value, nuint size);

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

    private static PaxTarEntry Dir(string name, DateTimeOffset when, UnixFileMode mode) =>
        new(TarEntryType.Directory, name) { ModificationTime = when, Mode = mode };
}
