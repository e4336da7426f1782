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
            OpenStdout = () => throw new InvalidOperationException("binary stdout is not captured in-process"),
            OpenStdin = () => new MemoryStream(System.Text.Encoding.UTF8.GetBytes(stdin)),
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
