using Wharf.Client.Config;

namespace Wharf.Client.Tests.Config;

public sealed class RegistriesConfTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-regs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Load_MainFileAndDropIn_DropInOverridesAndAliasesMerge()
    {
        string etc = Path.Combine(_dir, "etc");
        Directory.CreateDirectory(Path.Combine(etc, "registries.conf.d"));
        File.WriteAllText(Path.Combine(etc, "registries.conf"), """
            unqualified-search-registries = ["a.example", "b.example"]
            [[registry]]
            prefix = "harbor.example.org/lab"
            location = "127.0.0.1:5056/lab"
            [[registry]]
            location = "127.0.0.1:5056"
            insecure = true
            [aliases]
            "mybb" = "127.0.0.1:5056/lab/bb"
            """);
        File.WriteAllText(Path.Combine(etc, "registries.conf.d", "10-more.conf"), """
            unqualified-search-registries = ["c.example"]
            [[registry]]
            location = "blocked.example"
            blocked = true
            [aliases]
            "alpine" = "docker.io/library/alpine"
            """);
        var env = new HostEnvironment(_ => null, Path.Combine(_dir, "home"), 0, etc);

        var conf = RegistriesConf.Load(env);

        Assert.Equal(["c.example"], conf.UnqualifiedSearchRegistries);
        Assert.EndsWith("10-more.conf", conf.UnqualifiedSearchRegistriesSource, StringComparison.Ordinal);
        Assert.Equal("127.0.0.1:5056/lab/bb", conf.Aliases["mybb"].Value);
        Assert.Equal("docker.io/library/alpine", conf.Aliases["alpine"].Value);
        Assert.True(conf.IsInsecure("127.0.0.1:5056"));
        Assert.False(conf.IsInsecure("127.0.0.1:5057"));
        Assert.True(conf.IsBlocked("blocked.example/x"));
        Assert.Equal("127.0.0.1:5056/lab/bb:1", conf.RewriteForPull("harbor.example.org/lab/bb:1"));
        Assert.Equal("harbor.example.org/labs/bb", conf.RewriteForPull("harbor.example.org/labs/bb"));
    }

    [Fact]
    public void Load_EnvironmentOverride_UsesThatFile()
    {
        string file = Path.Combine(_dir, "regs.conf");
        File.WriteAllText(file, "unqualified-search-registries = [\"127.0.0.1:5056\"]\n");
        var env = new HostEnvironment(k => k == "CONTAINERS_REGISTRIES_CONF" ? file : null, _dir, 1000, Path.Combine(_dir, "none"));

        var conf = RegistriesConf.Load(env);

        Assert.Equal(file, conf.MainPath);
        Assert.Equal(["127.0.0.1:5056"], conf.UnqualifiedSearchRegistries);
    }

    [Fact]
    public void Merge_InvalidToml_ThrowsNamingTheFile()
    {
        var conf = new RegistriesConf();
        var e = Assert.Throws<InvalidDataException>(() => conf.Merge("this is = = not toml", "/x/bad.conf"));
        Assert.Contains("/x/bad.conf", e.Message, StringComparison.Ordinal);
    }
}
