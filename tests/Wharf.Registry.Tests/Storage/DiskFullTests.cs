using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Wharf.Oci;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Storage;

/// <summary>
/// A full disk for real: the data directory is a 4 MiB tmpfs. Uploads that do not fit answer 507
/// with the registry's error body, leave no upload data behind, and the registry serves again as
/// soon as space is freed.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DiskFullTests
{
    [Fact]
    public async Task Upload_OnAFullDisk_Answers507AndLeavesNothing_ServesAgainOnceSpaceIsFreed()
    {
        Assert.True(Environment.UserName == "root", "mounting a small tmpfs needs root");
        using var parent = new TempDirectory();
        string data = parent.Sub("data");
        await RunAsync("mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", data);
        try
        {
            await using var server = await WharfServer.StartOpenAsync(dataDirectory: data);
            try
            {
                using var client = server.Client();
                var image = await RegistryPush.PushImageAsync(client, "lab/a", "v1", RandomNumberGenerator.GetBytes(10_000));

                // Fill the filesystem but for a little room for the database.
                string filler = Path.Combine(data, "filler");
                await FillAsync(filler, new DriveInfo(data).AvailableFreeSpace - 96 * 1024);

                byte[] big = RandomNumberGenerator.GetBytes(1024 * 1024);
                using (var monolithic = await client.PostAsync($"v2/lab/a/blobs/uploads/?digest={Digest.Compute(big)}", new ByteArrayContent(big)))
                {
                    await ErrorAssert.HasErrorAsync(monolithic, HttpStatusCode.InsufficientStorage, "UNAVAILABLE");
                    Assert.Contains("insufficient storage", await ErrorAssert.DetailAsync(monolithic), StringComparison.Ordinal);
                }

                string location;
                using (var post = await client.PostAsync("v2/lab/a/blobs/uploads/", null))
                {
                    Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
                    location = post.Headers.Location!.OriginalString.TrimStart('/');
                }

                using (var patch = await client.PatchAsync(location, new ByteArrayContent(big)))
                {
                    await ErrorAssert.HasErrorAsync(patch, HttpStatusCode.InsufficientStorage, "UNAVAILABLE");
                }

                // No upload data is left behind, with or without its session.
                Assert.Empty(Directory.EnumerateFiles(Path.Combine(data, "uploads")));
                using (var status = await client.GetAsync(location))
                {
                    await ErrorAssert.HasErrorAsync(status, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
                }

                // What is stored still serves while the disk is full.
                using (var pulled = await client.GetAsync($"v2/lab/a/manifests/{image.Digest}"))
                {
                    Assert.Equal(HttpStatusCode.OK, pulled.StatusCode);
                }

                File.Delete(filler);
                Assert.Equal(Digest.Compute(big), await RegistryPush.PushBlobAsync(client, "lab/a", big));
                using var blob = await client.GetAsync($"v2/lab/a/blobs/{Digest.Compute(big)}");
                Assert.Equal(big, await blob.Content.ReadAsByteArrayAsync());
            }
            finally
            {
                await server.StopKeepingDataAsync();
            }
        }
        finally
        {
            await UnmountAsync(data);
        }
    }

    /// <summary>
    /// Pooled database connections (and, on a loaded machine, a file handle the stopped server's
    /// last request still closes) keep the tmpfs busy for a moment: clear the pools, retry, and
    /// detach lazily as a last resort so the mount never outlives the test.
    /// </summary>
    private static async Task UnmountAsync(string path)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        for (int attempt = 0; attempt < 20; attempt++)
        {
            if (await TryRunAsync("umount", path))
            {
                return;
            }

            GC.Collect();
            GC.WaitForPendingFinalizers();
            await Task.Delay(250);
        }

        await RunAsync("umount", "-l", path);
    }

    private static async Task<bool> TryRunAsync(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = Task.WhenAll(process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync());
        await process.WaitForExitAsync();
        await output;
        return process.ExitCode == 0;
    }

    private static async Task FillAsync(string path, long bytes)
    {
        byte[] chunk = new byte[64 * 1024];
        await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        for (long left = bytes; left > 0; left -= chunk.Length)
        {
            await file.WriteAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, left)));
        }
    }

    private static async Task RunAsync(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderrRead = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // A hung command is killed, never left behind by the test.
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        string stderr = await stderrRead;
        await stdout;
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)}: {stderr}");
    }
}
