using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Wharf.Cli.Tests.Containers;

namespace Wharf.Cli.Tests.Jobs;

/// <summary>
/// TERM and INT reach <c>job exec</c> and <c>job logs -f</c> as real signals (kill), as scancel and
/// Ctrl-C send them: every one ends with the shell's code, at most one line, and no container left.
/// </summary>
[Collection("containers")]
public sealed class JobSignalTests(ContainerFixture fixture) : IDisposable
{
    private readonly WharfProcess _wharf = JobHelpers.Pulled(fixture);

    public void Dispose()
    {
        JobHelpers.CancelAll(_wharf);
        _wharf.Dispose();
    }

    [Fact]
    public void Exec_TwoTermsWhileRunning_Exits143WithOneLineAndNoContainer()
    {
        using var exec = Started(_wharf.StartInfo("job", "exec", "--tls-verify=false", "--image", fixture.Image, "--", "sh", "-c", "echo started; exec sleep 300"));
        exec.WaitForStdout("started");

        // Slurm signals the step more than once at a time limit: two TERMs back to back.
        Signal(exec.Process, "TERM");
        Signal(exec.Process, "TERM");
        var (code, stderr) = exec.WaitForExit();
        Assert.True(code == 143, $"exit {code}: {stderr}");
        Assert.Single(Lines(stderr));
        Assert.Empty(_wharf.ContainerDirs);
        Assert.Empty(_wharf.RuncStates);
        Assert.False(_wharf.AnyMountUnder());
    }

    [Fact]
    public async Task Exec_TermDuringPull_Exits143WithOneLine()
    {
        // A registry that accepts connections and never answers: the pull is in progress once it connects.
        var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        try
        {
            int port = ((IPEndPoint)silent.LocalEndpoint).Port;
            _wharf.Env["KUBE_INIT_TIMEOUT"] = "300";
            using var exec = Started(_wharf.StartInfo("job", "exec", "--tls-verify=false", "--image", $"127.0.0.1:{port}/lab/never:1", "--", "true"));
            using var connection = await silent.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(60));

            Signal(exec.Process, "TERM");
            var (code, stderr) = exec.WaitForExit();
            Assert.True(code == 143, $"exit {code}: {stderr}");
            Assert.Equal(["wharf job exec: terminated before the container started"], Lines(stderr));
            Assert.Empty(_wharf.ContainerDirs);
        }
        finally
        {
            silent.Stop();
        }
    }

    [Fact]
    public void LogsFollow_CtrlC_Exits130Quietly()
    {
        string id = JobHelpers.Submit(_wharf, fixture.Image, "--", "sh", "-c", "echo started; exec sleep 300");
        using var logs = Started(_wharf.StartInfo("job", "logs", "-f", id));
        logs.WaitForStdout("started");
        Signal(logs.Process, "INT");
        var (code, stderr) = logs.WaitForExit();
        Assert.True(code == 130, $"exit {code}: {stderr}");
        Assert.Empty(stderr);
        Assert.Equal("running", (string?)JobHelpers.Status(_wharf, id)["state"]);
    }

    [Theory]
    [InlineData("KUBE_INIT_TIMEOUT", "ten")]
    [InlineData("KUBE_INIT_TIMEOUT", "0")]
    [InlineData("WHARF_INIT_TIMEOUT", "-5")]
    public void Exec_BadInitTimeout_NamesTheVariableTheUserSet(string variable, string value)
    {
        _wharf.Env[variable] = value;
        var (code, _, stderr) = _wharf.Run("job", "exec", "--tls-verify=false", "--image", fixture.Image, "--", "true");
        Assert.Equal(125, code);
        Assert.Equal($"Error: {variable}={value}: not a positive whole number of seconds\n", stderr);
        Assert.Empty(_wharf.ContainerDirs);
    }

    [Fact]
    public void Exec_KubeInitTimeoutExpires_MessageNamesKubeInitTimeout()
    {
        var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        try
        {
            int port = ((IPEndPoint)silent.LocalEndpoint).Port;
            _wharf.Env["KUBE_INIT_TIMEOUT"] = "2";
            var (code, _, stderr) = _wharf.Run("job", "exec", "--tls-verify=false", "--image", $"127.0.0.1:{port}/lab/never:1", "--", "true");
            Assert.Equal(2, code);
            Assert.Contains("did not start within 2 seconds (KUBE_INIT_TIMEOUT)", stderr, StringComparison.Ordinal);
        }
        finally
        {
            silent.Stop();
        }
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static void Signal(Process process, string signal) =>
        Tools.Check("kill", "-" + signal, process.Id.ToString(CultureInfo.InvariantCulture));

    private static RunningWharf Started(ProcessStartInfo psi) => new(Process.Start(psi)!);

    /// <summary>A wharf process left running while the test signals it; killed if it outlives the test.</summary>
    private sealed class RunningWharf : IDisposable
    {
        private readonly System.Text.StringBuilder _stdout = new();
        private readonly Task<string> _stderr;
        private readonly Task _reader;

        public RunningWharf(Process process)
        {
            Process = process;
            process.StandardInput.Close();
            _stderr = process.StandardError.ReadToEndAsync();
            _reader = Task.Run(async () =>
            {
                char[] buffer = new char[4096];
                int n;
                while ((n = await process.StandardOutput.ReadAsync(buffer)) > 0)
                {
                    lock (_stdout)
                    {
                        _stdout.Append(buffer, 0, n);
                    }
                }
            });
        }

        public Process Process { get; }

        public void WaitForStdout(string text)
        {
            var clock = Stopwatch.StartNew();
            while (true)
            {
                lock (_stdout)
                {
                    if (_stdout.ToString().Contains(text, StringComparison.Ordinal))
                    {
                        return;
                    }
                }

                Assert.True(!Process.HasExited && clock.Elapsed < TimeSpan.FromSeconds(90), $"never printed {text}; exited: {Process.HasExited}; stderr: {(Process.HasExited ? _stderr.Result : string.Empty)}");
                Thread.Sleep(100);
            }
        }

        public (int Code, string Stderr) WaitForExit()
        {
            Assert.True(Process.WaitForExit(TimeSpan.FromSeconds(60)), "wharf did not end after the signal");
            _reader.Wait(TimeSpan.FromSeconds(10));
            return (Process.ExitCode, _stderr.Result);
        }

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit(TimeSpan.FromSeconds(10));
            }

            Process.Dispose();
        }
    }
}
