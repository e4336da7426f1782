using System.Diagnostics;

namespace Wharf.IntegrationTests.Infrastructure;

/// <summary>
/// Whether skopeo and podman can run here. Probed once per test run; a reason is returned when they
/// cannot, and tests that need them are skipped with it (./test.sh installs both when it runs as root).
/// </summary>
public static class ToolProbe
{
    private static readonly Lazy<string?> s_skopeo = new(() => Probe("skopeo", "--version"));

    private static readonly Lazy<string?> s_podman = new(() =>
    {
        var store = Podman.ShortRunRoot();
        try
        {
            return Probe("podman", "--root", Path.Combine(store, "root"), "--runroot", Path.Combine(store, "run"), "--tmpdir", Path.Combine(store, "tmp"),
                "--storage-driver", "vfs", "--events-backend", "none", "images");
        }
        finally
        {
            try
            {
                Directory.Delete(store, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    });

    public static string? SkopeoProblem => s_skopeo.Value;

    public static string? PodmanProblem => s_podman.Value;

    private static string? Probe(string fileName, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }
        try
        {
            using var process = Process.Start(startInfo)!;
            var stderr = process.StandardError.ReadToEndAsync();
            _ = process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(60_000))
            {
                process.Kill(entireProcessTree: true);
                return $"{fileName} cannot run here: `{fileName} {string.Join(' ', arguments)}` did not finish within 60 s";
            }
            return process.ExitCode == 0
                ? null
                : $"{fileName} cannot run here: `{fileName} {string.Join(' ', arguments)}` exited {process.ExitCode}: {stderr.Result.Trim()}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"{fileName} cannot run here: {e.Message} (./test.sh installs it when run as root)";
        }
    }
}

/// <summary>
/// A test of behaviour distribution 2.8 does not have (the spec leaves it optional, or 2.8 predates
/// it): skipped, with the reason, when the suite runs against docker-registry to check itself.
/// </summary>
public sealed class WharfdOnlyFactAttribute : FactAttribute
{
    public WharfdOnlyFactAttribute(string whatDockerRegistryLacks)
    {
        if (Environment.GetEnvironmentVariable(RegistryServer.TargetVariable) == "docker-registry")
        {
            Skip = "docker-registry 2.8: " + whatDockerRegistryLacks;
        }
    }
}

/// <summary>A test that drives skopeo; skipped, with the reason, when skopeo cannot run.</summary>
public sealed class SkopeoFactAttribute : FactAttribute
{
    public SkopeoFactAttribute()
    {
        Skip = ToolProbe.SkopeoProblem;
    }
}

/// <summary>A test that drives podman (and skopeo to look at the registry); skipped, with the reason, when either cannot run.</summary>
public sealed class PodmanFactAttribute : FactAttribute
{
    public PodmanFactAttribute()
    {
        Skip = ToolProbe.SkopeoProblem ?? ToolProbe.PodmanProblem;
    }
}

/// <summary>skopeo against a plain-HTTP registry on loopback; every call is echoed into the test output.</summary>
public sealed class Skopeo(ITestOutputHelper output)
{
    public async Task<ProcessResult> RunAsync(params string[] arguments)
    {
        // --insecure-policy: the machine's signature policy is not what these tests are about.
        var result = await ProcessRunner.RunAsync("skopeo", ["--insecure-policy", .. arguments]);
        output.WriteLine($"$ {result.Command} -> {result.ExitCode}");
        return result;
    }

    public async Task<ProcessResult> MustRunAsync(params string[] arguments)
    {
        var result = await RunAsync(arguments);
        Assert.True(result.Succeeded, result.ToString());
        return result;
    }

    public Task<ProcessResult> CopyAsync(string source, string destination, params string[] extra) =>
        RunAsync(["copy", "--src-tls-verify=false", "--dest-tls-verify=false", .. extra, source, destination]);

    /// <summary>The manifest bytes exactly as the registry serves them.</summary>
    public async Task<byte[]> InspectRawAsync(string reference)
    {
        var result = await MustRunAsync("inspect", "--tls-verify=false", "--raw", reference);
        return result.StandardOutputBytes;
    }
}

/// <summary>
/// podman with a private store (vfs, own root and runroot), so tests never touch the machine's images.
/// The runroot gets a short path of its own: podman refuses one longer than 50 characters.
/// </summary>
public sealed class Podman : IDisposable
{
    private readonly string _root;
    private readonly string _runRoot;
    private readonly ITestOutputHelper _output;

    public Podman(string directory, ITestOutputHelper output)
    {
        _root = Path.Combine(directory, "root");
        _runRoot = ShortRunRoot();
        _output = output;
    }

    internal static string ShortRunRoot()
    {
        var temp = Path.GetTempPath();
        var path = Path.Combine(temp.Length <= 30 ? temp : "/tmp", "wharf-rr-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(path);
        return path;
    }

    public async Task<ProcessResult> RunAsync(params string[] arguments)
    {
        var result = await ProcessRunner.RunAsync("podman",
            ["--root", _root, "--runroot", _runRoot, "--tmpdir", Path.Combine(_runRoot, "tmp"), "--storage-driver", "vfs", "--events-backend", "none", .. arguments]);
        _output.WriteLine($"$ {result.Command} -> {result.ExitCode}");
        return result;
    }

    public async Task<ProcessResult> MustRunAsync(params string[] arguments)
    {
        var result = await RunAsync(arguments);
        Assert.True(result.Succeeded, result.ToString());
        return result;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_runRoot, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
