using Wharf.Cli.Tests.Containers;

namespace Wharf.Cli.Tests.SystemVerbs;

/// <summary><c>wharf completion</c>: scripts a real shell loads, answering from <c>wharf __complete</c>.</summary>
public sealed class CompletionTests : IDisposable
{
    private readonly string _bin = Directory.CreateTempSubdirectory("wharf-completion-").FullName;

    public CompletionTests()
    {
        // A "wharf" on PATH, as the scripts expect it.
        string exe = WharfProcess.Executable;
        string shim = Path.Combine(_bin, "wharf");
        File.WriteAllText(shim, exe.EndsWith(".dll", StringComparison.Ordinal) ? $"#!/bin/sh\nexec dotnet '{exe}' \"$@\"\n" : $"#!/bin/sh\nexec '{exe}' \"$@\"\n");
        File.SetUnixFileMode(shim, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public void Dispose() => Directory.Delete(_bin, recursive: true);

    private (int ExitCode, string Stdout, string Stderr) Bash(string script) =>
        Tools.Run("/usr/bin/env", $"PATH={_bin}:/usr/bin:/bin", "WHARF_USERNS=host", "bash", "-c", script);

    [Fact]
    public void CompletionBash_Sourced_RegistersCompletionForWharf()
    {
        var result = Bash("source <(wharf completion bash); complete -p wharf");

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal("complete -o default -F _wharf_complete wharf\n", result.Stdout);
    }

    [Fact]
    public void CompletionBash_Prefix_OffersMatchingVerbs()
    {
        var result = Bash("source <(wharf completion bash); COMP_WORDS=(wharf ima); COMP_CWORD=1; _wharf_complete; printf '%s\\n' \"${COMPREPLY[@]}\"");

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal("image\nimages\n", result.Stdout);
    }

    [Fact]
    public void CompletionBash_SubcommandAndFlag_OffersThatCommandsWords()
    {
        var verbs = Bash("source <(wharf completion bash); COMP_WORDS=(wharf system d); COMP_CWORD=2; _wharf_complete; printf '%s\\n' \"${COMPREPLY[@]}\"");
        var flags = Bash("source <(wharf completion bash); COMP_WORDS=(wharf images --no); COMP_CWORD=2; _wharf_complete; printf '%s\\n' \"${COMPREPLY[@]}\"");

        Assert.Equal("df\n", verbs.Stdout);
        Assert.Contains("--no-trunc\n", flags.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("--all", flags.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Complete_RecursiveGlobalFlag_OfferedUnderSubcommand()
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run("__complete", "images", "--ro");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("--root\n", result.Stdout);
    }

    [Theory]
    [InlineData("zsh", "compdef _wharf wharf")]
    [InlineData("fish", "complete -c wharf")]
    public void Completion_OtherShells_ScriptCallsBackWharf(string shell, string registration)
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run("completion", shell);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("wharf __complete", result.Stdout, StringComparison.Ordinal);
        Assert.Contains(registration, result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Completion_UnknownShell_Error125NothingPrinted()
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run("completion", "tcsh");

        Assert.Equal(125, result.ExitCode);
        Assert.Empty(result.Stdout);
        Assert.StartsWith("Error: ", result.Stderr, StringComparison.Ordinal);
    }
}
