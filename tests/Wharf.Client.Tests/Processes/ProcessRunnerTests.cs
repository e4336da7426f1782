using System.Diagnostics;
using Wharf.Client.Processes;

namespace Wharf.Client.Tests.Processes;

public sealed class ProcessRunnerTests
{
    [Fact]
    public async Task RunAsync_ProgramExitsNonZero_ReturnsExitCodeAndBothStreams()
    {
        var result = await ProcessRunner.RunAsync("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"]);

        Assert.Equal(3, result.ExitCode);
        Assert.False(result.Succeeded);
        Assert.Equal("out\n", result.StandardOutput);
        Assert.Equal("err\n", result.StandardError);
    }

    [Fact]
    public async Task RunAsync_LargeOutputOnBothStreams_CapturesAllWithoutDeadlock()
    {
        // Far more than a pipe buffer (64 KiB) on each stream, interleaved, so reading one stream to
        // the end before the other would block the program for ever.
        const int lines = 20000;
        string script = $"i=0; while [ $i -lt {lines} ]; do echo \"out line $i padding padding padding\"; echo \"err line $i padding padding padding\" >&2; i=$((i+1)); done";

        var result = await ProcessRunner.RunAsync(
            "/bin/sh", ["-c", script], new ProcessRunOptions { Timeout = TimeSpan.FromMinutes(2) });

        Assert.Equal(0, result.ExitCode);
        string[] outLines = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string[] errLines = result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(lines, outLines.Length);
        Assert.Equal(lines, errLines.Length);
        Assert.Equal($"out line {lines - 1} padding padding padding", outLines[^1]);
        Assert.Equal($"err line {lines - 1} padding padding padding", errLines[^1]);
    }

    [Fact]
    public async Task RunAsync_StandardInputText_ProgramReadsItThenEof()
    {
        string input = string.Concat(Enumerable.Repeat("0123456789abcdef\n", 20000));

        var result = await ProcessRunner.RunAsync(
            "/bin/sh", ["-c", "wc -c; echo done >&2"], new ProcessRunOptions { StandardInput = input, Timeout = TimeSpan.FromMinutes(1) });

        Assert.Equal(input.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), result.StandardOutput.Trim());
        Assert.Equal("done\n", result.StandardError);
    }

    [Fact]
    public async Task RunAsync_NoStandardInput_StdinIsClosedNotTheTerminal()
    {
        var result = await ProcessRunner.RunAsync("/bin/sh", ["-c", "cat; echo eof"]);

        Assert.Equal("eof\n", result.StandardOutput);
    }

    [Fact]
    public async Task RunAsync_WorkingDirectoryAndEnvironment_Applied()
    {
        string dir = Directory.CreateTempSubdirectory("wharf-runner-").FullName;
        try
        {
            var result = await ProcessRunner.RunAsync(
                "/bin/sh", ["-c", "pwd; echo \"$WHARF_RUNNER_TEST\""],
                new ProcessRunOptions { WorkingDirectory = dir, Environment = new Dictionary<string, string?> { ["WHARF_RUNNER_TEST"] = "set" } });

            Assert.Equal($"{dir}\nset\n", result.StandardOutput);
        }
        finally
        {
            Directory.Delete(dir);
        }
    }

    [Fact]
    public async Task RunAsync_EnvironmentNullValue_RemovesVariable()
    {
        // A name of this test's own, so the variable surely is in the inherited environment.
        System.Environment.SetEnvironmentVariable("WHARF_RUNNER_INHERITED", "inherited");

        var result = await ProcessRunner.RunAsync(
            "/bin/sh", ["-c", "echo \"${WHARF_RUNNER_INHERITED-unset}\""],
            new ProcessRunOptions { Environment = new Dictionary<string, string?> { ["WHARF_RUNNER_INHERITED"] = null } });

        Assert.Equal("unset\n", result.StandardOutput);
    }

    [Fact]
    public async Task RunAsync_Timeout_KillsWholeTreeAndThrows()
    {
        string pidFile = Path.Combine(Path.GetTempPath(), $"wharf-runner-{Guid.NewGuid():N}");
        var clock = Stopwatch.StartNew();

        // The child sleep is what would outlive a kill of the shell alone.
        var e = await Assert.ThrowsAsync<ProcessTimeoutException>(() => ProcessRunner.RunAsync(
            "/bin/sh", ["-c", $"sleep 60 & echo $! > {pidFile}; wait"], new ProcessRunOptions { Timeout = TimeSpan.FromMilliseconds(500) }));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        Assert.Contains("sh did not finish within 0.5 seconds", e.Message, StringComparison.Ordinal);
        AssertGone(int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture));
        File.Delete(pidFile);
    }

    [Fact]
    public async Task RunAsync_Cancelled_KillsWholeTreeAndThrowsOperationCanceled()
    {
        string pidFile = Path.Combine(Path.GetTempPath(), $"wharf-runner-{Guid.NewGuid():N}");
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        var clock = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ProcessRunner.RunAsync(
            "/bin/sh", ["-c", $"sleep 60 & echo $! > {pidFile}; wait"], new ProcessRunOptions { Timeout = TimeSpan.FromMinutes(5) }, cts.Token));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        AssertGone(int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture));
        File.Delete(pidFile);
    }

    [Fact]
    public async Task RunAsync_MissingProgram_ThrowsNamingProgram()
    {
        var e = await Assert.ThrowsAsync<ProgramNotFoundException>(() => ProcessRunner.RunAsync(
            "wharf-no-such-program", []));

        Assert.StartsWith("wharf-no-such-program: ", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Debian package", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_MissingKnownProgram_NamesDebianPackage()
    {
        var e = await Assert.ThrowsAsync<ProgramNotFoundException>(() => ProcessRunner.RunAsync(
            "/nonexistent/newuidmap", []));

        Assert.EndsWith("(install the Debian package uidmap)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_Synchronous_SameResultAsAsync()
    {
        var result = ProcessRunner.Run("/bin/sh", ["-c", "printf x; exit 7"]);

        Assert.Equal(new ProcessResult(7, "x", string.Empty), result);
    }

    [Fact]
    public void StartBackground_LongLivedProgram_RunsWithStdinClosed()
    {
        using var p = ProcessRunner.StartBackground("/bin/sh", ["-c", "cat; echo stdin-closed >&2"]);

        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Equal("stdin-closed\n", p.StandardError.ReadToEnd());
    }

    /// <summary>The process no longer runs: gone from /proc, or a zombie waiting for init to reap it.</summary>
    private static void AssertGone(int pid)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            string stat = $"/proc/{pid}/stat";
            try
            {
                if (!File.Exists(stat) || File.ReadAllText(stat).Split(')')[1].TrimStart().StartsWith('Z'))
                {
                    return;
                }
            }
            catch (IOException)
            {
                return;
            }

            Thread.Sleep(50);
        }

        Assert.Fail($"process {pid} still runs after the kill");
    }
}
