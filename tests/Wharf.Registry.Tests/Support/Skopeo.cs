using System.Diagnostics;

namespace Wharf.Registry.Tests.Support;

/// <summary>A real skopeo with its own auth file, so logins of one test never leak into another.</summary>
public sealed class Skopeo : IDisposable
{
    private readonly string _scratch = Path.Combine(Path.GetTempPath(), "wsk-" + Guid.NewGuid().ToString("N")[..10]);

    public Skopeo()
    {
        Directory.CreateDirectory(_scratch);
    }

    public string Scratch => _scratch;

    public static bool IsInstalled =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => File.Exists(Path.Combine(dir, "skopeo")));

    /// <summary>Runs skopeo with <paramref name="authFile"/> (null: an empty one, i.e. anonymous).</summary>
    public async Task<ProcessResult> RunAsync(string? authFile, params string[] args)
    {
        var start = new ProcessStartInfo("skopeo")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["REGISTRY_AUTH_FILE"] = authFile ?? Path.Combine(_scratch, "anonymous-auth.json");
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("skopeo " + string.Join(' ', args) + " did not finish in 2 minutes");
        }

        return new ProcessResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary><c>skopeo login</c> into a fresh auth file; returns the file for later commands.</summary>
    public async Task<string> LoginAsync(string host, string username, string password)
    {
        string authFile = Path.Combine(_scratch, "auth-" + Guid.NewGuid().ToString("N")[..8] + ".json");
        var result = await RunAsync(authFile, "login", "--tls-verify=false", "--authfile", authFile, "-u", username, "-p", password, host);
        Assert.True(result.ExitCode == 0, $"skopeo login as {username}: {result}");
        return authFile;
    }

    public void Dispose()
    {
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
