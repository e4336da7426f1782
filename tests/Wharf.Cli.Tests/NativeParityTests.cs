using System.Formats.Tar;
using Wharf.Cli.Tests.Containers;

namespace Wharf.Cli.Tests;

/// <summary>
/// The published wharf (NativeAOT when WHARF_CLI names it, as under test.sh) and the in-process
/// JIT build print byte-identical JSON for the same store, and each reads what the other wrote:
/// source-generated serialization must not change a wire format.
/// </summary>
public sealed class NativeParityTests : IDisposable
{
    private readonly WharfProcess _published = new();
    private readonly WharfRunner _inProcess = new();

    public NativeParityTests()
    {
        // Both read the same configuration; the store is the published one's --root/--runroot.
        foreach (var (k, v) in _inProcess.Variables)
        {
            _published.Env[k] = v;
        }
    }

    public void Dispose()
    {
        _published.Run("rm", "-a", "-f");
        _published.Dispose();
        _inProcess.Dispose();
    }

    private string InProcess(params string[] args)
    {
        var result = _inProcess.RunInProcess([.. _published.GlobalArgs, .. args]);
        Assert.True(result.ExitCode == 0, $"in-process wharf {string.Join(' ', args)} exited {result.ExitCode}: {result.Stderr}");
        return result.Stdout;
    }

    private string ImportImage()
    {
        string tar = Path.Combine(_published.Dir, "rootfs.tar");
        using (var stream = File.Create(tar))
        using (var w = new TarWriter(stream, TarEntryFormat.Pax))
        {
            var entry = new PaxTarEntry(TarEntryType.RegularFile, "etc/motd") { DataStream = new MemoryStream("hello\n"u8.ToArray()) };
            w.WriteEntry(entry);
        }

        // Non-ASCII, HTML-sensitive characters and quotes: escaping is where serializers differ.
        _published.Check("import", "-q", "-c", "CMD [\"cat\", \"/etc/motd\"]", "-c", "ENV NOTE=\"é<b>&'x'\"", "-m", "naïve \"msg\"", tar, "example.com/lab/parity:1");
        _published.Check("tag", "example.com/lab/parity:1", "parity:2");
        return "example.com/lab/parity:1";
    }

    [Theory]
    [InlineData("images --format json")]
    [InlineData("images -a --format json")]
    [InlineData("image inspect parity:2")]
    [InlineData("history --format json parity:2")]
    public void ImageJson_PublishedAndInProcess_ByteIdentical(string command)
    {
        string[] args = command.Split(' ');
        ImportImage();

        string published = _published.Check(args);
        string inProcess = InProcess(args);

        Assert.Equal(inProcess, published);
        Assert.NotEmpty(System.Text.Json.Nodes.JsonNode.Parse(published)!.AsArray());
    }

    [Fact]
    public void ContainerInspect_RecordsWrittenByEither_ByteIdenticalFromBoth()
    {
        string image = ImportImage();
        _published.Check("create", "--name", "by-published", "--env", "X=ü\"\\", "--label", "a=<b>", image);
        InProcess("create", "--name", "by-in-process", "--env", "X=ü\"\\", "--label", "a=<b>", image);

        foreach (string name in new[] { "by-published", "by-in-process" })
        {
            string published = _published.Check("container", "inspect", name);
            Assert.Equal(InProcess("container", "inspect", name), published);
            Assert.Contains(name, published, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void VolumeInspect_PublishedAndInProcess_ByteIdentical()
    {
        _published.Check("volume", "create", "data");

        Assert.Equal(InProcess("volume", "inspect", "data"), _published.Check("volume", "inspect", "data"));
        Assert.Equal(InProcess("volume", "ls", "--format", "json"), _published.Check("volume", "ls", "--format", "json"));
    }
}
