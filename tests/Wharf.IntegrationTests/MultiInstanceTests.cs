using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Wharf.IntegrationTests.Images;
using Wharf.IntegrationTests.Infrastructure;

namespace Wharf.IntegrationTests;

/// <summary>
/// Several wharfd processes sharing one data directory and one database (Registry:SharedDataDirectory),
/// behind Debian's nginx as a round-robin load balancer: what one instance starts another continues,
/// quotas hold across instances, a killed instance loses nothing a client cannot resume elsewhere, and
/// GC on one instance never takes a blob that a push through another is linking. Every case runs on
/// both databases (<see cref="MultiInstanceSqliteTests"/>, <see cref="MultiInstancePostgreSqlTests"/>):
/// several processes on one SQLite file in WAL mode is a mode of its own (the single-instance suite
/// has one process), and PostgreSQL is the production layout, whose locks are advisory locks.
/// </summary>
public abstract partial class MultiInstanceTests(ITestOutputHelper output)
{
    /// <summary>Whether the instances keep their metadata in PostgreSQL (else SQLite in the shared directory).</summary>
    private protected abstract bool OnPostgreSql { get; }

    private Task<WharfCluster> StartClusterAsync(params string[] arguments) => WharfCluster.StartAsync(3, output, OnPostgreSql, arguments);

    [NginxFact]
    public async Task ChunkedUpload_StartedOnOneInstance_ContinuedAndFinishedOnOthers()
    {
        await using var cluster = await StartClusterAsync();
        await cluster.Instances[0].CreateProjectAsync("multi");
        using var a = cluster.Instances[0].Admin();
        using var b = cluster.Instances[1].Admin();
        using var c = cluster.Instances[2].Admin();
        byte[] blob = RandomNumberGenerator.GetBytes(3 * 1024 * 1024);
        string digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(blob));
        const int Chunk = 1024 * 1024;

        using var post = await a.PostAsync("v2/multi/split/blobs/uploads/", null);
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        string location = post.Headers.Location!.IsAbsoluteUri ? post.Headers.Location.PathAndQuery : post.Headers.Location.OriginalString;
        string session = location.Split('?')[0].Split('/')[^1];

        location = await PatchAsync(a, location, blob, 0, Chunk);
        location = await PatchAsync(b, location, blob, Chunk, Chunk);
        using (var rest = new ByteArrayContent(blob, 2 * Chunk, blob.Length - (2 * Chunk)))
        {
            rest.Headers.TryAddWithoutValidation("Content-Range", $"{2 * Chunk}-{blob.Length - 1}");
            using var put = await c.PutAsync(RegistryPush.AppendQuery(new Uri(location, UriKind.Relative), "digest=" + digest), rest);
            Assert.True(put.StatusCode == HttpStatusCode.Created, await put.Content.ReadAsStringAsync());
        }

        using var balanced = cluster.Admin();
        Assert.Equal(blob, await balanced.GetByteArrayAsync($"v2/multi/split/blobs/{digest}"));
        Assert.Contains($"\"PATCH /v2/multi/split/blobs/uploads/{session}", cluster.Instances[0].Process.Logs, StringComparison.Ordinal);
        Assert.Contains($"\"PATCH /v2/multi/split/blobs/uploads/{session}", cluster.Instances[1].Process.Logs, StringComparison.Ordinal);
        Assert.Contains($"\"PUT /v2/multi/split/blobs/uploads/{session}", cluster.Instances[2].Process.Logs, StringComparison.Ordinal);
    }

    [NginxFact(needsPodman: true)]
    public async Task SkopeoAndPodman_PushAndPullThroughNginx_UploadsSpreadOverInstances()
    {
        await using var cluster = await StartClusterAsync();
        await cluster.Instances[0].CreateProjectAsync("multi");
        using var scratch = new TempDirectory("wharf-it-multi");
        var skopeo = new Skopeo(output);
        var layout = new OciLayoutBuilder(scratch.Sub("source"));
        var image = await layout.AddImageAsync([256 * 1024, 700 * 1024, 64 * 1024, 1024]);
        layout.Tag("v1", image.Manifest);
        string creds = $"admin:{WharfdProcess.AdminPassword}";
        string target = $"docker://{cluster.Nginx.Host}/multi/skopeo:v1";

        await skopeo.MustRunAsync("copy", "--dest-tls-verify=false", "--dest-creds", creds, layout.Reference("v1"), target);
        string back = Path.Combine(scratch.Path, "pulled");
        await skopeo.MustRunAsync("copy", "--src-tls-verify=false", "--src-creds", creds, target, $"oci:{back}:v1");
        Assert.Equal(image.Manifest.Digest, OciLayoutReader.DigestOfTag(back, "v1"));
        foreach (var blob in image.Blobs)
        {
            Assert.Equal(blob.Digest, OciLayoutReader.HashBlob(back, blob.Digest));
        }

        // podman pushes what skopeo put there under another name and pulls it back, all through nginx.
        using var podman = new Podman(scratch.Sub("podman"), output);
        string podmanRef = $"{cluster.Nginx.Host}/multi/podman:v1";
        await podman.MustRunAsync("pull", "--tls-verify=false", "--creds", creds, $"{cluster.Nginx.Host}/multi/skopeo:v1");
        await podman.MustRunAsync("tag", $"{cluster.Nginx.Host}/multi/skopeo:v1", podmanRef);
        await podman.MustRunAsync("push", "--tls-verify=false", "--creds", creds, podmanRef);
        await podman.MustRunAsync("rmi", "-a", "-f");
        await podman.MustRunAsync("pull", "--tls-verify=false", "--creds", creds, podmanRef);

        // Round robin spread the upload requests: more than one instance served some.
        int serving = cluster.Instances.Count(i => UploadRequest().IsMatch(i.Process.Logs));
        output.WriteLine($"instances that served upload requests: {serving}");
        Assert.True(serving >= 2, "the uploads all went to one instance");
    }

    [NginxFact]
    public async Task TwentyConcurrentPushes_AgainstProjectQuota_NeverExceedIt()
    {
        await using var cluster = await StartClusterAsync();
        const int LayerSize = 64 * 1024;
        const int Fit = 5;
        long limit = RegistryPush.Config.Length + (Fit * (LayerSize + 600L)) + 100;
        using var balanced = cluster.Admin();
        using (var created = await balanced.PostAsJsonAsync("api/v2.0/projects", new { project_name = "quota", storage_limit = limit }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var pushes = Enumerable.Range(0, 20).Select(async i =>
        {
            try
            {
                return (Image: await RegistryPush.PushImageAsync(balanced, $"quota/app{i}", "v1", RegistryPush.Layer($"quota-{i}", LayerSize)), Error: (string?)null);
            }
            catch (HttpRequestException e)
            {
                return (Image: (PushedImage?)null, Error: e.Message);
            }
        }).ToList();
        var results = await Task.WhenAll(pushes);

        int pushed = results.Count(r => r.Image is not null);
        output.WriteLine($"pushed: {pushed}; refused: {string.Join("\n", results.Where(r => r.Error is not null).Select(r => r.Error))}");
        Assert.InRange(pushed, 1, Fit);
        Assert.All(results.Where(r => r.Error is not null), r => Assert.Contains("DENIED", r.Error!, StringComparison.Ordinal));

        long id = await ProjectIdAsync(balanced, "quota");
        using var quotas = JsonDocument.Parse(await balanced.GetStringAsync($"api/v2.0/quotas?reference=project&reference_id={id}"));
        long used = quotas.RootElement[0].GetProperty("used").GetProperty("storage").GetInt64();
        output.WriteLine($"used {used} of {limit}");
        Assert.InRange(used, 1, limit);
    }

    [NginxFact]
    public async Task InstanceKilledMidUpload_ClientResumesThroughAnother()
    {
        await using var cluster = await StartClusterAsync();
        await cluster.Instances[0].CreateProjectAsync("multi");
        using var a = cluster.Instances[0].Admin();
        byte[] blob = RandomNumberGenerator.GetBytes(8 * 1024 * 1024);
        string digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(blob));
        const int Acknowledged = 2 * 1024 * 1024;

        using var post = await a.PostAsync("v2/multi/killed/blobs/uploads/", null);
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        string location = post.Headers.Location!.IsAbsoluteUri ? post.Headers.Location.PathAndQuery : post.Headers.Location.OriginalString;
        location = await PatchAsync(a, location, blob, 0, Acknowledged);

        // The next chunk streams half-way into instance A, which then dies under it.
        var halfSent = new TaskCompletionSource();
        var stalled = new PacedContent(blob, Acknowledged, (blob.Length - Acknowledged) / 2, halfSent);
        stalled.Headers.TryAddWithoutValidation("Content-Range", $"{Acknowledged}-{blob.Length - 1}");
        var patch = a.PatchAsync(location, stalled);
        await halfSent.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await Task.Delay(300);
        cluster.Instances[0].Process.Kill();
        stalled.Release(fail: true);
        await Assert.ThrowsAnyAsync<Exception>(() => patch);

        // The client's retry goes through the balancer: the session's status says what arrived, the rest follows.
        using var balanced = cluster.Admin();
        using var status = await balanced.GetAsync(location);
        Assert.Equal(HttpStatusCode.NoContent, status.StatusCode);
        string range = status.Headers.GetValues("Range").Single();
        int received = int.Parse(range.Split('-')[1], System.Globalization.CultureInfo.InvariantCulture) + 1;
        output.WriteLine($"acknowledged before the kill: {received} bytes");
        Assert.Equal(Acknowledged, received);
        using (var rest = new ByteArrayContent(blob, received, blob.Length - received))
        {
            rest.Headers.TryAddWithoutValidation("Content-Range", $"{received}-{blob.Length - 1}");
            using var put = await balanced.PutAsync(RegistryPush.AppendQuery(new Uri(location, UriKind.Relative), "digest=" + digest), rest);
            Assert.True(put.StatusCode == HttpStatusCode.Created, await put.Content.ReadAsStringAsync());
        }

        Assert.Equal(blob, await balanced.GetByteArrayAsync($"v2/multi/killed/blobs/{digest}"));
        var image = await RegistryPush.PushImageAsync(balanced, "multi/killed", "after", RegistryPush.Layer("after-kill", 4096));
        Assert.Equal(image.Body, await balanced.GetByteArrayAsync($"v2/multi/killed/manifests/after"));
    }

    [NginxFact]
    public async Task Gc_OnOneInstanceWhilePushesGoThroughOthers_DeletesNothingInUse()
    {
        // No grace: a blob nobody refers to is collected at once, so GC races every push of it.
        await using var cluster = await StartClusterAsync("--Registry:GcGracePeriod=00:00:00");
        await cluster.Instances[0].CreateProjectAsync("multi");
        using var gcInstance = cluster.Instances[0].Admin();
        using var b = cluster.Instances[1].Admin();
        using var c = cluster.Instances[2].Admin();

        using var stop = new CancellationTokenSource();
        int gcRuns = 0;
        var gc = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var started = await gcInstance.PostAsJsonAsync("api/v2.0/system/gc/schedule", new { schedule = new { type = "Manual" } });
                if (started.StatusCode == HttpStatusCode.Created)
                {
                    Interlocked.Increment(ref gcRuns);
                }

                await Task.Delay(50);
            }
        });

        var kept = new List<(string Repository, PushedImage Image, byte[] Layer)>();
        try
        {
            for (int round = 0; round < 12; round++)
            {
                // The layer is pushed, its repository deleted (the blob is garbage now), and pushed again
                // elsewhere while GC runs: the second push must end with a blob that is there.
                byte[] layer = RegistryPush.Layer($"gc-round-{round}", 256 * 1024);
                var pusher = round % 2 == 0 ? b : c;
                await RegistryPush.PushImageAsync(pusher, $"multi/churn{round}", "v1", layer);
                using (var deleted = await pusher.DeleteAsync($"api/v2.0/projects/multi/repositories/churn{round}"))
                {
                    Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
                }

                var again = await RegistryPush.PushImageAsync(round % 2 == 0 ? c : b, $"multi/keep{round}", "v1", layer);
                kept.Add(($"multi/keep{round}", again, layer));
            }
        }
        finally
        {
            await stop.CancelAsync();
            await gc;
        }

        output.WriteLine($"gc runs started on instance 0 during the pushes: {gcRuns}");
        Assert.True(gcRuns > 0, "no GC ran during the pushes");
        using (var last = await gcInstance.PostAsJsonAsync("api/v2.0/system/gc/schedule", new { schedule = new { type = "Manual" } }))
        {
            output.WriteLine($"final gc: {(int)last.StatusCode}");
        }

        await Task.Delay(1000);
        using var balanced = cluster.Admin();
        foreach (var (repository, image, layer) in kept)
        {
            Assert.Equal(image.Body, await balanced.GetByteArrayAsync($"v2/{repository}/manifests/v1"));
            string layerDigest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(layer));
            Assert.Equal(layer, await balanced.GetByteArrayAsync($"v2/{repository}/blobs/{layerDigest}"));
        }
    }

    private static async Task<string> PatchAsync(HttpClient client, string location, byte[] blob, int offset, int count)
    {
        using var chunk = new ByteArrayContent(blob, offset, count);
        chunk.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + count - 1}");
        using var patch = await client.PatchAsync(location, chunk);
        Assert.True(patch.StatusCode == HttpStatusCode.Accepted, await patch.Content.ReadAsStringAsync());
        Assert.Equal($"0-{offset + count - 1}", patch.Headers.GetValues("Range").Single());
        var next = patch.Headers.Location!;
        return next.IsAbsoluteUri ? next.PathAndQuery : next.OriginalString;
    }

    private static async Task<long> ProjectIdAsync(HttpClient admin, string name)
    {
        using var project = JsonDocument.Parse(await admin.GetStringAsync($"api/v2.0/projects/{name}"));
        return project.RootElement.GetProperty("project_id").GetInt64();
    }

    [GeneratedRegex("\"(POST|PATCH|PUT) /v2/[^ ]+/blobs/uploads/")]
    private static partial Regex UploadRequest();
}

/// <summary>The multi-instance cases with the metadata in the shared data directory's SQLite file (WAL, one host).</summary>
public sealed class MultiInstanceSqliteTests(ITestOutputHelper output) : MultiInstanceTests(output)
{
    private protected override bool OnPostgreSql => false;
}

/// <summary>
/// The multi-instance cases with the metadata in a real PostgreSQL (Debian's, on 127.0.0.1 with a
/// private cluster: <see cref="PostgreSqlServer"/>), one database per cluster; the shared data
/// directory then holds only blobs and uploads.
/// </summary>
public sealed class MultiInstancePostgreSqlTests(ITestOutputHelper output) : MultiInstanceTests(output)
{
    private protected override bool OnPostgreSql => true;
}

/// <summary>
/// Instances of wharfd on one shared data directory, started one after the other (the first creates
/// the schema), with the access log on, and nginx in front; the metadata in the directory's SQLite file
/// or in a PostgreSQL database of the test process's server made for this cluster. Disposing stops
/// every process by PID, prints each one's log into the test output and drops the database.
/// </summary>
internal sealed class WharfCluster : IAsyncDisposable
{
    private readonly TempDirectory _data = new("wharf-it-shared");
    private readonly ITestOutputHelper _output;
    private PostgreSqlServer? _postgres;

    private WharfCluster(ITestOutputHelper output) => _output = output;

    /// <summary>The PostgreSQL database's URL, or null on SQLite.</summary>
    public string? DatabaseUrl { get; private set; }

    public List<WharfdProcess> Instances { get; } = [];

    public NginxBalancer Nginx { get; private set; } = null!;

    public string DataDirectory => Path.Combine(_data.Path, "data");

    public static async Task<WharfCluster> StartAsync(int count, ITestOutputHelper output, bool postgreSql, params string[] arguments)
    {
        var cluster = new WharfCluster(output);
        try
        {
            string[] database = [];
            if (postgreSql)
            {
                cluster._postgres = await PostgreSqlServer.SharedAsync();
                cluster.DatabaseUrl = await cluster._postgres.CreateDatabaseAsync("multi");
                database = ["--database", cluster.DatabaseUrl];
            }

            for (int i = 0; i < count; i++)
            {
                cluster.Instances.Add(await WharfdProcess.StartAsync(new WharfdOptions
                {
                    DataDirectory = cluster.DataDirectory,
                    Arguments = ["--access-log", "--Registry:SharedDataDirectory=true", .. database, .. arguments],
                }));
            }

            if (postgreSql && File.Exists(Path.Combine(cluster.DataDirectory, "registry.db")))
            {
                throw new InvalidOperationException("the instances were given PostgreSQL but made registry.db in the data directory");
            }

            cluster.Nginx = await NginxBalancer.StartAsync([.. cluster.Instances.Select(i => i.Port)]);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>The admin, through nginx.</summary>
    public HttpClient Admin() => WharfEndpoint.Client(Nginx.BaseAddress, "admin", WharfdProcess.AdminPassword);

    public async ValueTask DisposeAsync()
    {
        Nginx?.Dispose();
        for (int i = 0; i < Instances.Count; i++)
        {
            Instances[i].Dispose();
            _output.WriteLine($"--- wharfd instance {i} (port {Instances[i].Port}) ---");
            _output.WriteLine(Instances[i].Process.Logs);
        }

        if (_postgres is not null && DatabaseUrl is not null)
        {
            await _postgres.DropDatabaseAsync(DatabaseUrl);
        }

        _data.Dispose();
    }
}

/// <summary>A request body that sends part of its data, then waits: to go on (<see cref="Release"/>) or to break off.</summary>
internal sealed class PacedContent(byte[] data, int offset, int first, TaskCompletionSource firstSent) : HttpContent
{
    private readonly TaskCompletionSource<bool> _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Sends the rest, or (<paramref name="fail"/>) ends the body with an error.</summary>
    public void Release(bool fail = false) => _release.TrySetResult(fail);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        await stream.WriteAsync(data.AsMemory(offset, first));
        await stream.FlushAsync();
        firstSent.TrySetResult();
        if (await _release.Task.WaitAsync(TimeSpan.FromMinutes(2)))
        {
            throw new IOException("the client broke off the body");
        }

        await stream.WriteAsync(data.AsMemory(offset + first));
    }

    protected override bool TryComputeLength(out long length)
    {
        length = data.Length - offset;
        return true;
    }
}

/// <summary>A test that needs nginx (and, when asked, podman and skopeo); skipped, with the reason, when they cannot run.</summary>
public sealed class NginxFactAttribute : FactAttribute
{
    public NginxFactAttribute(bool needsPodman = false)
    {
        Skip = NginxBalancer.Problem ?? (needsPodman ? ToolProbe.SkopeoProblem ?? ToolProbe.PodmanProblem : null);
    }
}
