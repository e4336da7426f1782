using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Wharf.IntegrationTests.Infrastructure;

namespace Wharf.IntegrationTests;

/// <summary>
/// SIGTERM to a real wharfd while a layer is being uploaded: it stops being ready at once, refuses new
/// uploads with 503 and Retry-After, lets the upload in flight finish, then exits; bounded by
/// Registry:ShutdownTimeout when the upload never ends.
/// </summary>
public sealed class ShutdownDrainTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Sigterm_DuringSlowUpload_NotReadyRefusesNewUploadsAndFinishesTheOneInFlight()
    {
        using var data = new TempDirectory("wharf-it-drain");
        string dataDirectory = Path.Combine(data.Path, "data");
        var options = new WharfdOptions { DataDirectory = dataDirectory, Arguments = ["--Registry:ShutdownTimeout=00:02:00"] };
        byte[] blob = RandomNumberGenerator.GetBytes(4 * 1024 * 1024);
        string digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(blob));
        string location;
        await using (var wharfd = await WharfdProcess.StartAsync(options))
        {
            try
            {
                await wharfd.CreateProjectAsync("drain");
                using var admin = wharfd.Admin();
                using (var ready = await admin.GetAsync("readyz"))
                {
                    Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
                }

                using var post = await admin.PostAsync("v2/drain/slow/blobs/uploads/", null);
                Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
                location = post.Headers.Location!.IsAbsoluteUri ? post.Headers.Location.PathAndQuery : post.Headers.Location.OriginalString;

                var halfSent = new TaskCompletionSource();
                var slow = new PacedContent(blob, 0, blob.Length / 2, halfSent);
                slow.Headers.TryAddWithoutValidation("Content-Range", $"0-{blob.Length - 1}");
                using var uploader = wharfd.Admin();
                var patch = uploader.PatchAsync(location, slow);
                await halfSent.Task.WaitAsync(TimeSpan.FromSeconds(60));

                Terminate(wharfd.Process.ProcessId!.Value);
                await WaitForAsync(async () => (await admin.GetAsync("readyz")).StatusCode == HttpStatusCode.ServiceUnavailable);

                using (var refused = await admin.PostAsync("v2/drain/other/blobs/uploads/", null))
                {
                    Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
                    Assert.Equal(TimeSpan.FromSeconds(5), refused.Headers.RetryAfter?.Delta);
                    Assert.Contains("UNAVAILABLE", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
                }

                // Pulls still work while draining.
                using (var ping = await admin.GetAsync("api/v2.0/ping"))
                {
                    Assert.Equal("Pong", await ping.Content.ReadAsStringAsync());
                }

                slow.Release();
                using var finished = await patch;
                Assert.Equal(HttpStatusCode.Accepted, finished.StatusCode);
                Assert.Equal($"0-{blob.Length - 1}", finished.Headers.GetValues("Range").Single());
                Assert.Equal(0, await wharfd.Process.StopAsync(TimeSpan.FromSeconds(60)));
            }
            finally
            {
                output.WriteLine(wharfd.Process.Logs);
            }
        }

        // What the drained request acknowledged is there after a restart: the upload completes.
        await using var again = await WharfdProcess.StartAsync(options);
        using var client = again.Admin();
        using var put = await client.PutAsync(RegistryPush.AppendQuery(new Uri(location, UriKind.Relative), "digest=" + digest), null);
        Assert.True(put.StatusCode == HttpStatusCode.Created, await put.Content.ReadAsStringAsync());
        Assert.Equal(blob, await client.GetByteArrayAsync($"v2/drain/slow/blobs/{digest}"));
    }

    [Fact]
    public async Task Sigterm_UploadThatNeverEnds_ExitsAfterShutdownTimeout()
    {
        await using var wharfd = await WharfdProcess.StartAsync(new WharfdOptions { Arguments = ["--Registry:ShutdownTimeout=00:00:02"] });
        try
        {
            await wharfd.CreateProjectAsync("drain");
            using var admin = wharfd.Admin();
            using var post = await admin.PostAsync("v2/drain/stuck/blobs/uploads/", null);
            string location = post.Headers.Location!.OriginalString;
            byte[] blob = new byte[1024 * 1024];
            var halfSent = new TaskCompletionSource();
            var stuck = new PacedContent(blob, 0, blob.Length / 2, halfSent);
            var patch = admin.PatchAsync(location, stuck);
            await halfSent.Task.WaitAsync(TimeSpan.FromSeconds(60));

            var clock = Stopwatch.StartNew();
            Terminate(wharfd.Process.ProcessId!.Value);
            // Exits on its own (not killed by StopAsync's limit), cutting the upload off.
            int? code = await wharfd.Process.StopAsync(TimeSpan.FromSeconds(90));
            output.WriteLine($"exited {code} after {clock.Elapsed}");
            Assert.NotNull(code);
            stuck.Release(fail: true);
            await Assert.ThrowsAnyAsync<Exception>(() => patch);
            Assert.Contains("shutdown timeout", wharfd.Process.Logs, StringComparison.Ordinal);
        }
        finally
        {
            output.WriteLine(wharfd.Process.Logs);
        }
    }

    private static void Terminate(int pid)
    {
        using var kill = Process.Start("kill", ["-TERM", pid.ToString(CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < until, "the condition did not come true within 30 s");
            await Task.Delay(50);
        }
    }
}
