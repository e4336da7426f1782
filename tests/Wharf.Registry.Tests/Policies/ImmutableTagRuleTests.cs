using Wharf.Registry.Policies;

namespace Wharf.Registry.Tests.Policies;

public sealed class ImmutableTagRuleTests
{
    private static ImmutableTagRule Rule(string tag, string repo, bool tagExcludes = false, bool repoExcludes = false, bool disabled = false) =>
        new(1, "lib", 7, 0, disabled, tag, tagExcludes, repo, repoExcludes);

    [Theory]
    [InlineData("v*", "**", "lib/app", "v1", true)]
    [InlineData("v*", "**", "lib/app", "latest", false)]
    [InlineData("v*", "app", "lib/app", "v1", true)] // the repository pattern sees the path inside the project
    [InlineData("v*", "lib/app", "lib/app", "v1", false)]
    [InlineData("v*", "team/*", "lib/team/app", "v1", true)]
    [InlineData("v*", "team/*", "lib/team/app/sub", "v1", false)]
    [InlineData("{1,2}.*", "**", "lib/app", "2.0", true)]
    public void Protects_Matches_RepositoryPathAndTag(string tagPattern, string repoPattern, string repository, string tag, bool expected) =>
        Assert.Equal(expected, Rule(tagPattern, repoPattern).Protects(repository, tag));

    [Fact]
    public void Protects_Excludes_InvertEachSelector()
    {
        var rule = Rule("dev-*", "scratch/**", tagExcludes: true, repoExcludes: true);
        Assert.True(rule.Protects("lib/app", "1.0"));
        Assert.False(rule.Protects("lib/app", "dev-1"));
        Assert.False(rule.Protects("lib/scratch/x", "1.0"));
    }

    [Fact]
    public void Protects_Disabled_Never() =>
        Assert.False(Rule("**", "**", disabled: true).Protects("lib/app", "v1"));

    [Fact]
    public void FirstProtecting_SkipsDisabledRules_ReturnsTheFirstMatching()
    {
        var rules = new[] { Rule("**", "**", disabled: true) with { Id = 1 }, Rule("x", "**") with { Id = 2 }, Rule("v*", "**") with { Id = 3 } };
        Assert.Equal(3, ImmutableTagRule.FirstProtecting(rules, "lib/app", "v1")?.Id);
        Assert.Null(ImmutableTagRule.FirstProtecting(rules, "lib/app", "latest"));
    }
}
