using System.Diagnostics;
using System.Text.Json.Nodes;
using Wharf.Client.Processes;

namespace Wharf.Engine.Containers;

/// <summary>
/// The OCI runtime binary: runc, or crun (<c>WHARF_RUNTIME=crun</c>, or when runc is missing).
/// Every call passes <c>--root</c>, so wharf's containers never mix with podman's.
/// </summary>
public sealed class Runtime(string stateRoot, string? preferred)
{
    public string StateRoot { get; } = stateRoot;

    public string Path { get; } = Find(preferred);

    private static string Find(string? preferred)
    {
        foreach (string name in preferred is null ? ["runc", "crun"] : new[] { preferred })
        {
            if (name.Contains('/', StringComparison.Ordinal) && File.Exists(name))
            {
                return name;
            }

            foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Concat(["/usr/sbin", "/usr/bin", "/sbin"]))
            {
                string candidate = System.IO.Path.Combine(dir, name);
                if (dir.Length > 0 && File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new WharfException("no OCI runtime found: install runc or crun");
    }

    /// <summary>For the foreground runs that pass the user's terminal through (run -it, exec); everything else goes through <see cref="Call"/>.</summary>
    /// <summary>Each runtime command line, for <c>--log-level debug</c>.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>podman's <c>--runtime-flag</c>s (<c>--debug</c>, <c>--log=FILE</c>…), before the command on every call.</summary>
    public IReadOnlyList<string> Flags { get; init; } = [];

    /// <summary>What precedes the command on every call: <c>--root STATE</c> and <see cref="Flags"/>.</summary>
    public IReadOnlyList<string> GlobalArgs => ["--root", StateRoot, .. Flags];

    public ProcessStartInfo StartInfo(params string[] args)
    {
        Log?.Invoke($"running runtime: {Path} {string.Join(' ', GlobalArgs)} {string.Join(' ', args)}");
        var psi = new ProcessStartInfo(Path) { UseShellExecute = false };
        foreach (string a in GlobalArgs.Concat(args))
        {
            psi.ArgumentList.Add(a);
        }

        return psi;
    }

    /// <summary>Runs a runtime command to completion, capturing its output.</summary>
    public (int ExitCode, string Stdout, string Stderr) Call(params string[] args)
    {
        Log?.Invoke($"running runtime: {Path} {string.Join(' ', GlobalArgs)} {string.Join(' ', args)}");
        var result = ProcessRunner.Run(Path, [.. GlobalArgs, .. args]);
        return (result.ExitCode, result.StandardOutput, result.StandardError);
    }

    /// <summary>The runtime's view of a container: <c>running</c>, <c>created</c>, <c>stopped</c>, or null when it does not know it.</summary>
    public (string Status, int Pid)? State(string id)
    {
        var (code, stdout, _) = Call("state", id);
        if (code != 0)
        {
            return null;
        }

        var node = JsonNode.Parse(stdout);
        return (node?["status"]?.GetValue<string>() ?? "unknown", node?["pid"]?.GetValue<int>() ?? 0);
    }

    public void Kill(string id, string signal)
    {
        var (code, _, stderr) = Call("kill", id, signal);
        if (code != 0 && !stderr.Contains("not running", StringComparison.Ordinal) && !stderr.Contains("does not exist", StringComparison.Ordinal))
        {
            throw new WharfException($"{System.IO.Path.GetFileName(Path)} kill {id} {signal}: {stderr.Trim()}");
        }
    }

    /// <summary>Deletes the runtime's state for a container; skipped (a process start saved) when it has none.</summary>
    public void Delete(string id)
    {
        if (Directory.Exists(System.IO.Path.Combine(StateRoot, id)))
        {
            Call("delete", "--force", id);
        }
    }
}
