namespace Wharf.Engine;

/// <summary>
/// What an engine verb has to say while it runs. Engines never print: the command line renders
/// these (commit's lines on stderr, build's on stdout, warnings as podman's <c>WARN[0000]</c> lines),
/// and decides what <c>--quiet</c> hides.
/// </summary>
public interface IProgressSink
{
    /// <summary>A progress line: <c>Copying blob …</c>, <c>STEP 2/3: …</c>, <c>--> 1a2b3c</c>.</summary>
    void Step(string line);

    /// <summary>Something the user should know that does not stop the verb.</summary>
    void Warning(string message);

    /// <summary>A line explaining a failure about to be raised (buildah's <c>Dockerfile:3: RUN … exited with status 1</c>).</summary>
    void Failure(string line);
}

/// <summary>Says nothing: for callers with no one to tell.</summary>
public sealed class SilentProgress : IProgressSink
{
    public static SilentProgress Instance { get; } = new();

    public void Step(string line)
    {
    }

    public void Warning(string message)
    {
    }

    public void Failure(string line)
    {
    }
}
