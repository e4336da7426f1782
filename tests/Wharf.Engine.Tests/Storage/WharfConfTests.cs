using Wharf.Client;
using Wharf.Engine.Storage;

namespace Wharf.Engine.Tests.Storage;

public sealed class WharfConfTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-conf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private HostEnvironment Env(int uid = 0, Dictionary<string, string>? vars = null) =>
        new(k => vars?.GetValueOrDefault(k), Path.Combine(_dir, "home"), uid, Path.Combine(_dir, "etc"));

    private void Write(string relative, string text)
    {
        string path = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    [Fact]
    public void StorageConfigLoad_SystemWharfConf_QuotaReadWithoutWarning()
    {
        Write("etc/storage.conf", "[storage]\ndriver = \"overlay\"\n");
        Write("etc/wharf.conf", "[storage]\nquota = \"50GB\"\n");

        var config = StorageConfig.Load(Env());

        Assert.Equal(50_000_000_000L, config.Quota);
        Assert.Equal($"quota in [storage] of {Path.Combine(_dir, "etc", "wharf.conf")}", config.QuotaSource);
        Assert.Empty(config.Warnings);
    }

    [Fact]
    public void StorageConfigLoad_UserWharfConf_ReplacesSystemFile()
    {
        Write("etc/wharf.conf", "[storage]\nquota = \"50GB\"\n");
        Write("home/.config/containers/wharf.conf", "[storage]\nquota = \"2GiB\"\n");

        Assert.Equal(2L << 30, StorageConfig.Load(Env(uid: 1000)).Quota);
        Assert.Equal(50_000_000_000L, StorageConfig.Load(Env(uid: 0)).Quota);
    }

    [Fact]
    public void StorageConfigLoad_WharfConfVariable_NamesTheFile()
    {
        Write("etc/wharf.conf", "[storage]\nquota = \"50GB\"\n");
        Write("other.conf", "[storage]\nquota = \"3MB\"\n");

        var config = StorageConfig.Load(Env(vars: new() { ["WHARF_CONF"] = Path.Combine(_dir, "other.conf") }));

        Assert.Equal(3_000_000L, config.Quota);
    }

    [Fact]
    public void StorageConfigLoad_OldStorageConfTable_ReadWithDeprecationWarning()
    {
        Write("etc/storage.conf", "[storage]\n[storage.options.wharf]\nquota = \"50GB\"\n");

        var config = StorageConfig.Load(Env());

        Assert.Equal(50_000_000_000L, config.Quota);
        string warning = Assert.Single(config.Warnings);
        Assert.Contains("[storage.options.wharf]", warning, StringComparison.Ordinal);
        Assert.Contains("deprecated", warning, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(_dir, "etc", "wharf.conf"), warning, StringComparison.Ordinal);
    }

    [Fact]
    public void StorageConfigLoad_BothPlaces_WharfConfWins()
    {
        Write("etc/storage.conf", "[storage]\n[storage.options.wharf]\nquota = \"50GB\"\n");
        Write("etc/wharf.conf", "[storage]\nquota = \"1GB\"\n");

        Assert.Equal(1_000_000_000L, StorageConfig.Load(Env()).Quota);
    }

    [Theory]
    [InlineData("[storage\nquota = 1")]
    [InlineData("[storage]\nquota = 50")]
    public void StorageConfigLoad_BadWharfConf_ErrorNamesFile(string text)
    {
        Write("etc/wharf.conf", text);

        var e = Assert.Throws<WharfException>(() => StorageConfig.Load(Env()));

        Assert.Contains(Path.Combine(_dir, "etc", "wharf.conf"), e.Message, StringComparison.Ordinal);
    }
}
