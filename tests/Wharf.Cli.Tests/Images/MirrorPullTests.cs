using System.Net;
using System.Net.Http.Json;

namespace Wharf.Cli.Tests.Images;

/// <summary>
/// registries.conf mirrors (containers-registries.conf(5)) with real registries: a primary and a
/// mirror (docker-registry, each with its access log), the same file given to wharf and to podman,
/// and for each case the registry that served the pull compared between the two. Then the air-gap
/// story: a wharfd proxy-cache project as the mirror keeps serving once the primary is gone.
/// </summary>
[Collection("registry")]
public sealed class MirrorPullTests(RegistryFixture registry) : IDisposable
{
    private const string Repository = "lab/fixture";
    private readonly DockerRegistry _primary = DockerRegistry.Start("primary");
    private readonly DockerRegistry _mirror = DockerRegistry.Start("mirror");

    public void Dispose()
    {
        _primary.Dispose();
        _mirror.Dispose();
    }

    [Fact]
    public void Pull_MirrorHasTheImage_MirrorServesWharfAndPodmanAlike()
    {
        Seed(_primary.Host);
        Seed(_mirror.Host);
        using var wharf = new WharfRunner(Conf(_mirror.Host));

        foreach (var puller in Pullers(wharf))
        {
            int primaryMark = _primary.Mark, mirrorMark = _mirror.Mark;
            var (code, _, stderr) = puller.Pull($"{_primary.Host}/{Repository}:1");

            Assert.True(code == 0, $"{puller.Name}: {stderr}");
            Assert.True(_mirror.ManifestGets(Repository, mirrorMark) > 0, $"{puller.Name}: the mirror was not asked\n{_mirror.Logs}");
            Assert.True(_primary.ManifestGets(Repository, primaryMark) == 0, $"{puller.Name}: the primary was asked\n{_primary.Logs}");
        }
    }

    [Fact]
    public void Pull_MirrorDown_FallsBackToThePrimaryForWharfAndPodman()
    {
        Seed(_primary.Host);
        string down = $"127.0.0.1:{LoopbackPort.Free()}"; // nothing listens there
        using var wharf = new WharfRunner(Conf(down));

        foreach (var puller in Pullers(wharf))
        {
            int mark = _primary.Mark;
            var (code, _, stderr) = puller.Pull($"{_primary.Host}/{Repository}:1");

            Assert.True(code == 0, $"{puller.Name}: {stderr}");
            Assert.True(_primary.ManifestGets(Repository, mark) > 0, $"{puller.Name}: the primary did not serve it");
        }
    }

    [Fact]
    public void Pull_MirrorWithoutTheImage_FallsBackToThePrimary()
    {
        Seed(_primary.Host);
        using var wharf = new WharfRunner(Conf(_mirror.Host));

        foreach (var puller in Pullers(wharf))
        {
            int primaryMark = _primary.Mark, mirrorMark = _mirror.Mark;
            var (code, _, stderr) = puller.Pull($"{_primary.Host}/{Repository}:1");

            Assert.True(code == 0, $"{puller.Name}: {stderr}");
            Assert.True(_mirror.ManifestGets(Repository, mirrorMark) > 0, $"{puller.Name}: the mirror was not tried first");
            Assert.True(_primary.ManifestGets(Repository, primaryMark) > 0, $"{puller.Name}: the primary did not serve it");
        }
    }

    [Fact]
    public async Task Pull_MirrorByDigestOnly_TagFromThePrimaryDigestFromTheMirror()
    {
        Seed(_primary.Host);
        Seed(_mirror.Host);
        string digest = await DigestAsync(_primary.Host);
        using var wharf = new WharfRunner(Conf(_mirror.Host, "mirror-by-digest-only = true\n"));

        foreach (var puller in Pullers(wharf))
        {
            int primaryMark = _primary.Mark, mirrorMark = _mirror.Mark;
            var byTag = puller.Pull($"{_primary.Host}/{Repository}:1");
            Assert.True(byTag.ExitCode == 0, $"{puller.Name}: {byTag.Stderr}");
            Assert.True(_mirror.ManifestGets(Repository, mirrorMark) == 0, $"{puller.Name}: a tag went to the digest-only mirror");
            Assert.True(_primary.ManifestGets(Repository, primaryMark) > 0, $"{puller.Name}: the primary did not serve the tag");

            primaryMark = _primary.Mark;
            mirrorMark = _mirror.Mark;
            var byDigest = puller.Pull($"{_primary.Host}/{Repository}@{digest}");
            Assert.True(byDigest.ExitCode == 0, $"{puller.Name}: {byDigest.Stderr}");
            Assert.True(_mirror.ManifestGets(Repository, mirrorMark) > 0, $"{puller.Name}: the mirror did not serve the digest");
            Assert.True(_primary.ManifestGets(Repository, primaryMark) == 0, $"{puller.Name}: the primary was asked for the digest");
        }
    }

    [Fact]
    public void Pull_BlockedRegistry_RefusedByBothWithoutAsking()
    {
        Seed(_primary.Host);
        using var wharf = new WharfRunner($"[[registry]]\nlocation = \"{_primary.Host}\"\ninsecure = true\nblocked = true\n");

        foreach (var puller in Pullers(wharf))
        {
            int mark = _primary.Mark;
            var (code, _, stderr) = puller.Pull($"{_primary.Host}/{Repository}:1");

            Assert.True(code != 0, $"{puller.Name} pulled from a blocked registry");
            Assert.Contains("blocked", stderr, StringComparison.Ordinal);
            Assert.Equal(0, _primary.ManifestGets(Repository, mark));
        }
    }

    [Fact]
    public async Task Pull_WharfdProxyCacheAsTheMirror_KeepsServingWhenThePrimaryIsGone()
    {
        Seed(_primary.Host);
        await using var wharfd = await WharfdProcess.StartAsync();
        using (var admin = wharfd.Admin())
        {
            using var endpoint = await admin.PostAsJsonAsync("api/v2.0/registries", new { name = "primary", type = "docker-registry", url = $"http://{_primary.Host}" });
            await WharfEndpoint.ExpectAsync(endpoint, HttpStatusCode.Created);
            long id = long.Parse(endpoint.Headers.Location!.ToString().Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture);
            using var project = await admin.PostAsJsonAsync("api/v2.0/projects", new { project_name = "primary-cache", registry_id = id, metadata = new { @public = "true" } });
            await WharfEndpoint.ExpectAsync(project, HttpStatusCode.Created);
        }

        using var wharf = new WharfRunner(Conf($"{wharfd.Host}/primary-cache"));
        string image = $"{_primary.Host}/{Repository}:1";
        var first = wharf.Run("pull", "-q", image);
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.Equal(registry.ImageId + "\n", first.Stdout);
        await WaitUntilCachedAsync(wharfd);

        // The outside goes away: the node's pulls are still served, by wharf and podman alike.
        _primary.Kill();
        Assert.Equal(0, wharf.Run("rmi", image).ExitCode);
        var again = wharf.Run("pull", "-q", image);
        Assert.True(again.ExitCode == 0, again.Stderr);
        var podman = PodmanPull(wharf, image);
        Assert.True(podman.ExitCode == 0, podman.Stderr);
    }

    private string Conf(string mirror, string registryExtra = "") =>
        $"[[registry]]\nlocation = \"{_primary.Host}\"\ninsecure = true\n{registryExtra}[[registry.mirror]]\nlocation = \"{mirror}\"\ninsecure = true\n";

    /// <summary>wharf (its store emptied after each pull) and podman (a new store each time), with the runner's registries.conf.</summary>
    private static IEnumerable<(string Name, Func<string, (int ExitCode, string Stdout, string Stderr)> Pull)> Pullers(WharfRunner wharf)
    {
        yield return ("wharf", image =>
        {
            var result = wharf.Run("pull", "-q", image);
            wharf.Run("rmi", "-a", "-f");
            return (result.ExitCode, result.Stdout, result.Stderr);
        });
        yield return ("podman", image => PodmanPull(wharf, image));
    }

    /// <summary>podman with the runner's registries.conf and a private store that starts empty each time.</summary>
    private static (int ExitCode, string Stdout, string Stderr) PodmanPull(WharfRunner wharf, string image)
    {
        string store = Path.Combine(wharf.Dir, "podman-" + Guid.NewGuid().ToString("N")[..8]);
        return Tools.Run("/usr/bin/env", $"CONTAINERS_REGISTRIES_CONF={Path.Combine(wharf.Dir, "etc", "registries.conf")}",
            "podman", "--root", Path.Combine(store, "storage"), "--runroot", Path.Combine(store, "run"), "--tmpdir", Path.Combine(store, "tmp"),
            "--storage-driver", "vfs", "pull", "-q", image);
    }

    /// <summary>The fixture image copied digest for digest into a registry.</summary>
    private void Seed(string host) =>
        Tools.Check("skopeo", "copy", "--quiet", "--preserve-digests", "--src-tls-verify=false", "--dest-tls-verify=false",
            $"docker://{registry.Open}/{Repository}:1", $"docker://{host}/{Repository}:1");

    private static async Task<string> DigestAsync(string host)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Head, $"http://{host}/v2/{Repository}/manifests/1");
        request.Headers.TryAddWithoutValidation("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json");
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return response.Headers.GetValues("Docker-Content-Digest").Single();
    }

    /// <summary>Until wharfd has stored what it fetched (the tag is listed once the manifest and its blobs are in).</summary>
    private static async Task WaitUntilCachedAsync(WharfdProcess wharfd)
    {
        using var admin = wharfd.Admin();
        for (int i = 0; i < 600; i++)
        {
            using var tags = await admin.GetAsync($"v2/primary-cache/{Repository}/tags/list");
            if (tags.IsSuccessStatusCode && (await tags.Content.ReadAsStringAsync()).Contains("\"1\"", StringComparison.Ordinal))
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail("wharfd did not cache the image");
    }
}
