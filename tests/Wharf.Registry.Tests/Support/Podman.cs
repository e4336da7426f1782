using System.Diagnostics;
using System.Formats.Tar;

namespace Wharf.Registry.Tests.Support;

public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>A real podman with a private store (vfs), auth file and registries.conf under a scratch directory.</summary>
public sealed class Podman : IDisposable
{
    // podman refuses a runroot longer than 50 characters, so the scratch path stays short.
    private readonly string _scratch = Path.Combine(Path.GetTempPath(), "wpm-" + Guid.NewGuid().ToString("N")[..10]);

    public Podman()
    {
        Directory.CreateDirectory(_scratch);
        File.WriteAllText(Path.Combine(_scratch, "registries.conf"), "unqualified-search-registries = []\n");
    }

    public static bool IsInstalled =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => File.Exists(Path.Combine(dir, "podman")));

    public async Task<ProcessResult> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("podman")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { "--root", Path.Combine(_scratch, "storage"), "--runroot", Path.Combine(_scratch, "rr"), "--tmpdir", Path.Combine(_scratch, "tmp"), "--storage-driver", "vfs" }.Concat(args))
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["REGISTRY_AUTH_FILE"] = Path.Combine(_scratch, "auth.json");
        start.Environment["CONTAINERS_REGISTRIES_CONF"] = Path.Combine(_scratch, "registries.conf");
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("podman " + string.Join(' ', args) + " did not finish in 3 minutes");
        }

        return new ProcessResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Imports a one-file root filesystem as a local image (no network needed).</summary>
    public async Task ImportTinyImageAsync(string reference, string content)
    {
        string tar = Path.Combine(_scratch, "rootfs-" + Guid.NewGuid().ToString("N") + ".tar");
        await using (var stream = File.Create(tar))
        await using (var writer = new TarWriter(stream, TarEntryFormat.Pax))
        {
            var entry = new PaxTarEntry(TarEntryType.RegularFile, "hello.txt") { DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(content)) };
            await writer.WriteEntryAsync(entry);
        }

        var result = await RunAsync("import", tar, reference);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    public void Dispose()
    {
        // The vfs store holds plain files; removing the scratch directory removes it.
        try
        {
            Directory.Delete(_scratch, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
