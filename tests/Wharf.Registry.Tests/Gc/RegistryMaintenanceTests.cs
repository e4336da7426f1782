using System.Net;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Wharf.Oci;
using Wharf.Registry.Gc;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Gc;

/// <summary><c>wharfd gc</c> and <c>wharfd fsck</c> on a data directory no wharfd serves.</summary>
[Trait("Database", "sqlite-only")] // the offline commands open registry.db; on PostgreSQL GC runs online
public sealed class RegistryMaintenanceTests : IAsyncLifetime
{
    private WharfServer _server = null!;

    private string Data => _server.DataDirectory;

    public async Task InitializeAsync() =>
        _server = await WharfServer.StartAsync(new Dictionary<string, string?> { ["Registry:OpenRegistry"] = "true", ["Registry:GcInterval"] = "00:00:00" });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task CollectGarbage_WhileWharfdHoldsTheDirectory_RefusesAndChangesNothing()
    {
        using var admin = _server.Admin();
        var loose = await RegistryPush.PushBlobAsync(admin, "lab/a", RandomNumberGenerator.GetBytes(1_000));
        (await admin.DeleteAsync($"v2/lab/a/blobs/{loose}")).Dispose();

        var output = new StringWriter();
        Assert.Equal(2, await RegistryMaintenance.CollectGarbageAsync(Data, dryRun: false, output, default));
        Assert.Contains("in use by another wharfd", output.ToString(), StringComparison.Ordinal);
        Assert.True(File.Exists(BlobPath(loose)));

        output = new StringWriter();
        Assert.Equal(2, await RegistryMaintenance.CheckAsync(Data, repair: true, output, default));
        Assert.Contains("in use by another wharfd", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CollectGarbage_NotADataDirectory_SaysSo()
    {
        using var empty = new TempDirectory();
        var output = new StringWriter();
        Assert.Equal(2, await RegistryMaintenance.CollectGarbageAsync(empty.Path, dryRun: true, output, default));
        Assert.Contains("not a wharfd data directory", output.ToString(), StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(empty.Path));
    }

    [Fact]
    public async Task CollectGarbage_Offline_DryRunReports_RunRemoves_ImageStillPulls()
    {
        using (var admin = _server.Admin())
        {
            await RegistryPush.PushImageAsync(admin, "lab/a", "v1", RandomNumberGenerator.GetBytes(2_000));
        }

        Digest loose;
        using (var admin = _server.Admin())
        {
            loose = await RegistryPush.PushBlobAsync(admin, "lab/a", RandomNumberGenerator.GetBytes(3_000));
            (await admin.DeleteAsync($"v2/lab/a/blobs/{loose}")).Dispose();
        }

        await _server.StopKeepingDataAsync();

        var output = new StringWriter();
        Assert.Equal(0, await RegistryMaintenance.CollectGarbageAsync(Data, dryRun: true, output, default));
        Assert.Contains($"would remove {loose} (3000 bytes)", output.ToString(), StringComparison.Ordinal);
        Assert.True(File.Exists(BlobPath(loose)));

        output = new StringWriter();
        Assert.Equal(0, await RegistryMaintenance.CollectGarbageAsync(Data, dryRun: false, output, default));
        Assert.Contains($"remove {loose} (3000 bytes)", output.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("would", output.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(BlobPath(loose)));

        await _server.RestartAsync();
        using var client = _server.Admin();
        using var pulled = await client.GetAsync("v2/lab/a/manifests/v1");
        Assert.Equal(HttpStatusCode.OK, pulled.StatusCode);
        output = new StringWriter();
        await _server.StopKeepingDataAsync();
        Assert.Equal(0, await RegistryMaintenance.CheckAsync(Data, repair: false, output, default));
        Assert.Contains("consistent", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_FindsEachKindOfProblem_RepairFixesWhatItSafelyCan()
    {
        byte[] layer = RandomNumberGenerator.GetBytes(2_000);
        Digest lost;
        Digest resized;
        using (var admin = _server.Admin())
        {
            await RegistryPush.PushImageAsync(admin, "lab/a", "v1", layer);
            lost = await RegistryPush.PushBlobAsync(admin, "lab/b", RandomNumberGenerator.GetBytes(500));
            (await admin.DeleteAsync($"v2/lab/b/blobs/{lost}")).Dispose();
            resized = await RegistryPush.PushBlobAsync(admin, "lab/c", RandomNumberGenerator.GetBytes(700));
        }

        await _server.StopKeepingDataAsync();
        var corrupt = Digest.Compute(layer);

        // A row without its file, a file without a row, corrupt bytes, a recorded size that is not
        // the file's (usage would disagree with content), and upload data without a session.
        File.Delete(BlobPath(lost));
        byte[] stray = RandomNumberGenerator.GetBytes(300);
        var strayDigest = Digest.Compute(stray);
        Directory.CreateDirectory(Path.GetDirectoryName(BlobPath(strayDigest))!);
        await File.WriteAllBytesAsync(BlobPath(strayDigest), stray);
        byte[] damaged = layer.ToArray();
        damaged[100] ^= 0xFF;
        await File.WriteAllBytesAsync(BlobPath(corrupt), damaged);
        using (var db = new SqliteConnection($"Data Source={Path.Combine(Data, "registry.db")};Pooling=False"))
        {
            db.Open();
            using var cmd = db.CreateCommand();
            cmd.CommandText = "UPDATE blobs SET size = 9999 WHERE digest = $d";
            cmd.Parameters.AddWithValue("$d", resized.ToString());
            Assert.Equal(1, cmd.ExecuteNonQuery());
        }

        await File.WriteAllBytesAsync(Path.Combine(Data, "uploads", "0123456789abcdef0123456789abcdef"), [1, 2, 3]);

        var output = new StringWriter();
        Assert.Equal(1, await RegistryMaintenance.CheckAsync(Data, repair: false, output, default));
        string found = output.ToString();
        Assert.Contains($"found: row without file: {lost}", found, StringComparison.Ordinal);
        Assert.Contains($"found: file without row: {strayDigest}", found, StringComparison.Ordinal);
        Assert.Contains($"found: digest mismatch: {corrupt}", found, StringComparison.Ordinal);
        Assert.Contains($"found: size mismatch: {resized}", found, StringComparison.Ordinal);
        Assert.Contains("found: upload without session: 0123456789abcdef0123456789abcdef", found, StringComparison.Ordinal);
        Assert.True(File.Exists(BlobPath(strayDigest)), "a check without repair changes nothing");

        output = new StringWriter();
        Assert.Equal(1, await RegistryMaintenance.CheckAsync(Data, repair: true, output, default));
        string repaired = output.ToString();
        Assert.Contains($"repaired: row without file: {lost}", repaired, StringComparison.Ordinal);
        Assert.Contains($"repaired: file without row: {strayDigest}", repaired, StringComparison.Ordinal);
        Assert.Contains($"repaired: size mismatch: {resized}", repaired, StringComparison.Ordinal);
        Assert.Contains($"NOT repaired: digest mismatch: {corrupt}", repaired, StringComparison.Ordinal);
        Assert.Contains("5 problems, 4 repaired, 1 remaining", repaired, StringComparison.Ordinal);
        Assert.False(File.Exists(BlobPath(strayDigest)));

        // Only the corruption is left: wrong bytes are never "repaired" by the check.
        output = new StringWriter();
        Assert.Equal(1, await RegistryMaintenance.CheckAsync(Data, repair: false, output, default));
        Assert.Contains("1 problems, 0 repaired, 1 remaining", output.ToString(), StringComparison.Ordinal);

        // With the bytes restored the directory is consistent, and the quota agrees with the content.
        await File.WriteAllBytesAsync(BlobPath(corrupt), layer);
        output = new StringWriter();
        Assert.Equal(0, await RegistryMaintenance.CheckAsync(Data, repair: false, output, default));
        await _server.RestartAsync();
        using var client = _server.Admin();
        using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/lab/c/blobs/{resized}"));
        Assert.Equal(700, head.Content.Headers.ContentLength);
    }

    private string BlobPath(Digest digest) => Path.Combine(Data, "blobs", digest.Algorithm, digest.Encoded[..2], digest.Encoded);
}
