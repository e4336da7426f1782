using System.Diagnostics;
using Wharf.Cli.Tests.Containers;
using Wharf.Client;

namespace Wharf.Cli.Tests;

/// <summary>
/// Runs wharf with its own store, auth file location, home and /etc/containers: the published
/// executable as a process (<see cref="Run"/>; NativeAOT under test.sh, see
/// <see cref="WharfProcess.Executable"/>), or in this process (<see cref="RunInProcess"/>, for the
/// tests that compare the two). The process sees only the variables a user's shell would have
/// that matter to wharf: <see cref="Variables"/>, HOME, and WHARF_CONTAINERS_CONF_DIR for /etc/containers.
/// </summary>
internal sealed class WharfRunner : IDisposable
{
    public WharfRunner(string registriesConf = "")
    {
        Dir = Directory.CreateTempSubdirectory("wharf-run-").FullName;
        Directory.CreateDirectory(Path.Combine(Dir, "etc"));
        Directory.CreateDirectory(Path.Combine(Dir, "xdg-run"));
        File.WriteAllText(Path.Combine(Dir, "etc", "registries.conf"), registriesConf);
        File.WriteAllText(Path.Combine(Dir, "storage.conf"), $"[storage]\ndriver = \"overlay\"\ngraphroot = \"{GraphRoot}\"\nrunroot = \"{Path.Combine(Dir, "runroot")}\"\n");
        Variables = new Dictionary<string, string>
        {
            ["XDG_RUNTIME_DIR"] = Path.Combine(Dir, "xdg-run"),
            ["CONTAINERS_STORAGE_CONF"] = Path.Combine(Dir, "storage.conf"),
        };
    }

    public string Dir { get; }

    public string GraphRoot => Path.Combine(Dir, "graph");

    public string AuthJson => Path.Combine(Dir, "xdg-run", "containers", "auth.json");

    public Dictionary<string, string> Variables { get; }

    /// <summary>What commands wrote to raw stdout (save without -o).</summary>
    public MemoryStream BinaryStdout { get; } = new();

    public byte[] StdinBytes { get; set; } = [];

    private sealed class NonClosingStream(Stream inner) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => inner.Length;

        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
    }

    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string[] ErrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public Result Run(params string[] args) => RunWithInput(string.Empty, args);

    /// <summary>The published wharf as a process; stdin is <paramref name="stdin"/> (or <see cref="StdinBytes"/> when set).</summary>
    public Result RunWithInput(string stdin, params string[] args)
    {
        using var p = Process.Start(StartInfo(args))!;
        var stdoutBytes = new MemoryStream();
        var stdoutCopy = p.StandardOutput.BaseStream.CopyToAsync(stdoutBytes);
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            p.StandardInput.BaseStream.Write(StdinBytes.Length > 0 ? StdinBytes : System.Text.Encoding.UTF8.GetBytes(stdin));
            p.StandardInput.Close();
        }
        catch (IOException)
        {
            // wharf exited without reading all of its input: its exit code and output say why.
        }

        if (!p.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"wharf {string.Join(' ', args)} did not finish in 5 minutes");
        }

        stdoutCopy.GetAwaiter().GetResult();
        BinaryStdout.SetLength(0);
        stdoutBytes.Position = 0;
        stdoutBytes.CopyTo(BinaryStdout);
        return new Result(p.ExitCode, System.Text.Encoding.UTF8.GetString(stdoutBytes.ToArray()), stderr.GetAwaiter().GetResult());
    }

    /// <summary>
    /// Starts the published wharf with this runner's configuration and returns at once, stdio
    /// redirected (the caller drains them), for tests that signal a running wharf by its PID.
    /// </summary>
    public Process Start(params string[] args)
    {
        var psi = StartInfo(args);
        psi.RedirectStandardInput = false;
        return Process.Start(psi)!;
    }

    private ProcessStartInfo StartInfo(string[] args)
    {
        string exe = WharfProcess.Executable;
        bool dll = exe.EndsWith(".dll", StringComparison.Ordinal);
        var psi = new ProcessStartInfo(dll ? "dotnet" : exe)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Dir,
        };
        if (dll)
        {
            psi.ArgumentList.Add(exe);
        }

        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        // What the in-process run sees through HostEnvironment, and nothing of the test runner's
        // own configuration (a developer's XDG_*, CONTAINERS_*, auth files, WHARF_* knobs).
        foreach (string key in psi.Environment.Keys.ToList())
        {
            if (key.StartsWith("CONTAINERS_", StringComparison.Ordinal) || key.StartsWith("XDG_", StringComparison.Ordinal)
                || key.StartsWith("WHARF_", StringComparison.Ordinal) || key.StartsWith("_WHARF_", StringComparison.Ordinal)
                || key is "REGISTRY_AUTH_FILE" or "DOCKER_CONFIG" or "TMPDIR")
            {
                psi.Environment.Remove(key);
            }
        }

        psi.Environment["HOME"] = Path.Combine(Dir, "home");
        psi.Environment[HostEnvironment.SystemConfigDirectoryVariable] = Path.Combine(Dir, "etc");
        foreach (var (k, v) in Variables)
        {
            psi.Environment[k] = v;
        }

        return psi;
    }

    /// <summary>wharf in this process (the JIT build next to the tests), with the same configuration as <see cref="Run"/>.</summary>
    public Result RunInProcess(params string[] args)
    {
        const string stdin = "";
        var env = new HostEnvironment(k => Variables.GetValueOrDefault(k), Path.Combine(Dir, "home"), 0, Path.Combine(Dir, "etc"));
        using var stdout = new StringWriter { NewLine = "\n" };
        using var stderr = new StringWriter { NewLine = "\n" };
        var io = new CliIo
        {
            Out = stdout,
            Err = stderr,
            In = new StringReader(stdin),
            OpenStdout = () => new NonClosingStream(BinaryStdout),
            OpenStdin = () => new MemoryStream(StdinBytes.Length > 0 ? StdinBytes : System.Text.Encoding.UTF8.GetBytes(stdin)),
            Environment = env,
        };
        int code = WharfCli.InvokeAsync(args, io).GetAwaiter().GetResult();
        return new Result(code, stdout.ToString(), stderr.ToString());
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
