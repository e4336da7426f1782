using Wharf.Engine.Build;

namespace Wharf.Engine.Tests.Build;

public sealed class BuildCacheTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-buildcache-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Put_ConcurrentWriters_NoEntryLost()
    {
        string path = Path.Combine(_dir, "build-cache.json");
        const int writers = 24;

        // Separate instances, as separate builds have: only the file lock orders them.
        Parallel.For(0, writers, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            for (int j = 0; j < 5; j++)
            {
                new BuildCache(path).Put($"key-{i}-{j}", $"image-{i}-{j}");
            }
        });

        var cache = new BuildCache(path);
        for (int i = 0; i < writers; i++)
        {
            for (int j = 0; j < 5; j++)
            {
                Assert.Equal($"image-{i}-{j}", cache.Get($"key-{i}-{j}"));
            }
        }

        Assert.Equal(["build-cache.json", "build-cache.json.lock"], Directory.GetFiles(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Get_CorruptFile_IsAMiss()
    {
        string path = Path.Combine(_dir, "build-cache.json");
        File.WriteAllText(path, "{\"half\": ");

        Assert.Null(new BuildCache(path).Get("half"));
    }

    [Fact]
    public void Put_CorruptFile_StartsAFreshMap()
    {
        string path = Path.Combine(_dir, "build-cache.json");
        File.WriteAllText(path, "not json");
        var cache = new BuildCache(path);

        cache.Put("k", "sha256:1");

        Assert.Equal("sha256:1", cache.Get("k"));
    }
}
