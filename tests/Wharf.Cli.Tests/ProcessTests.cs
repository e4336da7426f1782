namespace Wharf.Cli.Tests;

/// <summary>The real executable, as a user runs it.</summary>
public class ProcessTests
{
    private static (int ExitCode, string Stdout, string Stderr) Wharf(params string[] args)
    {
        string exe = Containers.WharfProcess.Executable;
        return exe.EndsWith(".dll", StringComparison.Ordinal) ? Tools.Run("dotnet", [exe, .. args]) : Tools.Run(exe, args);
    }

    [Fact]
    public void Wharf_Version_PrintsAndExitsZero()
    {
        var (code, stdout, _) = Wharf("version");

        Assert.Equal(0, code);
        Assert.StartsWith("Client:       Wharf Engine\nVersion:", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Wharf_UnknownFlag_ErrorLineAndExit125()
    {
        var (code, _, stderr) = Wharf("images", "--no-such-flag");

        Assert.Equal(125, code);
        Assert.StartsWith("Error: ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Wharf_RmiUnknownImage_ExitOneAsPodman()
    {
        string root = Directory.CreateTempSubdirectory("wharf-proc-").FullName;
        try
        {
            var (code, _, stderr) = Wharf("--root", root, "--runroot", Path.Combine(root, "run"), "rmi", "nosuch:1");

            Assert.Equal(1, code);
            Assert.Equal("Error: nosuch:1: image not known\n", stderr);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
