namespace Wharf.Cli.Tests.Build;

/// <summary>A FROM image that cannot be pulled fails the build with the registry's reason, not "image not known".</summary>
[Collection("registry")]
public sealed class BuildFromErrorTests(RegistryFixture registry)
{
    [Fact]
    public void Build_FromMissingTag_RegistrysReason()
    {
        using var wharf = new WharfRunner();
        string context = Path.Combine(wharf.Dir, "ctx");
        Directory.CreateDirectory(context);
        File.WriteAllText(Path.Combine(context, "Dockerfile"), $"FROM {registry.Open}/lab/fixture:nosuchtag\nCMD [\"true\"]\n");

        var build = wharf.Run("build", "--tls-verify=false", "-t", "never", context);

        Assert.Equal(125, build.ExitCode);
        string error = build.ErrLines[^1];
        Assert.Contains($"{registry.Open}/lab/fixture:nosuchtag", error, StringComparison.Ordinal);
        Assert.Contains("manifest unknown", error, StringComparison.Ordinal);
        Assert.Empty(wharf.Run("images", "-q", "never").Stdout);
    }
}
