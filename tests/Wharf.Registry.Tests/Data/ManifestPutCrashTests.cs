using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Npgsql;
using Wharf.Oci;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Data;

/// <summary>
/// wharfd as a separate process, killed by PID (SIGKILL, no shutdown) while concurrent manifest PUTs
/// are in flight: after the restart every manifest it had answered 201 is there, under its tag, with
/// its digest and bytes. A 201 is sent only after the commit that carried the manifest (alone or in
/// a group commit) returned. On PostgreSQL too (<c>WHARF_TEST_DATABASE=postgresql</c>).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ManifestPutCrashTests
{
    private const int Writers = 6;
    private const int AcknowledgedBeforeKill = 80;

    [Fact]
    public async Task Kill_WhilePushesAreInFlight_EveryAcknowledgedManifestAndTagSurvives()
    {
        string? database = WharfServer.OnPostgreSql ? await (await PostgreSqlServer.SharedAsync()).CreateDatabaseAsync("crash") : null;
        try
        {
            await using var wharfd = await WharfdProcess.StartAsync(new WharfdOptions
            {
                OpenRegistry = true,
                Arguments = database is null ? [] : ["--database", database],
            });
            Digest config;
            using (var client = wharfd.Client())
            {
                config = await RegistryPush.PushBlobAsync(client, "crash/app", RegistryPush.Config);
            }

            var acknowledged = new ConcurrentBag<(string Tag, byte[] Body)>();
            int failed = 0;
            var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
            {
                using var client = wharfd.Client();
                for (int i = 0; ; i++)
                {
                    string tag = $"w{w}-{i}";
                    byte[] body = Manifest(config, tag);
                    try
                    {
                        using var put = await RegistryPush.PutManifestAsync(client, "crash/app", tag, body, MediaTypes.OciManifest);
                        if (put.StatusCode != HttpStatusCode.Created)
                        {
                            throw new InvalidOperationException($"PUT {tag}: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
                        }

                        acknowledged.Add((tag, body));
                    }
                    catch (HttpRequestException)
                    {
                        Interlocked.Increment(ref failed); // the server is gone: this one was never acknowledged
                        return;
                    }
                }
            })).ToList();

            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (acknowledged.Count < AcknowledgedBeforeKill)
            {
                Assert.True(DateTime.UtcNow < deadline, $"only {acknowledged.Count} manifests acknowledged in two minutes");
                Assert.DoesNotContain(writers, w => w.IsFaulted);
                await Task.Delay(20);
            }

            wharfd.Process.Kill();
            await Task.WhenAll(writers);
            Assert.Equal(Writers, failed);

            await wharfd.Process.StartAsync();
            using var after = wharfd.Client();
            foreach (var (tag, body) in acknowledged)
            {
                using var get = await after.GetAsync($"v2/crash/app/manifests/{tag}");
                Assert.True(get.StatusCode == HttpStatusCode.OK, $"acknowledged {tag}: {(int)get.StatusCode} after the restart");
                Assert.Equal(Digest.Compute(body).ToString(), get.Headers.GetValues("Docker-Content-Digest").Single());
                Assert.Equal(body, await get.Content.ReadAsByteArrayAsync());
            }
        }
        finally
        {
            if (database is not null)
            {
                NpgsqlConnection.ClearAllPools();
                await (await PostgreSqlServer.SharedAsync()).DropDatabaseAsync(database);
            }
        }
    }

    private static byte[] Manifest(Digest config, string tag) => Encoding.UTF8.GetBytes(
        $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"{config}\",\"size\":{RegistryPush.Config.Length}}},\"layers\":[],\"annotations\":{{\"tag\":\"{tag}\"}}}}");
}
