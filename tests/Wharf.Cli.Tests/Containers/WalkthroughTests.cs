namespace Wharf.Cli.Tests.Containers;

/// <summary>The cluster guide's walkthrough with real runc, overlay, a terminal, wharfd and podman.</summary>
[Collection("containers")]
public sealed class WalkthroughTests(ContainerFixture fixture)
{
    [Fact]
    public async Task Walkthrough_PullRunItChangeCommitPush_PodmanRunsTheChange()
    {
        using var wharf = new WharfProcess();
        wharf.Check("pull", "-q", "--tls-verify=false", fixture.Image);

        // run -it through a pseudo-terminal (script(1)); the shell reads what is typed into it.
        string typed = "test -t 0 && echo tty-ok; echo installed-tool > /opt/tool; rm /etc/motd; exit 0\n";
        var (code0, screen) = await Terminal.RunAsync(wharf.ShellCommand("run", "-it", "--name", "builder", fixture.Image, "sh"), typed, TimeSpan.FromMilliseconds(1500));
        Assert.Equal(0, code0);
        Assert.Contains("tty-ok", screen, StringComparison.Ordinal);

        string ps = wharf.Check("ps", "-a");
        string[] lines = ps.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("CONTAINER ID  IMAGE", lines[0], StringComparison.Ordinal);
        Assert.Contains("PORTS       NAMES", lines[0], StringComparison.Ordinal);
        Assert.Matches(@"^[0-9a-f]{12}  " + System.Text.RegularExpressions.Regex.Escape(fixture.Image) + @"\s+sh\s+.* ago\s+Exited \(0\) .* ago\s+builder$", lines[1]);

        var diff = wharf.Check("diff", "builder").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("A /opt/tool", diff);
        Assert.Contains("D /etc/motd", diff);
        Assert.DoesNotContain("A /etc/hosts", diff);

        var (code, id, stderr) = wharf.Run("commit", "builder", "tooled:1");
        Assert.Equal(0, code);
        Assert.Matches("^[0-9a-f]{64}\n$", id);
        Assert.Contains("Writing manifest to image destination", stderr, StringComparison.Ordinal);
        Assert.Contains(id.Trim()[..12], wharf.Check("images"), StringComparison.Ordinal);

        string target = $"{fixture.Registry}/lab/tooled:{Guid.NewGuid():N}";
        wharf.Check("push", "--tls-verify=false", "--creds", ContainerFixture.Creds, "tooled:1", target);

        string podmanDir = Path.Combine(wharf.Dir, "podman");
        ContainerFixture.PodmanAt(podmanDir, "pull", "-q", "--tls-verify=false", target);
        string shown = ContainerFixture.PodmanAt(podmanDir, "run", "--rm", "--network", "none",
            "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", target, "sh", "-c", "cat /opt/tool; test -e /etc/motd || echo motd-gone");
        Assert.Equal("installed-tool\nmotd-gone\n", shown);
        Tools.Run("podman", "--root", Path.Combine(podmanDir, "storage"), "--runroot", Path.Combine(podmanDir, "run"), "--tmpdir", Path.Combine(podmanDir, "tmp"), "--storage-driver", "vfs", "system", "reset", "-f");

        // The committed image runs in wharf too, and the original image is unchanged.
        Assert.Equal("installed-tool\n", wharf.Check("run", "--rm", "tooled:1", "cat", "/opt/tool"));
        Assert.Equal("from the image\n", wharf.Check("run", "--rm", fixture.Image, "cat", "/etc/motd"));
    }
}

/// <summary>Pull leaves layers unpacked, as podman's does, so the first run has nothing to unpack.</summary>
[Collection("containers")]
public sealed class UnpackOnPullTests(ContainerFixture fixture)
{
    private static string[] LayerDirs(WharfProcess wharf)
    {
        string layers = Path.Combine(wharf.GraphRoot, "wharf", "layers");
        return Directory.Exists(layers)
            ? [.. Directory.EnumerateDirectories(layers).Select(Path.GetFileName).Where(n => n is not ("tmp" or "pulled"))!]
            : [];
    }

    [Fact]
    public void Pull_GzipLayers_UnpackedByChainIdAndNothingLeftStaged()
    {
        using var wharf = new WharfProcess();
        wharf.Check("pull", "-q", "--tls-verify=false", fixture.Image);

        string[] dirs = LayerDirs(wharf);
        Assert.NotEmpty(dirs);
        Assert.All(dirs, d => Assert.True(File.Exists(Path.Combine(wharf.GraphRoot, "wharf", "layers", d, "diffid"))));
        string pulled = Path.Combine(wharf.GraphRoot, "wharf", "layers", "pulled");
        Assert.True(!Directory.Exists(pulled) || !Directory.EnumerateFileSystemEntries(pulled).Any(), "staged layers left behind");

        // The first run uses them as they are: no new layer directory appears.
        Assert.Equal("from the image\n", wharf.Check("run", "--rm", fixture.Image, "cat", "/etc/motd"));
        Assert.Equal(dirs.Order(), LayerDirs(wharf).Order());
        Assert.Contains("MB", wharf.Check("images"), StringComparison.Ordinal);
    }

    [Fact]
    public void Pull_UnpackOnPullOff_OnlyBlobsUntilTheFirstRun()
    {
        using var wharf = new WharfProcess();
        wharf.Env["WHARF_UNPACK_ON_PULL"] = "0";
        wharf.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        Assert.Empty(LayerDirs(wharf));

        Assert.Equal("from the image\n", wharf.Check("run", "--rm", fixture.Image, "cat", "/etc/motd"));
        Assert.NotEmpty(LayerDirs(wharf));
    }
}
