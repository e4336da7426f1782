using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Registry.Gc;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Metrics;

/// <summary>
/// /metrics as Prometheus reads it: off unless <c>Metrics:Enabled</c>, strict text format, series that
/// move with real pushes, pulls, logins and GC; on a port of its own when <c>Metrics:Port</c> says so,
/// set on wharfd's command line.
/// </summary>
public sealed class MetricsEndpointTests
{
    private const string Manifests = "/v2/{name}/manifests/{reference}";

    [Fact]
    public async Task Default_MetricsAreNotServed()
    {
        await using var server = await WharfServer.StartAsync();
        using var client = server.Client();
        using var response = await client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Enabled_CountersMoveWithRealPushesAndPulls()
    {
        await using var server = await WharfServer.StartAsync(new Dictionary<string, string?> { ["Metrics:Enabled"] = "true" });
        await server.CreateProjectAsync("lab");
        using var client = server.Client();
        var before = await ScrapeAsync(client, "/metrics");

        var pushed = await server.SeedImageAsync("lab/app", "v1", layerSize: 1000);
        long errorBody;
        using (var admin = server.Admin())
        {
            using var pull = await admin.GetAsync(new Uri("v2/lab/app/manifests/v1", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
            using var anonymous = await client.GetAsync(new Uri("v2/lab/app/manifests/v1", UriKind.Relative));
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            errorBody = (await anonymous.Content.ReadAsByteArrayAsync()).Length;
            using var token = await admin.GetAsync(new Uri("service/token?service=wharf&scope=repository:lab/app:pull", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, token.StatusCode);
        }

        await server.Services.GetRequiredService<GcJobs>().RunAsync(dryRun: false, GcJobs.Manual, CancellationToken.None);
        var after = await ScrapeAsync(client, "/metrics");

        double Delta(string name, params (string, string)[] labels) => after.Sum(name, labels) - before.Sum(name, labels);
        Assert.Equal(1, Delta("wharf_http_requests_total", ("route", Manifests), ("method", "PUT"), ("code", "201")));
        Assert.Equal(1, Delta("wharf_http_requests_total", ("route", Manifests), ("method", "GET"), ("code", "200")));
        Assert.Equal(1, Delta("wharf_http_request_duration_seconds_count", ("route", Manifests), ("method", "PUT")));
        Assert.Equal(pushed.Body.Length, Delta("wharf_http_received_bytes_total", ("route", Manifests)));
        Assert.Equal(pushed.Body.Length + errorBody, Delta("wharf_http_sent_bytes_total", ("route", Manifests))); // the pull and the 401's error body
        Assert.True(Delta("wharf_registry_blob_bytes_received_total") >= 1000);
        Assert.Equal(1, Delta("wharf_registry_manifests_pushed_total"));
        Assert.Equal(1, Delta("wharf_auth_failures_total", ("route", Manifests)));
        Assert.Equal(1, Delta("wharf_auth_tokens_issued_total"));
        Assert.Equal(1, Delta("wharf_gc_runs_total", ("status", "Success"), ("dry_run", "false")));
        Assert.True(Delta("wharf_db_operation_duration_seconds_count") >= 2, "the metadata store calls of the push and pull are timed");
        Assert.Equal(0, after.Value("wharf_registry_uploads_in_flight"));
        Assert.True(after.Value("wharf_project_storage_bytes", ("project", "lab")) >= pushed.Size);
        Assert.Equal("histogram", after.Types["wharf_http_request_duration_seconds"]);
        Assert.NotNull(after.Value("process_start_time_seconds"));
    }

    [Fact]
    public async Task OwnPort_OnWharfdCommandLine_ServesMetricsThereOnly()
    {
        for (int attempt = 1; ; attempt++)
        {
            int port = LoopbackPort.Free();
            await using var wharfd = await WharfdProcess.StartAsync(new WharfdOptions
            {
                Arguments = ["--Metrics:Enabled=true", $"--Metrics:Port={port}", "--Metrics:Host=127.0.0.1"],
            });
            using var client = wharfd.Client();
            using var onRegistryPort = await client.GetAsync(new Uri("metrics", UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, onRegistryPort.StatusCode);

            using var metrics = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
            HttpResponseMessage response;
            try
            {
                response = await metrics.GetAsync(new Uri("metrics", UriKind.Relative));
            }
            catch (HttpRequestException) when (attempt < 3)
            {
                continue; // the free port was taken between choosing and binding
            }

            using (response)
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                var parsed = PrometheusText.Parse(await response.Content.ReadAsStringAsync());
                Assert.True(parsed.Sum("wharf_http_requests_total", ("route", "/v2/")) >= 1, "the start-up probe of /v2/ is counted");
            }

            return;
        }
    }

    [Fact]
    public async Task Disabled_WithAPort_ListensNowhere()
    {
        int port = LoopbackPort.Free();
        await using var server = await WharfServer.StartAsync(new Dictionary<string, string?> { ["Metrics:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        using var metrics = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        await Assert.ThrowsAsync<HttpRequestException>(() => metrics.GetAsync(new Uri("metrics", UriKind.Relative)));
    }

    [Fact]
    public void Parser_RefusesWhatPrometheusWould()
    {
        PrometheusText.Parse("# TYPE a counter\na{x=\"1\\\"\\n\"} 1\n");
        foreach (string bad in new[]
        {
            "a 1\n", // no TYPE
            "# TYPE a counter\na 1", // no final newline
            "# TYPE a counter\na{x=1} 1\n", // unquoted label
            "# TYPE a counter\na{x=\"\\t\"} 1\n", // bad escape
            "# TYPE a counter\na one\n", // bad value
            "# TYPE a counter\na 1\na 2\n", // series twice
            "# TYPE 1a counter\n", // bad name
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 0\n", // decreasing buckets
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 1\nh_sum 0\n", // +Inf differs from count
        })
        {
            Assert.Throws<FormatException>(() => PrometheusText.Parse(bad));
        }
    }

    private static async Task<PrometheusText> ScrapeAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(new Uri(path.TrimStart('/'), UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        return PrometheusText.Parse(await response.Content.ReadAsStringAsync());
    }
}
