using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Health;
using Wharf.Registry.Storage;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Health;

/// <summary>What a load balancer asks: ping, readiness, Harbor's health with its storage component, and the drain on shutdown.</summary>
public sealed class HealthEndpointTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    public async Task InitializeAsync() => _server = await WharfServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task PingAndReadyz_WithoutCredentials_AnswerPongAndReady()
    {
        using var anonymous = _server.Client();

        using var ping = await anonymous.GetAsync("api/v2.0/ping");
        Assert.Equal(HttpStatusCode.OK, ping.StatusCode);
        Assert.Equal("Pong", await ping.Content.ReadAsStringAsync());

        using var ready = await anonymous.GetAsync("readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("ready\n", await ready.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Health_ReportsDatabaseAndStorage()
    {
        using var anonymous = _server.Client();
        using var health = JsonDocument.Parse(await anonymous.GetStringAsync("api/v2.0/health"));

        Assert.Equal("healthy", health.RootElement.GetProperty("status").GetString());
        var components = health.RootElement.GetProperty("components").EnumerateArray()
            .ToDictionary(c => c.GetProperty("name").GetString()!, c => c.GetProperty("status").GetString());
        Assert.Equal("healthy", components["database"]);
        Assert.Equal("healthy", components["storage"]);
    }

    [Fact]
    public async Task Readyz_DataDirectoryNotWritable_Is503WithTheReason()
    {
        // A file where the uploads directory was: no new file can be made there, whoever wharfd runs as.
        string uploads = Path.Combine(_server.DataDirectory, "uploads");
        Directory.Delete(uploads, recursive: true);
        await File.WriteAllTextAsync(uploads, "not a directory");

        using var anonymous = _server.Client();
        using var ready = await anonymous.GetAsync("readyz");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.StartsWith("not ready: storage:", await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Draining_NewUploadRefusedWithRetryAfter_ReadyzIs503_PullsGoOn()
    {
        await _server.CreateProjectAsync("lab");
        var image = await _server.SeedImageAsync("lab/app");
        var drain = _server.Services.GetRequiredService<ShutdownDrain>();

        await drain.StoppingAsync(CancellationToken.None); // nothing in flight: returns at once

        using var admin = _server.Admin();
        using var refused = await admin.PostAsync("v2/lab/app/blobs/uploads/", null);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(ShutdownDrain.RetryAfterSeconds), refused.Headers.RetryAfter?.Delta);
        Assert.Contains("\"UNAVAILABLE\"", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var ready = await admin.GetAsync("readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal(image.Body, await admin.GetByteArrayAsync($"v2/lab/app/manifests/{image.Digest}"));
    }
}
