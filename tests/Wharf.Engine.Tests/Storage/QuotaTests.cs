using Wharf.Client;
using Wharf.Engine.Storage;
using Wharf.Engine.Tests.Images;
using Wharf.Oci;

namespace Wharf.Engine.Tests.Storage;

public sealed class QuotaTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-quota-").FullName;
    private readonly MiniRegistry _registry = new();

    public void Dispose()
    {
        _registry.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private ImageEngine Engine(Dictionary<string, string>? vars = null, string? root = null)
    {
        Directory.CreateDirectory(Path.Combine(_dir, "etc"));
        File.WriteAllText(Path.Combine(_dir, "etc", "registries.conf"), string.Empty);
        var env = new HostEnvironment(k => vars?.GetValueOrDefault(k), Path.Combine(_dir, "home"), 0, Path.Combine(_dir, "etc"));
        return new ImageEngine(new EngineOptions
        {
            Environment = env,
            Root = root ?? Path.Combine(_dir, "graph"),
            RunRoot = Path.Combine(_dir, "run"),
            Transport = _registry,
            RetryDelay = _ => TimeSpan.Zero,
        });
    }

    private static Descriptor Blob(string text, long size) =>
        new() { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Compute(System.Text.Encoding.UTF8.GetBytes(text)), Size = size };

    [Theory]
    [InlineData("50GB", 50_000_000_000L)]
    [InlineData("40GiB", 40L * 1024 * 1024 * 1024)]
    [InlineData("512", 512L)]
    [InlineData("512B", 512L)]
    [InlineData("1.5KB", 1500L)]
    [InlineData("10kib", 10240L)]
    [InlineData("2 TB", 2_000_000_000_000L)]
    [InlineData("3M", 3_000_000L)]
    public void ByteSizeTryParse_PodmanUnits_Bytes(string text, long expected)
    {
        Assert.True(ByteSize.TryParse(text, out long bytes));
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("")]
    [InlineData("GB")]
    [InlineData("10XB")]
    [InlineData("10iB")]
    public void ByteSizeTryParse_Malformed_False(string text) => Assert.False(ByteSize.TryParse(text, out _));

    [Fact]
    public void StorageConfigLoad_WharfOptionsTable_QuotaRead()
    {
        string conf = Path.Combine(_dir, "storage.conf");
        File.WriteAllText(conf, "[storage]\ndriver = \"overlay\"\n[storage.options]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n[storage.options.wharf]\nquota = \"50GB\"\n");

        var config = StorageConfig.Load(new HostEnvironment(k => k == "CONTAINERS_STORAGE_CONF" ? conf : null, Path.Combine(_dir, "home"), 1000, Path.Combine(_dir, "etc")));

        Assert.Equal(50_000_000_000L, config.Quota);
    }

    [Fact]
    public void StorageConfigLoad_EnvironmentAndFile_EnvironmentWins()
    {
        string conf = Path.Combine(_dir, "storage.conf");
        File.WriteAllText(conf, "[storage]\n[storage.options.wharf]\nquota = \"50GB\"\n");
        var vars = new Dictionary<string, string> { ["CONTAINERS_STORAGE_CONF"] = conf, ["WHARF_STORAGE_QUOTA"] = "1GiB" };

        var config = StorageConfig.Load(new HostEnvironment(k => vars.GetValueOrDefault(k), Path.Combine(_dir, "home"), 1000, Path.Combine(_dir, "etc")));

        Assert.Equal(1L << 30, config.Quota);
        Assert.Equal("WHARF_STORAGE_QUOTA", config.QuotaSource);
    }

    [Fact]
    public void StorageConfigLoad_MalformedQuota_ClearError()
    {
        var e = Assert.Throws<WharfException>(() => StorageConfig.Load(new HostEnvironment(
            k => k == "WHARF_STORAGE_QUOTA" ? "lots" : null, Path.Combine(_dir, "home"), 1000, Path.Combine(_dir, "etc"))));

        Assert.Contains("invalid image store quota \"lots\"", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_OverQuota_RefusedBeforeAnyBlobAndStoreEmpty()
    {
        _registry.AddImage("lab/big", "1", "amd64");
        var engine = Engine(new() { ["WHARF_STORAGE_QUOTA"] = "500B" });

        var e = await Assert.ThrowsAsync<StoreFullException>(() => engine.Registry.PullAsync(new PullOptions { Reference = "reg.test/lab/big:1" }, CancellationToken.None));

        Assert.StartsWith("pulling reg.test/lab/big:1: not enough space in the image store: needs ", e.Message, StringComparison.Ordinal);
        Assert.Contains("free of quota 500B (used 0B)", e.Message, StringComparison.Ordinal);
        Assert.Contains("\"wharf rmi\"", e.Message, StringComparison.Ordinal);
        Assert.Contains($"wharf system reset --root {Path.Combine(_dir, "graph")}", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_registry.Log, l => l.Contains("/blobs/", StringComparison.Ordinal));
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "graph", "wharf", "blobs", "sha256")));
        Assert.Empty(engine.Store.ReadImages());
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "graph", "wharf", "inflight")));
    }

    [Fact]
    public async Task Pull_WithinQuota_StoredAndSecondImageOverQuotaRefused()
    {
        _registry.AddImage("lab/one", "1", "amd64");
        _registry.AddImage("lab/two", "1", "arm64");
        var vars = new Dictionary<string, string> { ["WHARF_STORAGE_QUOTA"] = "3KB" };
        await Engine(vars).Registry.PullAsync(new PullOptions { Reference = "reg.test/lab/one:1" }, CancellationToken.None);
        long used = Engine(vars).Store.UsedBytes();
        Assert.InRange(used, 1000, 3000);

        var e = await Assert.ThrowsAsync<StoreFullException>(() => Engine(vars).Registry.PullAsync(new PullOptions { Reference = "reg.test/lab/two:1" }, CancellationToken.None));

        Assert.Contains($"(used {ByteSize.Format(used)})", e.Message, StringComparison.Ordinal);
        Assert.Single(Engine(vars).Store.ReadImages());
    }

    [Fact]
    public void Reserve_TwoPullsTogetherOverQuota_SecondRefusedUntilFirstEnds()
    {
        var first = new ImageStore(Path.Combine(_dir, "graph"));
        var second = new ImageStore(Path.Combine(_dir, "graph"));
        var a = Blob("a", 600);
        var b = Blob("b", 600);

        var held = first.Reserve([a.Digest.ToString()], [a], quota: 1000);
        var e = Assert.Throws<StoreFullException>(() => second.Reserve([b.Digest.ToString()], [b], quota: 1000));
        Assert.Equal(600, e.Used);
        Assert.Equal(600, e.Needed);
        held.Dispose();

        using var now = second.Reserve([b.Digest.ToString()], [b], quota: 1000);
        Assert.Equal(600, second.UsedBytes());
    }

    [Fact]
    public void Reserve_SameBlobReservedByAnotherPull_NotCountedTwice()
    {
        var store = new ImageStore(Path.Combine(_dir, "graph"));
        var a = Blob("a", 600);

        using var first = store.Reserve([a.Digest.ToString()], [a], quota: 1000);
        using var second = store.Reserve([a.Digest.ToString()], [a], quota: 1000);

        Assert.Equal(600, store.UsedBytes());
    }

    [Fact]
    public void Reserve_MoreThanFilesystemFree_Refused()
    {
        var store = new ImageStore(Path.Combine(_dir, "graph")) { FreeSpaceProbe = () => 100 };
        var a = Blob("a", 600);

        var e = Assert.Throws<StoreFullException>(() => store.Reserve([a.Digest.ToString()], [a], quota: null));

        Assert.Equal(100, e.Free);
        Assert.Contains("needs 600B, 100B free on the filesystem", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UsedBytes_LayersUnpackedForContainers_Counted()
    {
        var store = new ImageStore(Path.Combine(_dir, "graph"));
        string layer = Path.Combine(store.Root, "layers", "abc", "diff", "usr", "bin");
        Directory.CreateDirectory(layer);
        File.WriteAllBytes(Path.Combine(layer, "tool"), new byte[1234]);

        Assert.Equal(1234, store.UsedBytes());
    }

    [Fact]
    public void DiskUsage_QuotaSet_ReportsUsedLimitAndFree()
    {
        var engine = Engine(new() { ["WHARF_STORAGE_QUOTA"] = "50GB" });

        var report = engine.Local.DiskUsage();

        Assert.Equal(50_000_000_000L, report.Quota);
        Assert.Equal(0, report.StoreUsed);
        Assert.True(report.FilesystemFree > 0);
    }

    [Fact]
    public void Reset_RootIsNotAStore_RefusedAndNothingRemoved()
    {
        string home = Path.Combine(_dir, "alice");
        Directory.CreateDirectory(Path.Combine(home, "Documents"));
        File.WriteAllText(Path.Combine(home, "notes.txt"), "keep");

        var e = Assert.Throws<WharfException>(() => Engine(root: home).Local.Reset(keepRunRoot: true));

        Assert.Contains("is not a container storage root", e.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(home, "notes.txt")));
    }

    [Fact]
    public async Task Reset_AnotherUsersStoreByRoot_GraphRootRemovedRunRootKept()
    {
        _registry.AddImage("lab/one", "1", "amd64");
        string other = Path.Combine(_dir, "bob-storage");
        await Engine(root: other).Registry.PullAsync(new PullOptions { Reference = "reg.test/lab/one:1" }, CancellationToken.None);
        Directory.CreateDirectory(Path.Combine(_dir, "run"));

        Engine(root: other).Local.Reset(keepRunRoot: true);

        Assert.False(Directory.Exists(other));
        Assert.True(Directory.Exists(Path.Combine(_dir, "run")));
    }
}
