using System.Diagnostics;

namespace Wharf.Cli.Tests;

/// <summary>Real processes for the interop tests: run to completion with a timeout, or start and stop by PID.</summary>
internal static class Tools
{
    public static (int ExitCode, string Stdout, string Stderr) Run(string file, params string[] args) => RunIn(null, file, args);

    public static (int ExitCode, string Stdout, string Stderr) RunIn(string? stdin, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }

        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in 3 minutes");
        }

        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    public static string Check(string file, params string[] args)
    {
        var (code, stdout, stderr) = Run(file, args);
        if (code != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {code}: {stderr}");
        }

        return stdout;
    }

    public static bool Exists(string tool) => HostTools.Exists(tool);

    /// <summary>Installs Debian packages when running as root and the tool is missing (CI starts from a fresh machine).</summary>
    public static void EnsureTool(string tool, string package) => HostTools.Ensure(tool, package);
}
