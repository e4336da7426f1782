using System.Diagnostics;
using System.Globalization;
using Wharf.Cli.Tests.Containers;
using Wharf.Engine.Rootless;

namespace Wharf.Cli.Tests.Rootless;

/// <summary>
/// An ordinary account on this machine, as the cluster's users are: made by the test (as root) with
/// subordinate ID ranges in /etc/subuid and /etc/subgid, or without them. Each <see cref="Session"/>
/// gives it a private home and runtime directory, runs the real wharf as that user through runuser,
/// and on dispose removes its containers, ends its pause process and deletes what it wrote.
/// </summary>
internal static class RootlessUser
{
    public const string WithRanges = "wharf-rl-test";
    public const string WithoutRanges = "wharf-rl-nosub";

    private static readonly Lazy<string> BinDir = new(CopyBinaries);
    private static readonly Lock Gate = new();

    /// <summary>Makes the account (once); with <paramref name="ranges"/> it gets 65536 subordinate UIDs and GIDs.</summary>
    public static (uint Uid, uint Gid) Ensure(string name, bool ranges)
    {
        Assert.True(Environment.UserName == "root", "needs root to create the unprivileged test user: run ./test.sh as root");
        lock (Gate)
        {
            Tools.EnsureTool("newuidmap", "uidmap");
            Tools.EnsureTool("slirp4netns", "slirp4netns");
            Tools.EnsureTool("runuser", "util-linux");
            if (Tools.Run("id", "-u", name).ExitCode != 0)
            {
                Tools.Check("useradd", "--create-home", "--shell", "/bin/sh", name);
            }

            uint uid = uint.Parse(Tools.Check("id", "-u", name).Trim(), CultureInfo.InvariantCulture);
            uint gid = uint.Parse(Tools.Check("id", "-g", name).Trim(), CultureInfo.InvariantCulture);
            bool has = SubordinateIds.Read(SubordinateIds.UidFile, name, uid).Count > 0 && SubordinateIds.Read(SubordinateIds.GidFile, name, gid).Count > 0;
            if (ranges && !has)
            {
                Tools.Check("usermod", "--add-subuids", "400000-465535", "--add-subgids", "400000-465535", name);
            }
            else if (!ranges && has)
            {
                foreach (string file in new[] { SubordinateIds.UidFile, SubordinateIds.GidFile })
                {
                    File.WriteAllLines(file, File.ReadAllLines(file).Where(l => !l.StartsWith(name + ":", StringComparison.Ordinal)));
                }
            }

            return (uid, gid);
        }
    }

    /// <summary>
    /// The built wharf, copied where any user can read it: the test tree may sit under a home that
    /// only root can enter.
    /// </summary>
    private static string CopyBinaries()
    {
        string dir = Path.Combine(Path.GetTempPath(), "wharf-rl-bin-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        if (Environment.GetEnvironmentVariable("WHARF_CLI") is { Length: > 0 })
        {
            // The published native binary is the whole of wharf.
            File.Copy(WharfProcess.Executable, Path.Combine(dir, "wharf"));
        }
        else
        {
            foreach (string f in Directory.EnumerateFiles(AppContext.BaseDirectory))
            {
                string name = Path.GetFileName(f);
                if (name.StartsWith("wharf", StringComparison.Ordinal) || name.EndsWith(".dll", StringComparison.Ordinal))
                {
                    File.Copy(f, Path.Combine(dir, name));
                }
            }
        }

        Tools.Check("chmod", "-R", "a+rX", dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(dir, recursive: true);
        return dir;
    }

    /// <summary>A fresh home and runtime directory for <paramref name="name"/>, and wharf run as that user in them.</summary>
    public sealed class Session : IDisposable
    {
        public Session(string name, bool ranges = true)
        {
            Name = name;
            (Uid, Gid) = Ensure(name, ranges);
            Dir = Directory.CreateTempSubdirectory("wharf-rl-").FullName;
            Directory.CreateDirectory(Home);
            Directory.CreateDirectory(RuntimeDir);
            Directory.CreateDirectory(Data);
            Tools.Check("chown", "-R", $"{Uid}:{Gid}", Dir);
            Tools.Check("chmod", "0755", Dir);
            Tools.Check("chmod", "0700", RuntimeDir);
        }

        public string Name { get; }

        public uint Uid { get; }

        public uint Gid { get; }

        public string Dir { get; }

        public string Home => Path.Combine(Dir, "home");

        public string RuntimeDir => Path.Combine(Dir, "run");

        /// <summary>A directory of the user's for jobs and bind mounts.</summary>
        public string Data => Path.Combine(Dir, "data");

        /// <summary>Where the store lands when nothing sets it: podman's rootless default.</summary>
        public string DefaultGraphRoot => Path.Combine(Home, ".local", "share", "containers", "storage");

        public string PauseFile => Path.Combine(RuntimeDir, "wharf", "pause.pid");

        public string Wharf => Path.Combine(BinDir.Value, "wharf");

        /// <summary>Variables added to <see cref="Environment"/> (SLURM_CONF, say).</summary>
        public Dictionary<string, string> Extra { get; } = [];

        /// <summary>The environment of a login shell of the user's: nothing of root's leaks in.</summary>
        public List<string> Environment() =>
        [
            .. Extra.Select(kv => kv.Key + "=" + kv.Value),
            "HOME=" + Home,
            "USER=" + Name,
            "LOGNAME=" + Name,
            "XDG_RUNTIME_DIR=" + RuntimeDir,
            "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "DOTNET_CLI_TELEMETRY_OPTOUT=1",
            .. System.Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root ? new[] { "DOTNET_ROOT=" + root } : [],
        ];

        /// <summary>runuser -u USER -- env -i VARS… wharf ARGS…, as a shell line (for script(1)).</summary>
        public string ShellCommand(params string[] args)
        {
            static string Q(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
            return string.Join(' ', Argv(args).Select(Q));
        }

        public List<string> Argv(params string[] args) =>
            ["runuser", "-u", Name, "--", "env", "-i", .. Environment(), "sh", "-c", $"cd {Home} && exec \"$0\" \"$@\"", Wharf, .. args];

        public (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
        {
            var argv = Argv(args);
            return Tools.Run(argv[0], [.. argv.Skip(1)]);
        }

        public string Check(params string[] args)
        {
            var (code, stdout, stderr) = Run(args);
            Assert.True(code == 0, $"wharf {string.Join(' ', args)} as {Name} exited {code}: {stderr}");
            return stdout;
        }

        /// <summary>A shell command run as the user (outside wharf), e.g. to look at files as they see them.</summary>
        public string Shell(string command) =>
            Tools.Check("runuser", "-u", Name, "--", "sh", "-c", command);

        public int? PausePid =>
            File.Exists(PauseFile) && int.TryParse(File.ReadAllText(PauseFile).Trim(), CultureInfo.InvariantCulture, out int pid) ? pid : null;

        public void Dispose()
        {
            try
            {
                Run("rm", "--all", "--force");
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException)
            {
            }

            if (PausePid is { } pid && File.Exists($"/proc/{pid}/comm"))
            {
                try
                {
                    using var p = Process.GetProcessById(pid);
                    p.Kill();
                    p.WaitForExit(5000);
                }
                catch (ArgumentException)
                {
                }
            }

            Tools.Run("rm", "-rf", Dir);
        }
    }
}
