using System.ComponentModel;
using System.Diagnostics;

namespace Wharf.Client.Processes;

/// <summary>How a helper program is run: where, with what on stdin, for how long.</summary>
public sealed record ProcessRunOptions
{
    public string? WorkingDirectory { get; init; }

    /// <summary>Written to the program's stdin, which is then closed; stdin is closed at once when null.</summary>
    public string? StandardInput { get; init; }

    /// <summary>After this the whole process tree is killed and <see cref="ProcessTimeoutException"/> thrown; null waits for ever.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Variables set (or, with a null value, removed) on top of this process's environment.</summary>
    public IReadOnlyDictionary<string, string?>? Environment { get; init; }

    /// <summary>The Debian package that provides the program, named when it is missing; looked up by name when null.</summary>
    public string? Package { get; init; }
}

/// <summary>How a program ended and what it wrote.</summary>
public sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError)
{
    public bool Succeeded => ExitCode == 0;
}

/// <summary>The program could not be started: not installed, or not executable.</summary>
public sealed class ProgramNotFoundException : IOException
{
    public ProgramNotFoundException()
    {
    }

    public ProgramNotFoundException(string message)
        : base(message)
    {
    }

    public ProgramNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The program did not finish within its timeout; it and its children were killed.</summary>
public sealed class ProcessTimeoutException : IOException
{
    public ProcessTimeoutException()
    {
    }

    public ProcessTimeoutException(string message)
        : base(message)
    {
    }

    public ProcessTimeoutException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The one way wharf runs a helper program (runc, mount, newuidmap, sbatch, tar, credential
/// helpers…): arguments as a list (never a shell string), stdout and stderr drained concurrently
/// so a chatty program cannot deadlock on a full pipe, stdin always a pipe (so a helper never
/// reads the user's terminal), and on timeout or cancellation the whole process tree is killed —
/// a helper's children must not outlive the wharf that started them.
/// It lives in Wharf.Client because the credential helpers are run there and the engine references
/// Wharf.Client; it uses only the BCL, so it can move to its own project if a third user appears.
/// </summary>
public static class ProcessRunner
{
    // Bounds how long output is still read after a kill: a grandchild that left the tree (setsid, daemon)
    // may hold the pipes open, and that must not turn a timeout into a hang.
    private static readonly TimeSpan DrainAfterKill = TimeSpan.FromSeconds(2);

    private static readonly Dictionary<string, string> Packages = new(StringComparer.Ordinal)
    {
        ["runc"] = "runc",
        ["crun"] = "crun",
        ["fuse-overlayfs"] = "fuse-overlayfs",
        ["fusermount3"] = "fuse3",
        ["mount"] = "mount",
        ["umount"] = "mount",
        ["newuidmap"] = "uidmap",
        ["newgidmap"] = "uidmap",
        ["setsid"] = "util-linux",
        ["unshare"] = "util-linux",
        ["slirp4netns"] = "slirp4netns",
        ["tar"] = "tar",
        ["sbatch"] = "slurm-client",
        ["squeue"] = "slurm-client",
        ["scancel"] = "slurm-client",
        ["sacct"] = "slurm-client",
        ["scontrol"] = "slurm-client",
    };

    /// <summary>Runs <paramref name="program"/> to completion and returns its exit code and output.</summary>
    public static async Task<ProcessResult> RunAsync(
        string program, IEnumerable<string> arguments, ProcessRunOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(program);
        ArgumentNullException.ThrowIfNull(arguments);
        options ??= new ProcessRunOptions();
        using var process = Start(program, arguments, options);
        using var timeout = options.Timeout is { } t ? new CancellationTokenSource(t) : null;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout?.Token ?? CancellationToken.None);

        // Both streams are read from the start, whatever the program does with stdin.
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            await WriteInputAsync(process, options.StandardInput, linked.Token).ConfigureAwait(false);

            // Done means exited and both pipes at end of file, so no output is lost.
            await Task.WhenAll(process.WaitForExitAsync(CancellationToken.None), stdout, stderr).WaitAsync(linked.Token).ConfigureAwait(false);
            return new ProcessResult(process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            KillTree(process);
            await DrainAsync(stdout, stderr).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            throw new ProcessTimeoutException($"{Path.GetFileName(program)} did not finish within {options.Timeout!.Value.TotalSeconds:0.###} seconds and was killed");
        }
    }

    /// <summary>The same as <see cref="RunAsync"/>, for callers that are synchronous themselves.</summary>
    public static ProcessResult Run(string program, IEnumerable<string> arguments, ProcessRunOptions? options = null) =>
        RunAsync(program, arguments, options, CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>
    /// Starts a long-lived program (a pause process, a daemon launcher) and returns it running: all
    /// three stdio are pipes and stdin is closed at once, so it never holds the caller's terminal or
    /// output open. The caller owns the process and disposes it (which does not kill it).
    /// </summary>
    public static Process StartBackground(string program, IEnumerable<string> arguments, ProcessRunOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(program);
        ArgumentNullException.ThrowIfNull(arguments);
        var process = Start(program, arguments, options ?? new ProcessRunOptions());
        process.StandardInput.Close();
        return process;
    }

    /// <summary>Kills the process and every descendant still attached to it; nothing when it already ended.</summary>
    public static void KillTree(Process process)
    {
        ArgumentNullException.ThrowIfNull(process);
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception or AggregateException)
        {
            // Already exited, or a descendant vanished between enumeration and kill.
        }
    }

    /// <summary>The Debian package that provides <paramref name="program"/>, when wharf knows it.</summary>
    public static string? PackageOf(string program) => Packages.GetValueOrDefault(Path.GetFileName(program));

    private static Process Start(string program, IEnumerable<string> arguments, ProcessRunOptions options)
    {
        var psi = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (options.WorkingDirectory is not null)
        {
            psi.WorkingDirectory = options.WorkingDirectory;
        }

        foreach (string a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (name, value) in options.Environment ?? new Dictionary<string, string?>())
        {
            psi.Environment[name] = value;
        }

        try
        {
            return Process.Start(psi) ?? throw new ProgramNotFoundException($"{program}: could not be started");
        }
        catch (Win32Exception e)
        {
            string? package = options.Package ?? PackageOf(program);
            throw new ProgramNotFoundException(
                $"{program}: {e.Message}" + (package is null ? string.Empty : $" (install the Debian package {package})"), e);
        }
    }

    private static async Task WriteInputAsync(Process process, string? input, CancellationToken cancellationToken)
    {
        try
        {
            if (input is not null)
            {
                await process.StandardInput.WriteAsync(input.AsMemory(), cancellationToken).ConfigureAwait(false);
            }

            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The program ended or closed stdin without reading it all: its exit code says what happened.
        }
    }

    private static async Task DrainAsync(Task<string> stdout, Task<string> stderr)
    {
        try
        {
            await Task.WhenAll(stdout, stderr).WaitAsync(DrainAfterKill).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or IOException or ObjectDisposedException)
        {
            // What was written before the kill is of no use to a caller that gets an exception.
        }
    }
}
