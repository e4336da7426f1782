using System.Diagnostics;

namespace Wharf.Cli.Tests.Containers;

/// <summary>
/// wharfd on 127.0.0.1 holding a small runnable image built from Debian's static
/// busybox (imported into a private podman store and pushed by podman), for the container tests.
/// </summary>
public sealed class ContainerFixture : IDisposable
{
    private readonly WharfdProcess _wharfd;

    public ContainerFixture()
    {
        Tools.EnsureTool("podman", "podman");
        Tools.EnsureTool("runc", "runc");
        Tools.EnsureTool("script", "bsdutils");
        if (!File.Exists("/bin/busybox"))
        {
            Tools.Run("apt-get", "update", "-qq");
            Tools.Run("apt-get", "install", "-y", "-qq", "busybox-static");
        }

        Root = Directory.CreateTempSubdirectory("wharf-ctr-it-").FullName;
        try
        {
            _wharfd = WharfdProcess.Start();

            // A public project: anyone pulls, the admin pushes.
            _wharfd.CreateProjectAsync("lab", isPublic: true).GetAwaiter().GetResult();

            string rootfs = Path.Combine(Root, "rootfs");
            foreach (string d in new[] { "bin", "etc", "proc", "sys", "dev", "tmp", "root", "run", "opt", "opt/d" })
            {
                Directory.CreateDirectory(Path.Combine(rootfs, d));
            }

            File.Copy("/bin/busybox", Path.Combine(rootfs, "bin", "busybox"));
            foreach (string applet in new[] { "sh", "ls", "cat", "echo", "id", "sleep", "touch", "rm", "mkdir", "true", "false", "env", "hostname", "pwd", "test", "chmod", "mv", "cp" })
            {
                File.CreateSymbolicLink(Path.Combine(rootfs, "bin", applet), "busybox");
            }

            File.WriteAllText(Path.Combine(rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\njob:x:1000:1000:job:/home/job:/bin/sh\n");
            File.WriteAllText(Path.Combine(rootfs, "etc", "group"), "root:x:0:\njob:x:1000:\nvideo:x:44:job\n");
            File.WriteAllText(Path.Combine(rootfs, "etc", "motd"), "from the image\n");
            File.WriteAllText(Path.Combine(rootfs, "opt", "d", "a"), "lower\n");
            File.WriteAllText(Path.Combine(rootfs, "opt", "notexec"), "data\n");
            string tar = Path.Combine(Root, "rootfs.tar");
            Tools.Check("tar", "-C", rootfs, "-cf", tar, ".");
            Podman("import", "-q", "-c", "CMD [\"sh\"]", tar, "localhost/bb:1");
            Podman("push", "-q", "--tls-verify=false", "--creds", Creds, "localhost/bb:1", Image);
        }
        catch
        {
            // xunit does not dispose a fixture whose constructor threw: stop wharfd and clean up here.
            Dispose();
            throw;
        }
    }

    public string Root { get; }

    public string Registry => _wharfd.Host;

    /// <summary>wharfd's admin, for pushes (pulls from the public project need none).</summary>
    public static string Creds => "admin:" + WharfdProcess.AdminPassword;

    public string Image => $"{Registry}/lab/bb:1";

    public string Podman(params string[] args) => PodmanAt(Path.Combine(Root, "podman"), args);

    /// <summary>podman with its own vfs store and runc (crun refuses this machine's hybrid cgroups).</summary>
    public static string PodmanAt(string dir, params string[] args) =>
        Tools.Check("podman", ["--root", Path.Combine(dir, "storage"), "--runroot", Path.Combine(dir, "run"), "--tmpdir", Path.Combine(dir, "tmp"), "--storage-driver", "vfs", "--runtime", "runc", .. args]);

    public void Dispose()
    {
        _wharfd?.Dispose();
        try
        {
            Tools.Run("podman", "--root", Path.Combine(Root, "podman", "storage"), "--runroot", Path.Combine(Root, "podman", "run"), "--tmpdir", Path.Combine(Root, "podman", "tmp"), "--storage-driver", "vfs", "system", "reset", "-f");
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

[CollectionDefinition("containers")]
public sealed class ContainerCollection : ICollectionFixture<ContainerFixture>;

/// <summary>The wharf executable as a real process with its own graphroot and runroot, so it owns real stdio.</summary>
internal sealed class WharfProcess : IDisposable
{
    public WharfProcess()
    {
        Dir = Directory.CreateTempSubdirectory("wharf-ctr-").FullName;
    }

    public string Dir { get; }

    public string GraphRoot => Path.Combine(Dir, "graph");

    public string RunRoot => Path.Combine(Dir, "run");

    public Dictionary<string, string> Env { get; } = [];

    /// <summary>
    /// The wharf under test: the published NativeAOT binary when WHARF_CLI names it (test.sh
    /// publishes it), else the one built next to the tests (a developer's <c>dotnet test</c>).
    /// </summary>
    public static string Executable
    {
        get
        {
            if (Environment.GetEnvironmentVariable("WHARF_CLI") is { Length: > 0 } published)
            {
                return File.Exists(published) ? Path.GetFullPath(published) : throw new FileNotFoundException($"WHARF_CLI names no file: {published}", published);
            }

            string apphost = Path.Combine(AppContext.BaseDirectory, "wharf");
            return File.Exists(apphost) ? apphost : Path.Combine(AppContext.BaseDirectory, "wharf.dll");
        }
    }

    public ProcessStartInfo StartInfo(params string[] args)
    {
        string exe = Executable;
        var psi = new ProcessStartInfo(exe.EndsWith(".dll", StringComparison.Ordinal) ? "dotnet" : exe)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (exe.EndsWith(".dll", StringComparison.Ordinal))
        {
            psi.ArgumentList.Add(exe);
        }

        foreach (string a in GlobalArgs.Concat(args))
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in Env)
        {
            psi.Environment[k] = v;
        }

        return psi;
    }

    public string[] GlobalArgs => ["--root", GraphRoot, "--runroot", RunRoot];

    public (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        using var p = Process.Start(StartInfo(args))!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"wharf {string.Join(' ', args)} did not finish in 2 minutes");
        }

        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    public string Check(params string[] args)
    {
        var (code, stdout, stderr) = Run(args);
        Assert.True(code == 0, $"wharf {string.Join(' ', args)} exited {code}: {stderr}");
        return stdout;
    }

    /// <summary>The command line to type into a shell (for script(1), which gives wharf a terminal).</summary>
    public string ShellCommand(params string[] args)
    {
        string exe = Executable;
        var words = (exe.EndsWith(".dll", StringComparison.Ordinal) ? new[] { "dotnet", exe } : [exe]).Concat(GlobalArgs).Concat(args);
        return string.Join(' ', words.Select(w => "'" + w.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
    }

    public IEnumerable<string> ContainerDirs =>
        Directory.Exists(Path.Combine(GraphRoot, "wharf", "containers"))
            ? Directory.GetDirectories(Path.Combine(GraphRoot, "wharf", "containers"))
            : [];

    public bool AnyMountUnder() => File.ReadAllText("/proc/self/mountinfo").Contains(Dir, StringComparison.Ordinal);

    public IEnumerable<string> RuncStates =>
        Directory.Exists(Path.Combine(RunRoot, "wharf", "runc")) ? Directory.GetDirectories(Path.Combine(RunRoot, "wharf", "runc")) : [];

    public void Dispose()
    {
        // Best effort: remove every container (kills, unmounts) before the directory goes.
        try
        {
            foreach (string line in Run("ps", "-a", "-q").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                Run("rm", "-f", line.Trim());
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
        }

        if (!AnyMountUnder())
        {
            try
            {
                Directory.Delete(Dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
