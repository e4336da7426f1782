using Wharf.Registry.Replication;

namespace Wharf.Registry.Tests.Replication;

public sealed class ReplicationPolicyTests
{
    [Theory]
    [InlineData("library/**", "library/alpine", true)]
    [InlineData("library/**", "library/a/b", true)]
    [InlineData("library/*", "library/a/b", false)]
    [InlineData("library/**/tool", "library/tool", true)]
    [InlineData("**", "a/b/c", true)]
    [InlineData("team/a*", "team/app", true)]
    [InlineData("team/a*", "team/tool", false)]
    [InlineData("1.?", "1.2", true)]
    [InlineData("1.?", "1.23", false)]
    [InlineData("{v1,v2}*", "v2.3", true)]
    [InlineData("{v1,v2}*", "v3", false)]
    [InlineData("[ab]x", "bx", true)]
    [InlineData("[!ab]x", "bx", false)]
    [InlineData("a.b", "axb", false)]
    public void IsMatch_HarborDoublestarPatterns_AsHarborMatches(string pattern, string candidate, bool expected) =>
        Assert.Equal(expected, DoublestarPattern.IsMatch(pattern, candidate));

    [Theory]
    [InlineData("team/[ab")]
    [InlineData("{a,b")]
    public void TryCompile_UnclosedPattern_Refused(string pattern) =>
        Assert.False(DoublestarPattern.TryCompile(pattern, out _, out _));

    [Theory]
    [InlineData(null, -1, "library/app/x", "library/app/x")]
    [InlineData("mirror", -1, "library/app", "mirror/app")]
    [InlineData("mirror", 0, "library/app", "mirror/library/app")]
    [InlineData("mirror", 1, "library/app/x", "mirror/app/x")]
    [InlineData("mirror", 5, "library/app", "mirror/app")]
    public void DestinationRepository_NamespaceAndReplaceCount_AsHarborNamesIt(string? ns, int count, string source, string expected)
    {
        var policy = new ReplicationPolicy(1, "p", null, null, 1, ns, count, ReplicationTriggers.Manual, null, [], false, true, true, -1, false, default, default);
        Assert.Equal(expected, policy.DestinationRepository(source));
    }

    [Theory]
    [InlineData("0 0 * * * *", true)]
    [InlineData("*/5 * * * *", true)]
    [InlineData("61 * * * * *", false)]
    [InlineData("", false)]
    public void TryParseCron_SixAndFiveFields_ParsedElseRefused(string cron, bool valid) =>
        Assert.Equal(valid, ReplicationPolicy.TryParseCron(cron, out _, out _));
}
