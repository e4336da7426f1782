using Wharf.Engine.Containers;

namespace Wharf.Engine.Tests.Containers;

/// <summary>Directories the runtime made only to hold its own mount points are not changes a commit records.</summary>
public sealed class ContainerChangesMountParentTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-changes-mp-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Make(string path, string? content = null)
    {
        string full = Path.Combine(_dir, path);
        if (content is null)
        {
            Directory.CreateDirectory(full);
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
    }

    private List<string> Changes(bool forCommit = true) =>
        [.. ContainerChanges.Compute(Path.Combine(_dir, "upper"), [Path.Combine(_dir, "lower")],
            ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run/.containerenv"], [], forCommit)
            .Select(c => $"{c.Kind.ToString()[0]} {c.Path}")];

    [Fact]
    public void Compute_ImageWithoutEtcAndRun_RuntimeMadeDirsNotChanges()
    {
        // A minimal image (one static binary): the runtime made /etc, /run, /proc, /sys, /dev and the mount files.
        Make("lower/hello", "binary");
        foreach (string f in new[] { "upper/etc/hosts", "upper/etc/hostname", "upper/etc/resolv.conf", "upper/run/.containerenv" })
        {
            Make(f, string.Empty);
        }

        foreach (string d in new[] { "upper/proc", "upper/sys", "upper/dev" })
        {
            Make(d);
        }

        Assert.Empty(Changes());

        // A build's RUN step records them, as podman build does.
        Assert.Equal(["A /etc", "A /run"], Changes(forCommit: false));
    }

    [Fact]
    public void Compute_NewEtcWithARealFile_StillAdded()
    {
        Make("lower/hello", "binary");
        Make("upper/etc/hosts", string.Empty);
        Make("upper/etc/motd", "written by the user");
        Make("upper/run/app/pid", "1");

        Assert.Equal(["A /etc", "A /etc/motd", "A /run", "A /run/app", "A /run/app/pid"], Changes());
    }
}
