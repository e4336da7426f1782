using Wharf.Client.Config;

namespace Wharf.Client.Tests.Config;

/// <summary>Which drop-in directories follow which main file (containers-registries.conf.d(5)).</summary>
public sealed class RegistriesConfDropInTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-dropins-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Etc => Path.Combine(_dir, "etc");

    private string UserDir => Path.Combine(_dir, "home", ".config", "containers");

    private void Write(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    private RegistriesConf Load(int uid, Dictionary<string, string>? vars = null) =>
        RegistriesConf.Load(new HostEnvironment(k => vars?.GetValueOrDefault(k), Path.Combine(_dir, "home"), uid, Etc));

    [Fact]
    public void Load_UserMainFile_SystemDropInsNotRead()
    {
        Write(Path.Combine(Etc, "registries.conf"), "unqualified-search-registries = [\"system.example\"]\n");
        Write(Path.Combine(Etc, "registries.conf.d", "10-system.conf"), "[aliases]\n\"sys\" = \"system.example/lab/sys\"\n");
        Write(Path.Combine(UserDir, "registries.conf"), "unqualified-search-registries = [\"user.example\"]\n");
        Write(Path.Combine(UserDir, "registries.conf.d", "10-user.conf"), "[aliases]\n\"mine\" = \"user.example/lab/mine\"\n");

        var conf = Load(uid: 1000);

        Assert.Equal(["user.example"], conf.UnqualifiedSearchRegistries);
        Assert.True(conf.Aliases.ContainsKey("mine"));
        Assert.False(conf.Aliases.ContainsKey("sys"));
    }

    [Fact]
    public void Load_NoUserMainFile_SystemThenUserDropIns()
    {
        Write(Path.Combine(Etc, "registries.conf"), "unqualified-search-registries = [\"system.example\"]\n");
        Write(Path.Combine(Etc, "registries.conf.d", "10-system.conf"), "[aliases]\n\"sys\" = \"system.example/lab/sys\"\n");
        Write(Path.Combine(UserDir, "registries.conf.d", "10-user.conf"), "unqualified-search-registries = [\"user.example\"]\n");

        var conf = Load(uid: 1000);

        Assert.Equal(["user.example"], conf.UnqualifiedSearchRegistries);
        Assert.True(conf.Aliases.ContainsKey("sys"));
    }

    [Fact]
    public void Load_EnvironmentFile_ReplacesSystemFileButDropInsStillFollow()
    {
        Write(Path.Combine(Etc, "registries.conf"), "[aliases]\n\"main\" = \"system.example/lab/main\"\n");
        Write(Path.Combine(Etc, "registries.conf.d", "10-system.conf"), "[aliases]\n\"sys\" = \"system.example/lab/sys\"\n");
        Write(Path.Combine(_dir, "chosen.conf"), "unqualified-search-registries = [\"chosen.example\"]\n");

        var conf = Load(uid: 1000, new() { ["CONTAINERS_REGISTRIES_CONF"] = Path.Combine(_dir, "chosen.conf") });

        Assert.Equal(["chosen.example"], conf.UnqualifiedSearchRegistries);
        Assert.False(conf.Aliases.ContainsKey("main"));
        Assert.True(conf.Aliases.ContainsKey("sys"));
    }
}
