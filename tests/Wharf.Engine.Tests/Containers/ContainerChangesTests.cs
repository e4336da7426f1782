using System.Runtime.InteropServices;
using Wharf.Engine.Containers;

namespace Wharf.Engine.Tests.Containers;

/// <summary>Reading an overlay upper dir made by hand: whiteouts (0/0 char devices), opaque dirs, left-out mount points.</summary>
public sealed partial class ContainerChangesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-changes-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mknod(string path, uint mode, ulong dev);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int lsetxattr(string path, string name, byte[] value, nuint size, int flags);

    private string Make(string path, string? content = null)
    {
        string full = Path.Combine(_dir, path);
        if (content is null)
        {
            Directory.CreateDirectory(full);
        }
        else
        {
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, content);
        }

        return full;
    }

    [Fact]
    public void Compute_WhiteoutOpaqueAddedAndMountPoints_AsPodmanDiff()
    {
        Make("lower/etc/motd", "m");
        Make("lower/etc/keep", "k");
        Make("lower/opt/d/a", "a");
        Make("lower/bin/cat", "c");
        Make("upper/etc");
        Assert.Equal(0, mknod(Path.Combine(_dir, "upper/etc/motd"), 0x2000, 0));
        Make("upper/etc/hosts", string.Empty);
        string opaque = Make("upper/opt/d");
        Assert.Equal(0, lsetxattr(opaque, "trusted.overlay.opaque", "y"u8.ToArray(), 1, 0));
        Make("upper/opt/d/b", "b");
        Make("upper/proc");
        Make("upper/new/file", "n");
        Make("upper/bin");

        var changes = ContainerChanges.Compute(Path.Combine(_dir, "upper"), [Path.Combine(_dir, "lower")], ["/etc/hosts"], []);
        var lines = changes.Select(c => $"{c.Kind.ToString()[0]} {c.Path}").ToList();
        Assert.Equal(["C /etc", "D /etc/motd", "A /new", "A /new/file", "C /opt", "D /opt/d", "A /opt/d/b"], lines);
        Assert.True(changes.Single(c => c.Path == "/opt/d").Opaque);
        Assert.True(changes.Single(c => c.Path == "/etc/motd").Whiteout);
    }
}
