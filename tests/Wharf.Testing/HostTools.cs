namespace Wharf.Testing;

/// <summary>Programs the tests need from the machine (docker-registry, podman, htpasswd …).</summary>
public static class HostTools
{
    public static bool Exists(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Any(d => File.Exists(Path.Combine(d, tool)));

    /// <summary>
    /// Installs the Debian package when running as root and the tool is missing (CI starts from a
    /// fresh machine); otherwise a missing tool fails the test, saying which package has it.
    /// </summary>
    public static void Ensure(string tool, string package)
    {
        if (Exists(tool))
        {
            return;
        }

        if (Environment.UserName == "root" && Exists("apt-get"))
        {
            AptGet("install", "-y", "-qq", package);
            if (!Exists(tool))
            {
                AptGet("update", "-qq");
                AptGet("install", "-y", "-qq", package);
            }
        }

        if (!Exists(tool))
        {
            throw new InvalidOperationException($"{tool} is required (Debian package {package})");
        }
    }

    private static void AptGet(params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("apt-get") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = System.Diagnostics.Process.Start(psi)!;
        // Drained so apt-get never blocks on a full pipe; what it says is not needed, Ensure looks for the tool after.
        var drained = Task.WhenAll(process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync());
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
        }

        drained.Wait();
    }
}
