using Wharf.Client;
using Wharf.Engine.Storage;

namespace Wharf.Engine.Tests.Storage;

public sealed class StorageConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-storage-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private HostEnvironment Env(int uid, Dictionary<string, string>? vars = null) =>
        new(k => vars?.GetValueOrDefault(k), Path.Combine(_dir, "home"), uid, Path.Combine(_dir, "etc"));

    private void Write(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    [Fact]
    public void Load_RootlessUserFile_ReplacesSystemFile()
    {
        Write(Path.Combine(_dir, "etc", "storage.conf"), "[storage]\ndriver = \"vfs\"\ngraphroot = \"/system/graph\"\nrunroot = \"/system/run\"\n");
        Write(Path.Combine(_dir, "home", ".config", "containers", "storage.conf"), "[storage]\ngraphroot = \"/local/storage/alice\"\n");

        var config = StorageConfig.Load(Env(1000));

        Assert.Equal("/local/storage/alice", config.GraphRoot);
        Assert.Equal("overlay", config.Driver);
        // No XDG_RUNTIME_DIR: /run/user/UID when the user has one, else a private directory under /tmp.
        Assert.Equal(Directory.Exists("/run/user/1000") ? "/run/user/1000/containers" : "/tmp/wharf-run-1000/containers", config.RunRoot);
    }

    [Fact]
    public void Load_RootlessNoFiles_XdgDataHomeDefault()
    {
        var config = StorageConfig.Load(Env(1000, new() { ["XDG_DATA_HOME"] = "/data/alice", ["XDG_RUNTIME_DIR"] = "/run/user/1000" }));

        Assert.Equal("/data/alice/containers/storage", config.GraphRoot);
        Assert.Equal("/run/user/1000/containers", config.RunRoot);
    }

    [Fact]
    public void Load_Root_SystemFileGraphRoot()
    {
        Write(Path.Combine(_dir, "etc", "storage.conf"), "[storage]\ngraphroot = \"/srv/graph\"\nrunroot = \"/srv/run\"\n");
        Write(Path.Combine(_dir, "home", ".config", "containers", "storage.conf"), "[storage]\ngraphroot = \"/ignored\"\n");

        var config = StorageConfig.Load(Env(0));

        Assert.Equal("/srv/graph", config.GraphRoot);
        Assert.Equal("/srv/run", config.RunRoot);
    }

    [Fact]
    public void Load_EnvironmentFileAndFlags_FlagsWin()
    {
        string file = Path.Combine(_dir, "custom.conf");
        Write(file, "[storage]\ngraphroot = \"/env/graph\"\nrunroot = \"/env/run\"\n");
        var env = Env(0, new() { ["CONTAINERS_STORAGE_CONF"] = file });

        Assert.Equal("/env/graph", StorageConfig.Load(env).GraphRoot);
        var flagged = StorageConfig.Load(env, rootOverride: "/flag/graph", runRootOverride: "/flag/run");
        Assert.Equal("/flag/graph", flagged.GraphRoot);
        Assert.Equal("/flag/run", flagged.RunRoot);
    }

    [Fact]
    public void Load_BrokenToml_WharfErrorNamesFile()
    {
        string file = Path.Combine(_dir, "bad.conf");
        Write(file, "[storage\ngraphroot = ");

        var e = Assert.Throws<WharfException>(() => StorageConfig.Load(Env(0, new() { ["CONTAINERS_STORAGE_CONF"] = file })));

        Assert.Contains(file, e.Message, StringComparison.Ordinal);
    }
}
