using System.Diagnostics;
using System.Globalization;
using Wharf.Client.Processes;
using Wharf.Engine.Storage;

namespace Wharf.Engine.Rootless;

/// <summary>
/// The process that keeps a user's namespace alive between wharf commands (podman's pause process):
/// <c>sleep infinity</c> in its own session, in a new user and mount namespace, its PID in
/// <c>RUNTIME_DIR/wharf/pause.pid</c>. Made once per boot (or after it was killed), under a lock so
/// two first commands at once make one.
/// </summary>
public static class PauseProcess
{
    /// <summary>The pause process's PID, made when there is none that is alive and the user's.</summary>
    public static int Ensure(uint uid, uint gid, string runtimeDirectory)
    {
        string dir = PrivateDirectory.Create(Path.Combine(runtimeDirectory, "wharf"));
        string pidFile = Path.Combine(dir, "pause.pid");
        if (Read(pidFile, uid) is { } alive)
        {
            return alive;
        }

        using (FileLock.Acquire(Path.Combine(dir, "pause.lock"), "the user namespace", TimeSpan.FromSeconds(30)))
        {
            if (Read(pidFile, uid) is { } made)
            {
                return made;
            }

            int pid = Create(uid, gid);
            string temp = pidFile + ".tmp";
            File.WriteAllText(temp, pid.ToString(CultureInfo.InvariantCulture));
            File.Move(temp, pidFile, overwrite: true);
            return pid;
        }
    }

    /// <summary>The PID in <paramref name="pidFile"/> when it is a live pause process of this user in a namespace of its own.</summary>
    public static int? Read(string pidFile, uint uid)
    {
        try
        {
            if (!int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                return null;
            }

            return IsPause(pid, uid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static bool IsPause(int pid, uint uid)
    {
        try
        {
            string proc = $"/proc/{pid}";
            if (File.ReadAllText(proc + "/comm").Trim() != "sleep" || OwnNamespace(pid))
            {
                return false;
            }

            string[] map = File.ReadAllText(proc + "/uid_map").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return map.Length >= 3 && map[0] == "0" && map[1] == uid.ToString(CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static bool OwnNamespace(int pid) =>
        new FileInfo($"/proc/{pid}/ns/user").LinkTarget == new FileInfo("/proc/self/ns/user").LinkTarget;

    private static int Create(uint uid, uint gid)
    {
        string user = Environment.UserName;
        var uids = SubordinateIds.Read(SubordinateIds.UidFile, user, uid);
        var gids = SubordinateIds.Read(SubordinateIds.GidFile, user, gid);
        string unshare = Containers.RootfsMount.FindTool("unshare") ?? throw new WharfException("unshare not found: install util-linux");
        string setsid = Containers.RootfsMount.FindTool("setsid") ?? throw new WharfException("setsid not found: install util-linux");

        // Its own session, so a Ctrl-C at the user's terminal does not reach it; its stdio are pipes
        // this process closes at once, so it never holds a caller's terminal or output pipe open.
        using var p = StartPause(setsid, unshare);
        int pid = p.Id;
        var clock = Stopwatch.StartNew();
        while (!(File.Exists($"/proc/{pid}/comm") && !OwnNamespace(pid) && File.ReadAllText($"/proc/{pid}/comm").Trim() == "sleep"))
        {
            if (p.HasExited || clock.Elapsed > TimeSpan.FromSeconds(10))
            {
                string err = p.HasExited ? p.StandardError.ReadToEnd().Trim() : "timed out";
                Kill(p);
                throw new WharfException($"creating a user namespace: {err}" + (err.Contains("Operation not permitted", StringComparison.Ordinal)
                    ? " (unprivileged user namespaces may be disabled: see the kernel.unprivileged_userns_clone and user.max_user_namespaces sysctls)"
                    : string.Empty));
            }

            // A short poll on purpose: what is awaited is an exec (setsid → unshare → sleep) inside
            // the new namespace, which no file event reports (/proc gives no inotify events) and a
            // pidfd does not either (it reports exit only); it takes a few milliseconds, once per
            // boot or after the pause process was killed.
            Thread.Sleep(2);
        }

        string? failure;
        if (uids.Count > 0 && gids.Count > 0)
        {
            failure = Map("newuidmap", pid, uid, uids) ?? Map("newgidmap", pid, gid, gids);
        }
        else
        {
            // podman's fallback: only the user's own IDs, which suffices for images whose files all
            // belong to root. gid_map may be written by the user only once setgroups is denied.
            Console.Error.WriteLine(
                $"WARN[0000] no subordinate ID ranges for {user} in {SubordinateIds.UidFile} and {SubordinateIds.GidFile}: only your own user and group are mapped, " +
                $"so images with files of other owners cannot be used; an administrator adds ranges with 'usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}'");
            failure = WriteMap(pid, "uid_map", $"0 {uid} 1") ?? WriteMap(pid, "setgroups", "deny") ?? WriteMap(pid, "gid_map", $"0 {gid} 1");
        }

        if (failure is not null)
        {
            Kill(p);
            throw new WharfException($"mapping IDs into the user namespace: {failure}");
        }

        return pid;
    }

    private static string? Map(string tool, int pid, uint own, IReadOnlyList<IdRange> ranges)
    {
        string? path = Containers.RootfsMount.FindTool(tool);
        if (path is null)
        {
            return $"{tool} not found: install the uidmap package";
        }

        return UserNamespace.Run(path, [pid.ToString(CultureInfo.InvariantCulture), .. SubordinateIds.MapArguments(own, ranges)]);
    }

    private static string? WriteMap(int pid, string file, string content)
    {
        try
        {
            File.WriteAllText($"/proc/{pid}/{file}", content);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"writing /proc/{pid}/{file}: {e.Message}";
        }
    }

    private static Process StartPause(string setsid, string unshare)
    {
        try
        {
            return ProcessRunner.StartBackground(setsid, [unshare, "--user", "--mount", "--propagation", "private", "sleep", "infinity"]);
        }
        catch (ProgramNotFoundException e)
        {
            throw new WharfException($"starting the user namespace's pause process: {e.Message}", e);
        }
    }

    private static void Kill(Process p) => ProcessRunner.KillTree(p);
}
