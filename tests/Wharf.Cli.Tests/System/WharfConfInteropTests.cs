namespace Wharf.Cli.Tests.SystemVerbs;

/// <summary>wharf and podman read the same storage.conf; wharf's own settings must not make podman complain.</summary>
public sealed class WharfConfInteropTests
{
    private static (int ExitCode, string Stdout, string Stderr) Podman(WharfRunner wharf) =>
        Tools.RunIn(null, "/usr/bin/env", $"CONTAINERS_STORAGE_CONF={wharf.Variables["CONTAINERS_STORAGE_CONF"]}", "podman", "images");

    [Fact]
    public void Quota_InWharfConf_PodmanSeesNoWarningAndWharfEnforcesIt()
    {
        using var wharf = new WharfRunner();
        File.WriteAllText(Path.Combine(wharf.Dir, "etc", "wharf.conf"), "[storage]\nquota = \"50GB\"\n");

        var podman = Podman(wharf);
        var df = wharf.Run("system", "df");

        Assert.Equal(0, podman.ExitCode);
        Assert.Empty(podman.Stderr);
        Assert.Equal(0, df.ExitCode);
        Assert.Empty(df.Stderr);
        Assert.Contains("quota 50GB", df.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Quota_InOldStorageConfTable_PodmanWarnsAndWharfWarnsDeprecated()
    {
        using var wharf = new WharfRunner();
        File.AppendAllText(Path.Combine(wharf.Dir, "storage.conf"), "[storage.options.wharf]\nquota = \"50GB\"\n");

        var podman = Podman(wharf);
        var df = wharf.Run("system", "df");

        // The reason the table moved: podman cannot decode it.
        Assert.Contains("Failed to decode the keys", podman.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, df.ExitCode);
        Assert.Contains("quota 50GB", df.Stdout, StringComparison.Ordinal);
        string warning = Assert.Single(df.ErrLines);
        Assert.StartsWith("WARN[0000] [storage.options.wharf] in ", warning, StringComparison.Ordinal);
        Assert.Contains("wharf.conf", warning, StringComparison.Ordinal);
    }
}
