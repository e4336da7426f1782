using Wharf.Engine;

namespace Wharf.Cli.Output;

/// <summary>
/// Renders an engine verb's progress as plain lines, each flushed at once so they interleave in
/// order with what a RUN step's container writes to the same terminal.
/// </summary>
/// <param name="steps">Where progress lines go (podman: stderr for commit, stdout for build).</param>
/// <param name="errors">Where warnings and failure lines go: stderr.</param>
/// <param name="warningPrefix">podman's logrus <c>WARN[0000] </c>, or buildah's <c>[Warning] </c>.</param>
/// <param name="quiet">-q: no progress lines.</param>
/// <param name="quietWarnings">-q hides warnings too (podman commit does; build does not).</param>
public sealed class ProgressLines(TextWriter steps, TextWriter errors, string warningPrefix, bool quiet, bool quietWarnings) : IProgressSink
{
    /// <summary>podman's logrus prefix for a warning printed before any time has passed.</summary>
    public const string PodmanWarning = "WARN[0000] ";

    /// <summary>buildah's prefix for a build warning.</summary>
    public const string BuildahWarning = "[Warning] ";

    public void Step(string line)
    {
        if (!quiet)
        {
            Write(steps, line);
        }
    }

    public void Warning(string message)
    {
        if (!(quiet && quietWarnings))
        {
            Write(errors, warningPrefix + message);
        }
    }

    public void Failure(string line) => Write(errors, line);

    private static void Write(TextWriter writer, string line)
    {
        writer.WriteLine(line);
        writer.Flush();
    }
}
