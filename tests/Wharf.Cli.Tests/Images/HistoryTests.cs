using Wharf.Cli.Tests.Containers;

namespace Wharf.Cli.Tests.Images;

/// <summary>wharf history against podman history of the same image.</summary>
[Collection("containers")]
public sealed class HistoryTests(ContainerFixture fixture) : IDisposable
{
    private readonly WharfProcess _wharf = CreatePulled(fixture);

    private static WharfProcess CreatePulled(ContainerFixture fixture)
    {
        var w = new WharfProcess();
        w.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        return w;
    }

    public void Dispose() => _wharf.Dispose();

    private (int ExitCode, string Stdout, string Stderr) Podman(params string[] args) =>
        Tools.Run("podman", ["--root", Path.Combine(fixture.Root, "podman", "storage"), "--runroot", Path.Combine(fixture.Root, "podman", "run"), "--tmpdir", Path.Combine(fixture.Root, "podman", "tmp"),
            "--storage-driver", "vfs", "--runtime", "runc", .. args]);

    /// <summary>The table's cells, cut at the header's column starts (cells contain spaces).</summary>
    private static List<Dictionary<string, string>> Cells(string table)
    {
        string[] lines = table.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string[] headers = ["ID", "CREATED", "CREATED BY", "SIZE", "COMMENT"];
        int[] starts = [.. headers.Select((h, i) => i == 1 ? lines[0].IndexOf("CREATED ", StringComparison.Ordinal) : lines[0].IndexOf(h, i == 2 ? lines[0].IndexOf("CREATED ", StringComparison.Ordinal) + 8 : 0, StringComparison.Ordinal))];
        return [.. lines.Skip(1).Select(l => headers.Select((h, i) =>
        {
            int from = Math.Min(starts[i], l.Length);
            int to = i + 1 < starts.Length ? Math.Min(starts[i + 1], l.Length) : l.Length;
            return (h, l[from..to].Trim());
        }).ToDictionary(x => x.h, x => x.Item2))];
    }

    [Fact]
    public void History_PulledImage_SameRowsAsPodman()
    {
        string podman = Podman("history", "localhost/bb:1").Stdout;
        string wharf = _wharf.Check("history", fixture.Image);
        Assert.StartsWith("ID            CREATED", wharf, StringComparison.Ordinal);
        var p = Cells(podman);
        var w = Cells(wharf);
        Assert.Equal(p.Count, w.Count);
        foreach (var (pr, wr) in p.Zip(w))
        {
            Assert.Equal((pr["ID"], pr["CREATED BY"], pr["SIZE"], pr["COMMENT"]), (wr["ID"], wr["CREATED BY"], wr["SIZE"], wr["COMMENT"]));
        }

        Assert.Equal(Podman("history", "-q", "localhost/bb:1").Stdout, _wharf.Check("image", "history", "-q", fixture.Image));
        string[] Words(string s) => s.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(Words(Podman("history", "--no-trunc", "localhost/bb:1").Stdout)[6], Words(_wharf.Check("history", "--no-trunc", fixture.Image)));
        Assert.Equal(Podman("history", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}|{{.CreatedAt}}", "localhost/bb:1").Stdout,
            _wharf.Check("history", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}|{{.CreatedAt}}", fixture.Image));
    }

    [Fact]
    public void History_CommittedImage_NewestFirstWithTheLocalBaseImagesId()
    {
        string baseId = _wharf.Check("inspect", "--format", "{{.Id}}", fixture.Image).Trim();
        _wharf.Check("run", "--name", "h", fixture.Image, "sh", "-c", "echo hi > /x");
        string newId = _wharf.Check("commit", "-q", "h", "localhost/hist:1").Trim();

        Assert.Equal($"{newId[..12]}\n{baseId[..12]}\n", _wharf.Check("history", "-q", "localhost/hist:1"));
        string[] rows = _wharf.Check("history", "--no-trunc", "--format", "{{.ID}}|{{.Comment}}|{{.Tags}}", "localhost/hist:1").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal($"{newId}|FROM {fixture.Image}|[localhost/hist:1]", rows[0]);
        Assert.StartsWith($"{baseId}|", rows[1], StringComparison.Ordinal);

        // The base image on its own is not given the committed image's ID.
        Assert.Equal($"{baseId[..12]}\n", _wharf.Check("history", "-q", fixture.Image));
    }

    [Fact]
    public void History_UnknownImage_ErrorAsPodman()
    {
        var p = Podman("history", "localhost/nosuch:1");
        var w = _wharf.Run("history", "localhost/nosuch:1");
        Assert.Equal((p.ExitCode, p.Stderr.Trim()), (w.ExitCode, w.Stderr.Trim()));
    }
}
