using System.Diagnostics;

namespace Wharf.Cli.Tests.Containers;

/// <summary>
/// <c>run -t</c> from a script or CI job, where wharf has no terminal (no controlling terminal,
/// stdin a pipe): the container still gets one, as with podman, whose output on this machine is
/// the reference (podman runs with runc and the ulimits this machine needs).
/// </summary>
[Collection("containers")]
public sealed class RunTerminalTests(ContainerFixture fixture) : IDisposable
{
    private readonly WharfProcess _wharf = CreatePulled(fixture);

    private static WharfProcess CreatePulled(ContainerFixture fixture)
    {
        var w = new WharfProcess();
        w.Check("pull", "-q", "--tls-verify=false", fixture.Image);
        return w;
    }

    public void Dispose() => _wharf.Dispose();

    private const string Probe = "test -t 0 && echo in-tty; test -t 1 && echo out-tty; echo to-stderr >&2; exit 3";

    /// <summary>A process in a new session (setsid), so it has no controlling terminal whatever runs the tests.</summary>
    private static (int ExitCode, string Stdout, string Stderr) WithoutTerminal(ProcessStartInfo psi)
    {
        var wrapped = new ProcessStartInfo("setsid")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        wrapped.ArgumentList.Add(psi.FileName);
        foreach (string a in psi.ArgumentList)
        {
            wrapped.ArgumentList.Add(a);
        }

        foreach (var (k, v) in psi.Environment)
        {
            wrapped.Environment[k] = v;
        }

        using var p = Process.Start(wrapped)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{psi.FileName} did not finish in 3 minutes");
        }

        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private ProcessStartInfo Podman(params string[] args)
    {
        string dir = Path.Combine(fixture.Root, "podman");
        var psi = new ProcessStartInfo("podman") { UseShellExecute = false };
        foreach (string a in new[] { "--root", Path.Combine(dir, "storage"), "--runroot", Path.Combine(dir, "run"), "--tmpdir", Path.Combine(dir, "tmp"), "--storage-driver", "vfs", "--runtime", "runc" }.Concat(args))
        {
            psi.ArgumentList.Add(a);
        }

        return psi;
    }

    [Theory]
    [InlineData("-t")]
    [InlineData("-it")]
    public void RunTty_WithoutATerminal_ContainerGetsOne_AsPodman(string flags)
    {
        var podman = WithoutTerminal(Podman("run", "--rm", flags, "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "localhost/bb:1", "sh", "-c", Probe));
        var wharf = WithoutTerminal(_wharf.StartInfo("run", "--rm", flags, fixture.Image, "sh", "-c", Probe));

        // One terminal for stdin, stdout and stderr: everything on stdout with the terminal's \r\n.
        Assert.Equal(3, podman.ExitCode);
        Assert.Equal("in-tty\r\nout-tty\r\nto-stderr\r\n", podman.Stdout);
        Assert.Equal(podman.ExitCode, wharf.ExitCode);
        Assert.Equal(podman.Stdout, wharf.Stdout);

        // -i with no terminal to read: podman's warning (logrus's text form, wharf's WARN[0000] form).
        const string warning = "The input device is not a TTY. The --tty and --interactive flags might not work properly";
        Assert.Equal(flags == "-it", podman.Stderr.Contains(warning, StringComparison.Ordinal));
        Assert.Equal(flags == "-it" ? $"WARN[0000] {warning}\n" : string.Empty, wharf.Stderr);
    }
}
