using Wharf.Cli.Output;

namespace Wharf.Cli.Tests.Output;

public sealed class ProgressLinesTests
{
    [Fact]
    public void Render_CommitStyle_StepsAndPodmanWarningsOnOneStream()
    {
        var err = new StringWriter();
        var progress = new ProgressLines(err, err, ProgressLines.PodmanWarning, quiet: false, quietWarnings: true);

        progress.Warning("COMMENT is not supported");
        progress.Step("Getting image source signatures");

        Assert.Equal("WARN[0000] COMMENT is not supported\nGetting image source signatures\n", err.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Render_QuietBuild_StepsHiddenWarningsAndFailuresKept()
    {
        var output = new StringWriter();
        var err = new StringWriter();
        var progress = new ProgressLines(output, err, ProgressLines.BuildahWarning, quiet: true, quietWarnings: false);

        progress.Step("STEP 1/2: FROM scratch");
        progress.Warning("one or more build args were not consumed: [X]");
        progress.Failure("Dockerfile:2: RUN false exited with status 1");

        Assert.Empty(output.ToString());
        Assert.Equal(
            "[Warning] one or more build args were not consumed: [X]\nDockerfile:2: RUN false exited with status 1\n",
            err.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Render_QuietCommit_WarningsHiddenToo()
    {
        var err = new StringWriter();
        var progress = new ProgressLines(err, err, ProgressLines.PodmanWarning, quiet: true, quietWarnings: true);

        progress.Warning("COMMENT is not supported");
        progress.Step("Storing signatures");

        Assert.Empty(err.ToString());
    }
}
