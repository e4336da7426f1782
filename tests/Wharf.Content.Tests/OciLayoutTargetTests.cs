using Wharf.Oci;

namespace Wharf.Content.Tests;

public sealed class OciLayoutTargetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wharf-layout-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Copy_IntoLayoutAndBack_SameDigestsAndRefName()
    {
        var source = new MemoryTarget();
        var root = source.AddImage("v1", layers: 2);
        var layout = new OciLayoutTarget(_dir).Initialize();

        await CopyEngine.CopyAsync(source, "v1", layout, "localhost/app:v1", new CopyOptions(), CancellationToken.None);
        var back = new MemoryTarget();
        await CopyEngine.CopyAsync(new OciLayoutTarget(_dir), "localhost/app:v1", back, "x", new CopyOptions(), CancellationToken.None);

        Assert.Equal("{\"imageLayoutVersion\":\"1.0.0\"}", File.ReadAllText(Path.Combine(_dir, "oci-layout")));
        Assert.True(File.Exists(Path.Combine(_dir, "blobs", "sha256", root.Digest.Encoded)));
        var entry = Assert.Single(layout.ReadIndex());
        Assert.Equal("localhost/app:v1", entry.Annotations![OciLayoutTarget.RefNameAnnotation]);
        Assert.Equal(source.Blobs.Keys.Select(k => k.ToString()).Order(), back.Blobs.Keys.Select(k => k.ToString()).Order());
    }

    [Fact]
    public async Task Push_WrongContent_NothingUnderTheFinalName()
    {
        var layout = new OciLayoutTarget(_dir).Initialize();
        var d = new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Compute("right"u8), Size = 5 };

        await Assert.ThrowsAsync<ContentException>(() => layout.PushAsync(d, new MemoryStream("wrong"u8.ToArray()), CancellationToken.None));

        Assert.False(await layout.ExistsAsync(d, CancellationToken.None));
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "blobs", "sha256")));
    }

    [Fact]
    public void Initialize_PartialFilesOfExitedWriters_RemovedThoseOfLiveOnesKept()
    {
        var layout = new OciLayoutTarget(_dir).Initialize();
        string blobs = Path.Combine(_dir, "blobs", "sha256");
        // A PID that no process has: one past the kernel's maximum.
        int dead = int.Parse(File.ReadAllText("/proc/sys/kernel/pid_max").Trim(), System.Globalization.CultureInfo.InvariantCulture) + 1;
        string deadBlob = Path.Combine(blobs, new string('a', 64) + $".partial-{dead}-x");
        string deadIndex = Path.Combine(_dir, $"index.json.partial-{dead}-y");
        string live = Path.Combine(blobs, new string('b', 64) + $".partial-{Environment.ProcessId}-z");
        string whole = Path.Combine(blobs, new string('c', 64));
        foreach (string f in new[] { deadBlob, deadIndex, live, whole })
        {
            File.WriteAllText(f, "x");
        }

        Assert.Equal(2, layout.SweepPartials());

        Assert.False(File.Exists(deadBlob));
        Assert.False(File.Exists(deadIndex));
        Assert.True(File.Exists(live));
        Assert.True(File.Exists(whole));
        Assert.Empty(layout.ReadIndex());
    }

    [Fact]
    public async Task Resolve_UnknownRef_ThrowsNotFound()
    {
        var layout = new OciLayoutTarget(_dir).Initialize();
        await Assert.ThrowsAsync<ContentNotFoundException>(() => layout.ResolveAsync("nope", CancellationToken.None));
    }
}
