using Wharf.Engine.Build;

namespace Wharf.Engine.Tests.Build;

public sealed class ContextIgnoreTests
{
    [Theory]
    [InlineData("secret.txt", true)]
    [InlineData("sub/secret.txt", false)]
    [InlineData("logs/a.log", true)]
    [InlineData("deep/er/a.log", true)]
    [InlineData("keep.log", false)]
    [InlineData("build", true)]
    [InlineData("build/out/x", true)]
    [InlineData("builder", false)]
    [InlineData("data1.bin", true)]
    [InlineData("dataX.bin", false)]
    public void IsExcluded_Patterns_LastMatchWins(string path, bool excluded)
    {
        var ignore = new ContextIgnore(["# comment", "secret*", "**/*.log", "!keep.log", "/build/", "data[0-9].bin", ""]);
        Assert.Equal(excluded, ignore.IsExcluded(path));
    }

    [Fact]
    public void IsExcluded_NoRules_KeepsEverything()
    {
        Assert.False(new ContextIgnore([]).IsExcluded("anything/at/all"));
    }
}
