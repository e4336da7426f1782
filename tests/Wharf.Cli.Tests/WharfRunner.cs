using Wharf.Client;

namespace Wharf.Cli.Tests;

/// <summary>Runs wharf in-process with its own store, auth file location and registries.conf.</summary>
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

    public Result RunWithInput(string stdin, params string[] args)
    {
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
