using System.Diagnostics;
using System.Text;

namespace Wharf.IntegrationTests.Infrastructure;

/// <summary>What a finished command left behind; <see cref="ToString"/> is written for failure messages.</summary>
public sealed record ProcessResult(string Command, int ExitCode, byte[] StandardOutputBytes, string StandardError)
{
    public bool Succeeded => ExitCode == 0;

    public string StandardOutput => Encoding.UTF8.GetString(StandardOutputBytes);

    public override string ToString() =>
        $"`{Command}` exited {ExitCode}\n--- stdout ---\n{Tail(StandardOutput)}\n--- stderr ---\n{Tail(StandardError)}";

    private static string Tail(string text) => text.Length <= 6000 ? text : "…" + text[^6000..];
}

/// <summary>Runs a command to completion with a deadline; a command past its deadline is killed by PID.</summary>
public static class ProcessRunner
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);

    public static async Task<ProcessResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var command = fileName + " " + string.Join(' ', startInfo.ArgumentList);
        var limit = timeout ?? DefaultTimeout;
        using var process = Process.Start(startInfo)
            ?? throw new InvalidOperationException($"could not start {command}");
        process.StandardInput.Close();

        // stdout is kept as bytes: manifests are compared byte for byte.
        using var stdout = new MemoryStream();
        var stdoutCopy = process.StandardOutput.BaseStream.CopyToAsync(stdout, CancellationToken.None);
        var stderrRead = process.StandardError.ReadToEndAsync(CancellationToken.None);

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(limit);
        var exitCode = -1;
        var note = "";
        try
        {
            await process.WaitForExitAsync(deadline.Token);
            exitCode = process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            note = $"\n[killed: no exit within {limit}]";
        }

        await stdoutCopy;
        var stderr = await stderrRead;
        return new ProcessResult(command, exitCode, stdout.ToArray(), stderr + note);
    }
}
