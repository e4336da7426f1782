using Wharf.Client;

namespace Wharf.Cli;

/// <summary>The process's streams and environment, replaceable so tests can run the CLI in-process.</summary>
public sealed class CliIo
{
    public required TextWriter Out { get; init; }

    public required TextWriter Err { get; init; }

    public required TextReader In { get; init; }

    /// <summary>Raw stdout for binary output (save without -o).</summary>
    public required Func<Stream> OpenStdout { get; init; }

    /// <summary>Raw stderr (logs prints a container's stderr records there).</summary>
    public Func<Stream> OpenStderr { get; init; } = System.Console.OpenStandardError;

    /// <summary>Raw stdin for binary input (load without -i).</summary>
    public required Func<Stream> OpenStdin { get; init; }

    public bool StdinIsTerminal { get; init; }

    public bool StdoutIsTerminal { get; init; }

    /// <summary>Progress bars are drawn only on a terminal that understands cursor movement.</summary>
    public bool StderrIsTerminal { get; init; }

    public HostEnvironment Environment { get; init; } = HostEnvironment.Current;

    /// <summary>Replaces the network transport (tests).</summary>
    public HttpMessageHandler? Transport { get; init; }

    public static CliIo Console() => new()
    {
        Out = System.Console.Out,
        Err = System.Console.Error,
        In = System.Console.In,
        OpenStdout = System.Console.OpenStandardOutput,
        OpenStdin = System.Console.OpenStandardInput,
        StdinIsTerminal = !System.Console.IsInputRedirected,
        StdoutIsTerminal = !System.Console.IsOutputRedirected,
        StderrIsTerminal = !System.Console.IsErrorRedirected && System.Environment.GetEnvironmentVariable("TERM") is not (null or "" or "dumb"),
    };
}
