using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Accounting;
using Wharf.Registry.Tests.Support;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Accounting;

/// <summary>Pull counts and times: gathered in memory, written in batches, kept across a clean shutdown, switchable.</summary>
public sealed class PullAccountingTests
{
    private static async Task<JsonElement> RepositoryAsync(HttpClient admin, string project, string name) =>
        (await admin.GetFromJsonAsync<JsonElement>($"api/v2.0/projects/{project}/repositories/{name}"));

    [Fact]
    public async Task Shutdown_WritesTheCountsNotYetFlushed()
    {
        // A flush interval far beyond the test: only the shutdown can have written the counts.
        var server = await WharfServer.StartAsync(new() { ["Registry:PullAccounting:FlushInterval"] = "01:00:00" });
        try
        {
            await server.CreateProjectAsync("lab");
            using (var admin = server.Admin())
            {
                await Images.PushImageAsync(admin, "lab/app", "v1", RandomNumberGenerator.GetBytes(64));
                for (int i = 0; i < 3; i++)
                {
                    (await admin.GetAsync("v2/lab/app/manifests/v1")).EnsureSuccessStatusCode();
                }
            }

            Assert.Equal(3, server.Services.GetRequiredService<PullAccounting>().Pending);

            await server.RestartAsync();

            using var after = server.Admin();
            var repository = await RepositoryAsync(after, "lab", "app");
            Assert.Equal(3, repository.GetProperty("pull_count").GetInt64());
            var artifact = (await after.GetFromJsonAsync<JsonElement>("api/v2.0/projects/lab/repositories/app/artifacts"))[0];
            Assert.NotEqual("0001-01-01T00:00:00.000Z", artifact.GetProperty("pull_time").GetString());
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Disabled_PullsAreServedButNotCounted()
    {
        await using var server = await WharfServer.StartAsync(new() { ["Registry:PullAccounting:Enabled"] = "false" });
        await server.CreateProjectAsync("lab");
        using var admin = server.Admin();
        await Images.PushImageAsync(admin, "lab/app", "v1", RandomNumberGenerator.GetBytes(64));
        for (int i = 0; i < 2; i++)
        {
            (await admin.GetAsync("v2/lab/app/manifests/v1")).EnsureSuccessStatusCode();
        }

        Assert.Equal(0, (await RepositoryAsync(admin, "lab", "app")).GetProperty("pull_count").GetInt64());
        var artifact = (await admin.GetFromJsonAsync<JsonElement>("api/v2.0/projects/lab/repositories/app/artifacts"))[0];
        Assert.Equal("0001-01-01T00:00:00.000Z", artifact.GetProperty("pull_time").GetString());
    }

    [Fact]
    public async Task SkopeoAndPodmanPulls_AreCountedPerArtifact()
    {
        Assert.True(Podman.IsInstalled, "podman is not installed (test.sh installs it when run as root)");
        Assert.True(Skopeo.IsInstalled, "skopeo is not installed (test.sh installs it when run as root)");
        await using var server = await WharfServer.StartAsync();
        string host = server.BaseAddress.Authority;
        await server.CreateProjectAsync("lab");
        using var admin = server.Admin();
        using var skopeo = new Skopeo();
        string auth = await skopeo.LoginAsync(host, "admin", WharfServer.AdminPassword);

        // A real image (podman unpacks its layer), pushed by skopeo from an OCI layout.
        string layout = Path.Combine(skopeo.Scratch, "source");
        await Images.WriteOciLayoutAsync(layout, "v1", "counted");
        var push = await skopeo.RunAsync(auth, "copy", "--dest-tls-verify=false", $"oci:{layout}:v1", $"docker://{host}/lab/app:v1");
        Assert.True(push.ExitCode == 0, push.ToString());
        await Images.PushImageAsync(admin, "lab/other", "v1", RandomNumberGenerator.GetBytes(64));
        long before = (await RepositoryAsync(admin, "lab", "app")).GetProperty("pull_count").GetInt64();

        for (int i = 0; i < 2; i++)
        {
            var copy = await skopeo.RunAsync(auth, "copy", "--src-tls-verify=false", $"docker://{host}/lab/app:v1", $"oci:{Path.Combine(skopeo.Scratch, "layout" + i)}:v1");
            Assert.True(copy.ExitCode == 0, copy.ToString());
        }

        using var podman = new Podman();
        var login = await podman.RunAsync("login", "--tls-verify=false", "-u", "admin", "-p", WharfServer.AdminPassword, host);
        Assert.True(login.ExitCode == 0, login.ToString());
        var pull = await podman.RunAsync("pull", "--tls-verify=false", $"{host}/lab/app:v1");
        Assert.True(pull.ExitCode == 0, pull.ToString());

        // Each client fetches the manifest once per pull (HEAD requests and blob fetches do not count).
        Assert.Equal(before + 3, (await RepositoryAsync(admin, "lab", "app")).GetProperty("pull_count").GetInt64());
        Assert.Equal(0, (await RepositoryAsync(admin, "lab", "other")).GetProperty("pull_count").GetInt64());
    }
}
