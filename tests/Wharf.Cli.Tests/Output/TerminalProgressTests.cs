using Wharf.Cli.Output;
using Wharf.Oci;

namespace Wharf.Cli.Tests.Output;

public sealed class TerminalProgressTests
{
    private static readonly Descriptor Layer = new() { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Parse("sha256:" + new string('a', 64)), Size = 4 * 1024 * 1024 };
    private static readonly Descriptor Config = new() { MediaType = MediaTypes.OciConfig, Digest = Digest.Parse("sha256:" + new string('b', 64)), Size = 400 };

    [Fact]
    public void Progress_BlobsAdvanceAndFinish_RedrawsInPlaceAndEndsWithDone()
    {
        var err = new StringWriter();
        var progress = new TerminalProgress(err);

        progress.Begin("Copying blob", Layer);
        progress.Begin("Copying config", Config);
        progress.End(Config, "done");
        progress.Advance(Layer, 2 * 1024 * 1024);
        progress.End(Layer, "skipped: already exists");
        progress.Complete();

        string output = err.ToString();
        Assert.Contains("\u001b[2A", output, StringComparison.Ordinal); // two lines redrawn in place
        Assert.Contains($"Copying blob {Layer.Digest} [>-----------------------------] 0B / 4.0MiB", output, StringComparison.Ordinal);
        string[] last = output.Split("\u001b[2A")[^1].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal($"\u001b[2KCopying blob {Layer.Digest} skipped: already exists", last[0].TrimEnd('\r'));
        Assert.Equal($"\u001b[2KCopying config {Config.Digest} done", last[1].TrimEnd('\r'));
    }
}
