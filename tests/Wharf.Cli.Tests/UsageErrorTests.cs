namespace Wharf.Cli.Tests;

/// <summary>A command line that does not parse says what was wrong and what was meant, as podman does, exit 125.</summary>
public sealed class UsageErrorTests
{
    [Fact]
    public void Invoke_MisspelledVerb_UnrecognizedCommandWithSuggestions()
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run("imges");

        Assert.Equal(125, result.ExitCode);
        Assert.Empty(result.Stdout);
        Assert.StartsWith("Error: unrecognized command `wharf imges`\n\nDid you mean this?\n", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("\timages\n", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("\timage\n", result.Stderr, StringComparison.Ordinal);
        Assert.EndsWith("\n\nTry 'wharf --help' for more information\n", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Required command", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_Verb_PrintsTheNamedCommandsHelp()
    {
        using var wharf = new WharfRunner();

        var top = wharf.Run("--help");
        Assert.Equal(0, top.ExitCode);
        Assert.Contains("  help ", top.Stdout, StringComparison.Ordinal);
        Assert.Equal((0, top.Stdout, string.Empty), Triple(wharf.Run("help")));
        foreach (var (words, path) in new[]
        {
            (new[] { "run" }, new[] { "run" }), (["image", "ls"], ["image", "ls"]), (["run", "extra"], ["run"]), (["image", "bogus"], ["image"]), (["help"], ["help"]),
        })
        {
            var expected = wharf.Run([.. path, "--help"]);
            Assert.Equal(0, expected.ExitCode);
            Assert.Equal(Triple(expected), Triple(wharf.Run(["help", .. words])));
        }

        static (int, string, string) Triple(WharfRunner.Result r) => (r.ExitCode, r.Stdout, r.Stderr);
    }

    [Fact]
    public void Help_UnknownTopic_AsPodman()
    {
        using var wharf = new WharfRunner();

        var podman = Tools.Run("podman", "help", "bogus");
        var result = wharf.Run("help", "bogus");

        Assert.Equal(0, podman.ExitCode);
        Assert.Equal(podman.ExitCode, result.ExitCode);
        Assert.Equal(podman.Stdout, result.Stdout);
        Assert.StartsWith("Unknown help topic [`bogus`]\n", podman.Stderr, StringComparison.Ordinal);
        Assert.Equal("Unknown help topic [`bogus`]\n" + wharf.Run("--help").Stdout, result.Stderr);
    }

    [Fact]
    public void Invoke_MisspelledVerb_SameTextAsPodman()
    {
        using var wharf = new WharfRunner();

        var podman = Tools.Run("podman", "contaner");
        var result = wharf.Run("contaner");

        Assert.Equal(125, podman.ExitCode);
        Assert.Equal(podman.ExitCode, result.ExitCode);
        Assert.Equal(podman.Stderr.Replace("podman", "wharf", StringComparison.Ordinal), result.Stderr);
    }

    [Fact]
    public void Invoke_Prefix_OffersEveryVerbStartingWithIt()
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run("ima");

        Assert.Equal(125, result.ExitCode);
        Assert.Contains("\timage\n", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("\timages\n", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Invoke_NothingClose_NoSuggestionBlock()
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run("zzzzz");

        Assert.Equal(125, result.ExitCode);
        Assert.Equal("Error: unrecognized command `wharf zzzzz`\nTry 'wharf --help' for more information\n", result.Stderr);
    }

    [Fact]
    public void Invoke_UnknownSubcommand_NamesTheGroup()
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run("system", "dff");

        Assert.Equal(125, result.ExitCode);
        Assert.Equal("Error: unrecognized command `wharf system dff`\nTry 'wharf system --help' for more information\n", result.Stderr);
    }

    [Fact]
    public void Invoke_GroupWithoutSubcommand_MissingCommand()
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run("image");

        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith("Error: missing command 'wharf image COMMAND'\n", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("images", "--bogus")]
    [InlineData("rmi", "--bogus=1")]
    public void Invoke_UnknownFlag_SaysSoAndPointsAtHelp(string verb, string flag)
    {
        using var wharf = new WharfRunner();

        var result = wharf.Run(verb, flag);

        Assert.Equal(125, result.ExitCode);
        Assert.Equal($"Error: unknown flag: --bogus\nSee 'wharf {verb} --help'\n", result.Stderr);
    }
}
