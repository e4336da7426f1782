using System.Diagnostics;

namespace Wharf.Cli.Tests;

/// <summary>A command on a pseudo-terminal (script(1)), typed into as a person would.</summary>
internal static class Terminal
{
    /// <summary>Runs <paramref name="shellCommand"/> on a pty, types <paramref name="typed"/> once it had time to start, and returns its exit code and what the terminal showed.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string shellCommand, string typed, TimeSpan startup)
    {
        var psi = new ProcessStartInfo("script") { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { "-qec", shellCommand, "/dev/null" })
        {
            psi.ArgumentList.Add(a);
        }

        using var script = Process.Start(psi)!;
        try
        {
            var output = script.StandardOutput.ReadToEndAsync();
            await Task.Delay(startup);
            await script.StandardInput.WriteAsync(typed);
            await script.StandardInput.FlushAsync();
            Assert.True(script.WaitForExit(TimeSpan.FromSeconds(60)), "the command on the terminal did not finish within 60 seconds: " + shellCommand);
            await Task.Delay(200);
            script.StandardInput.Close();
            return (script.ExitCode, await output);
        }
        finally
        {
            // Whatever failed (a write to a terminal that went away, the timeout, a cancelled
            // test), the command and what it started do not outlive the test.
            if (!script.HasExited)
            {
                script.Kill(entireProcessTree: true);
                script.WaitForExit();
            }
        }
    }
}
