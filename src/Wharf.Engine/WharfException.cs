namespace Wharf.Engine;

/// <summary>A failure the CLI prints as one line <c>Error: message</c>, exiting with <see cref="ExitCode"/>.</summary>
public class WharfException : Exception
{
    public WharfException()
    {
    }

    public WharfException(string message)
        : base(message)
    {
    }

    public WharfException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public WharfException(string message, int exitCode)
        : base(message)
    {
        ExitCode = exitCode;
    }

    /// <summary>125 for wharf's own failures, as podman.</summary>
    public int ExitCode { get; } = 125;
}
