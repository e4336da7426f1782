using System.Net;
using System.Net.Http.Json;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Policies;

/// <summary>Real podman (private root, runroot and tmpdir) pushing to and over an immutable tag.</summary>
public sealed class ImmutableTagPodmanTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private WharfServer _server = null!;
    private Podman _podman = null!;
    private string _host = "";

    public async Task InitializeAsync()
    {
        Assert.True(Podman.IsInstalled, "podman is not installed (test.sh installs it when run as root)");
        _server = await WharfServer.StartAsync();
        _host = _server.BaseAddress.Authority;
        _podman = new Podman();
        await _server.CreateProjectAsync("frozen");
        using var admin = _server.Admin();
        using var rule = await admin.PostAsJsonAsync("api/v2.0/projects/frozen/immutabletagrules", new
        {
            disabled = false,
            action = "immutable",
            template = "immutable_template",
            tag_selectors = new[] { new { kind = "doublestar", decoration = "matches", pattern = "release-*" } },
            scope_selectors = new { repository = new[] { new { kind = "doublestar", decoration = "repoMatches", pattern = "**" } } },
        });
        await WharfEndpoint.ExpectAsync(rule, HttpStatusCode.Created);
    }

    public async Task DisposeAsync()
    {
        _podman?.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<ProcessResult> PushAsync(string local, string remote)
    {
        var push = await _podman.RunAsync("push", "--tls-verify=false", local, $"{_host}/{remote}");
        output.WriteLine($"push {local} -> {remote}: {push}");
        return push;
    }

    private async Task<string> DigestOfAsync(string tag)
    {
        using var admin = _server.Admin();
        using var request = new HttpRequestMessage(HttpMethod.Head, $"v2/frozen/app/manifests/{tag}");
        request.Headers.Accept.ParseAdd("application/vnd.oci.image.manifest.v1+json");
        request.Headers.Accept.ParseAdd("application/vnd.docker.distribution.manifest.v2+json");
        using var head = await admin.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        return head.Headers.GetValues("Docker-Content-Digest").Single();
    }

    [Fact]
    public async Task PodmanPush_NewImageToImmutableTag_DeniedSameImageAndOtherTagsPass()
    {
        var login = await _podman.RunAsync("login", "--tls-verify=false", "-u", "admin", "-p", WharfServer.AdminPassword, _host);
        Assert.True(login.ExitCode == 0, login.ToString());
        await _podman.ImportTinyImageAsync("localhost/one:latest", "one");
        await _podman.ImportTinyImageAsync("localhost/two:latest", "two");

        var first = await PushAsync("localhost/one:latest", "frozen/app:release-1");
        Assert.True(first.ExitCode == 0, first.ToString());

        string pushed = await DigestOfAsync("release-1");

        var again = await PushAsync("localhost/one:latest", "frozen/app:release-1");
        Assert.True(again.ExitCode == 0, "the same image again must pass: " + again);

        var over = await PushAsync("localhost/two:latest", "frozen/app:release-1");
        Assert.NotEqual(0, over.ExitCode);
        Assert.Contains("denied:", over.Stderr, StringComparison.Ordinal);
        Assert.Contains("release-1", over.Stderr, StringComparison.Ordinal);
        Assert.Contains("immutable", over.Stderr, StringComparison.Ordinal);

        // Tags the rule does not match keep moving.
        Assert.Equal(0, (await PushAsync("localhost/one:latest", "frozen/app:latest")).ExitCode);
        Assert.Equal(0, (await PushAsync("localhost/two:latest", "frozen/app:latest")).ExitCode);

        // The immutable tag still names the first image.
        Assert.Equal(pushed, await DigestOfAsync("release-1"));
    }
}
