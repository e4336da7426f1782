namespace Wharf.Cli.Tests.Images;

/// <summary><c>images</c> hides a build's intermediate images (no name, built upon) unless <c>-a</c>, as podman does.</summary>
[Collection("registry")]
public sealed class IntermediateImagesTests(RegistryFixture registry)
{
    private static string Build(WharfRunner wharf, string dockerfile, string tag)
    {
        string context = Path.Combine(wharf.Dir, "ctx-" + tag);
        Directory.CreateDirectory(context);
        File.WriteAllText(Path.Combine(context, "Dockerfile"), dockerfile);
        var build = wharf.Run("build", "--tls-verify=false", "-t", tag, context);
        Assert.True(build.ExitCode == 0, build.Stderr);
        return build.Stdout.Trim().Split('\n')[^1];
    }

    [Fact]
    public void Images_AfterMultiStepBuild_IntermediatesOnlyWithAll()
    {
        using var wharf = new WharfRunner();
        Build(wharf, $"FROM {registry.Open}/lab/fixture:1\nENV A=1\nLABEL b=2\nENV C=3\n", "steps");

        string[] shown = wharf.Run("images", "--format", "{{.Repository}}:{{.Tag}}").Stdout.Trim().Split('\n');
        string[] all = wharf.Run("images", "-a", "--format", "{{.Repository}}:{{.Tag}}").Stdout.Trim().Split('\n');

        Assert.Equal([$"{registry.Open}/lab/fixture:1", "localhost/steps:latest"], shown.Order(StringComparer.Ordinal));
        Assert.Contains("<none>:<none>", all);
        Assert.True(all.Length > shown.Length, string.Join(' ', all));
    }

    [Fact]
    public void Images_DanglingNothingBuildsOn_StillListed()
    {
        using var wharf = new WharfRunner();
        Build(wharf, $"FROM {registry.Open}/lab/fixture:1\nENV A=1\n", "first");
        string oldId = wharf.Run("images", "-q", "--no-trunc", "first").Stdout.Trim();

        // The name moves to a new image: the old one is dangling, and nothing was built on it.
        Build(wharf, $"FROM {registry.Open}/lab/fixture:1\nENV A=2\n", "first");

        string dangling = wharf.Run("images", "-q", "--no-trunc", "--filter", "dangling=true").Stdout;
        Assert.Contains(oldId, dangling, StringComparison.Ordinal);
    }
}
