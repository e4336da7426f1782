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
