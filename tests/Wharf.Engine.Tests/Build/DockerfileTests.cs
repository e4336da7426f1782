using Wharf.Engine.Build;

namespace Wharf.Engine.Tests.Build;

public sealed class DockerfileTests
{
    [Fact]
    public void Parse_ContinuationsAndComments_JoinLogicalLines()
    {
        var df = Dockerfile.Parse("# a comment\nFROM scratch\nRUN echo a \\\n# inside\n    b\n\nCOPY a b\n");
        Assert.Equal(3, df.Instructions.Count);
        Assert.Equal("echo a     b", df.Instructions[1].Arguments);
        Assert.Equal(3, df.Instructions[1].Line);
        Assert.Equal(7, df.Instructions[2].Line);
    }

    [Fact]
    public void Parse_EscapeDirective_UsesBacktick()
    {
        var df = Dockerfile.Parse("# escape=`\n# syntax=docker/dockerfile:1\nFROM scratch\nRUN dir c:\\ `\n  x\n");
        Assert.Equal('`', df.Escape);
        Assert.Equal("docker/dockerfile:1", df.Syntax);
        Assert.Equal("dir c:\\   x", df.Instructions[1].Arguments);
    }

    [Fact]
    public void Parse_DirectiveAfterComment_IsAComment()
    {
        var df = Dockerfile.Parse("# hello\n# escape=`\nFROM scratch\n");
        Assert.Equal('\\', df.Escape);
    }

    [Fact]
    public void Parse_ArgBeforeFrom_IsGlobal()
    {
        var df = Dockerfile.Parse("ARG V=1\nFROM img:${V} AS Build\nARG V\n");
        Assert.Single(df.GlobalArgs);
        var stage = Assert.Single(df.Stages());
        Assert.Equal("img:${V}", stage.BaseName);
        Assert.Equal("build", stage.Name);
        Assert.Single(stage.Instructions);
    }

    [Fact]
    public void Parse_InstructionBeforeFrom_Fails()
    {
        var e = Assert.Throws<WharfException>(() => Dockerfile.Parse("RUN x\nFROM scratch\n"));
        Assert.Contains("line 1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnknownInstruction_FailsWithLine()
    {
        var e = Assert.Throws<WharfException>(() => Dockerfile.Parse("FROM scratch\nFOO bar\n"));
        Assert.Contains("line 2: unknown instruction: FOO", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Flags_AreSeparated()
    {
        var df = Dockerfile.Parse("FROM --platform=linux/amd64 scratch\nCOPY --from=b --chown=1:2 /a /b\n");
        Assert.Equal("linux/amd64", df.Stages()[0].Platform);
        var copy = df.Instructions[1];
        Assert.Equal("b", copy.Flags["from"]);
        Assert.Equal("1:2", copy.Flags["chown"]);
        Assert.Equal("/a /b", copy.Arguments);
    }

    [Fact]
    public void ExecForm_JsonArray_IsParsed_ShellFormIsNull()
    {
        var df = Dockerfile.Parse("FROM scratch\nCMD [\"a\", \"b c\"]\nRUN [not json\n");
        Assert.Equal(["a", "b c"], df.Instructions[1].ExecForm!);
        Assert.Null(df.Instructions[2].ExecForm);
    }

    [Fact]
    public void Stages_MultiStage_KeepOrderAndNames()
    {
        var stages = Dockerfile.Parse("FROM scratch AS one\nCOPY a b\nFROM one\nCOPY --from=one b c\n").Stages();
        Assert.Equal(2, stages.Count);
        Assert.Equal("one", stages[0].Name);
        Assert.Null(stages[1].Name);
        Assert.Equal("one", stages[1].BaseName);
    }

    [Theory]
    [InlineData("$A/${A}", "x/x")]
    [InlineData("${B:-def}", "def")]
    [InlineData("${A:-def}", "x")]
    [InlineData("${A:+alt}", "alt")]
    [InlineData("${B:+alt}", "")]
    [InlineData("\\$A", "$A")]
    [InlineData("'$A'", "'$A'")]
    [InlineData("\"it's $A\"", "\"it's x\"")]
    [InlineData("$", "$")]
    [InlineData("a$A-b", "ax-b")]
    public void Expand_Forms_Substitute(string input, string expected)
    {
        Assert.Equal(expected, Words.Expand(input, k => k == "A" ? "x" : null));
    }

    [Fact]
    public void Pairs_QuotedAndLegacy_Parse()
    {
        var p = Words.Pairs("a=1 b=\"two words\" c='x y'");
        Assert.Equal(["a", "b", "c"], p.Select(x => x.Key));
        Assert.Equal(["1", "two words", "x y"], p.Select(x => x.Value));
        var legacy = Words.Pairs("KEY some value");
        Assert.Equal("some value", Assert.Single(legacy).Value);
    }

    [Fact]
    public void Split_UnterminatedQuote_Fails()
    {
        Assert.Throws<WharfException>(() => Words.Split("a \"b"));
    }
}
