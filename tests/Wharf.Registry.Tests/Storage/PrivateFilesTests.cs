using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Wharf.Oci;
using Wharf.Testing;

namespace Wharf.Registry.Tests.Storage;

/// <summary>
/// Everything wharfd writes is private to its user: 0700 directories, 0600 files, whatever the umask,
/// so another local user cannot read a private project's layers.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PrivateFilesTests
{
    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    [Fact]
    public async Task Push_EverythingUnderTheDataDirectory_IsOwnerOnly()
    {
        // The parent is open to everyone, as /var/lib or a home directory often is: only the
        // data directory's own modes keep other users out.
        using var parent = new TempDirectory();
        File.SetUnixFileMode(parent.Path, (UnixFileMode)0b111_101_101);
        string data = Path.Combine(parent.Path, "data");
        await using var server = await WharfServer.StartAsync(new Dictionary<string, string?> { ["Registry:OpenRegistry"] = "true" }, data);
        using var admin = server.Admin();
        byte[] layer = RandomNumberGenerator.GetBytes(4_000);
        await RegistryPush.PushImageAsync(admin, "lab/secret", "v1", layer);

        // An upload in progress has its data file too.
        using (var post = await admin.PostAsync("v2/lab/secret/blobs/uploads/", null))
        using (var patch = await admin.PatchAsync(post.Headers.Location!.OriginalString.TrimStart('/'), new ByteArrayContent(new byte[100])))
        {
            Assert.Equal(HttpStatusCode.Accepted, patch.StatusCode);
        }

        var entries = new DirectoryInfo(data).EnumerateFileSystemInfos("*", SearchOption.AllDirectories).Prepend(new DirectoryInfo(data)).ToList();
        string[] database = ["registry.db", "registry.db-wal", "registry.db-shm"];
        string[] expected = WharfServer.OnPostgreSql ? ["wharfd.lock", "wharfd.pid"] : [.. database, "wharfd.lock", "wharfd.pid"];
        foreach (string name in expected)
        {
            Assert.Contains(entries, e => e.Name == name);
        }

        if (WharfServer.OnPostgreSql)
        {
            // The metadata is in PostgreSQL: no (empty) SQLite file beside the blobs.
            Assert.DoesNotContain(entries, e => database.Contains(e.Name));
        }

        Assert.Contains(entries, e => e.FullName.Contains("/uploads/", StringComparison.Ordinal));
        Assert.Contains(entries, e => e.Name == Digest.Compute(layer).Encoded);
        foreach (var entry in entries)
        {
            var mode = entry.UnixFileMode;
            Assert.True((mode & GroupOrOther) == 0, $"{entry.FullName} is {Convert.ToString((int)mode, 8)}");
        }

        Assert.Equal(PrivateFilesModes.Directory, File.GetUnixFileMode(data));
        Assert.Equal(PrivateFilesModes.File, File.GetUnixFileMode(BlobPath(data, Digest.Compute(layer))));

        // Read as another local user: refused.
        if (Environment.UserName == "root")
        {
            var (exit, stderr) = await RunAsNobodyAsync("cat", BlobPath(data, Digest.Compute(layer)));
            Assert.NotEqual(0, exit);
            Assert.Contains("Permission denied", stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Start_OnADataDirectoryWithOpenModes_ClosesThem()
    {
        using var parent = new TempDirectory();
        string data = Path.Combine(parent.Path, "data");
        string blobs = Path.Combine(data, "blobs");
        Directory.CreateDirectory(blobs);
        File.SetUnixFileMode(data, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(blobs, (UnixFileMode)0b111_111_111);
        string old = Path.Combine(blobs, "left-by-an-old-version");
        await File.WriteAllTextAsync(old, "x");
        File.SetUnixFileMode(old, (UnixFileMode)0b110_100_100);

        await using var server = await WharfServer.StartAsync(new Dictionary<string, string?> { ["Registry:OpenRegistry"] = "true" }, data);
        Assert.Equal(PrivateFilesModes.Directory, File.GetUnixFileMode(data));
        Assert.Equal(PrivateFilesModes.Directory, File.GetUnixFileMode(blobs));
        Assert.Equal(PrivateFilesModes.File, File.GetUnixFileMode(old));
    }

    private static string BlobPath(string data, Digest digest) => Path.Combine(data, "blobs", digest.Algorithm, digest.Encoded[..2], digest.Encoded);

    private static async Task<(int ExitCode, string Stderr)> RunAsNobodyAsync(params string[] command)
    {
        var start = new ProcessStartInfo("setpriv") { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true };
        foreach (string arg in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "--" }.Concat(command))
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        process.StandardInput.Close();
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
        return (process.ExitCode, stderr);
    }

    private static class PrivateFilesModes
    {
        public const UnixFileMode Directory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        public const UnixFileMode File = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    }
}
