using System.Net;
using System.Net.Http.Json;
using Wharf.Cli.Tests.Containers;

namespace Wharf.Cli.Tests.Jobs;

/// <summary>
/// A cluster node that cannot reach the image's registry: its registries.conf names a mirror, a
/// wharfd proxy-cache project in front of that registry, and <c>job submit</c> (resolution at
/// submit, the pull when the job starts) goes through it. No Slurm: the local executor.
/// </summary>
[Collection("containers")]
public sealed class JobMirrorTests(ContainerFixture fixture) : IDisposable
{
    private readonly WharfProcess _wharf = new();

    public void Dispose()
    {
        JobHelpers.CancelAll(_wharf);
        _wharf.Dispose();
    }

    [Fact]
    public async Task Submit_ImageOfAnUnreachableRegistry_ResolvedAndPulledThroughTheProxyCacheMirror()
    {
        await using var cluster = await WharfdProcess.StartAsync();
        using (var admin = cluster.Admin())
        {
            using var endpoint = await admin.PostAsJsonAsync("api/v2.0/registries", new { name = "outside", type = "harbor", url = $"http://{fixture.Registry}" });
            await WharfEndpoint.ExpectAsync(endpoint, HttpStatusCode.Created);
            long id = long.Parse(endpoint.Headers.Location!.ToString().Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture);
            using var project = await admin.PostAsJsonAsync("api/v2.0/projects", new { project_name = "outside-cache", registry_id = id, metadata = new { @public = "true" } });
            await WharfEndpoint.ExpectAsync(project, HttpStatusCode.Created);
        }

        // The image's own registry: a port nothing listens on, as the outside is from the cluster.
        string unreachable = $"127.0.0.1:{LoopbackPort.Free()}";
        string conf = Path.Combine(_wharf.Dir, "registries.conf");
        File.WriteAllText(conf, $"[[registry]]\nlocation = \"{unreachable}\"\ninsecure = true\n[[registry.mirror]]\nlocation = \"{cluster.Host}/outside-cache\"\ninsecure = true\n");
        _wharf.Env["CONTAINERS_REGISTRIES_CONF"] = conf;
        string image = $"{unreachable}/lab/bb:1";

        string job = JobHelpers.Submit(_wharf, image, "--", "cat", "/etc/motd");
        var final = JobHelpers.WaitFinal(_wharf, job);

        Assert.Equal("completed", (string?)final["state"]);
        Assert.Equal("from the image\n", _wharf.Check("job", "logs", job));
        string resolved = (string)final["spec"]!["resolvedImage"]!;
        Assert.StartsWith($"{unreachable}/lab/bb@sha256:", resolved, StringComparison.Ordinal);
        // The proxy project fetched it from the outside registry and holds it now.
        using var http = cluster.Admin();
        string tags = await http.GetStringAsync("v2/outside-cache/lab/bb/tags/list");
        Assert.Contains("\"1\"", tags, StringComparison.Ordinal);

        // Without the mirror the same submit fails: the registry really is unreachable.
        File.WriteAllText(conf, $"[[registry]]\nlocation = \"{unreachable}\"\ninsecure = true\n");
        var (code, _, stderr) = _wharf.Run("job", "submit", "--tls-verify=false", "--image", $"{unreachable}/lab/bb:1", "--", "true");
        Assert.Equal(125, code);
        Assert.Contains(unreachable, stderr, StringComparison.Ordinal);
    }
}
