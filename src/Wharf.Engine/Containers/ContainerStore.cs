using System.Diagnostics;
using Wharf.Engine.Storage;
using System.Security.Cryptography;
using System.Text.Json;

namespace Wharf.Engine.Containers;

/// <summary>
/// Containers on disk. Layout:
/// <code>
/// &lt;graphroot&gt;/wharf/containers/
///   containers.lock          held (flock) while a container is added, renamed or removed
///   &lt;id&gt;/container.json     the record (replaced by rename)
///   &lt;id&gt;/upper, work       the overlay upper and work dirs: the container's changes
///   &lt;id&gt;/merged            the root filesystem while the container is mounted
///   &lt;id&gt;/rootfs            the root filesystem when no overlay can be mounted (a copy)
///   &lt;id&gt;/bundle/config.json the OCI runtime configuration
///   &lt;id&gt;/userdata/         hosts, hostname, resolv.conf, .containerenv: bind-mounted in
///   &lt;id&gt;/ctr.log           stdout and stderr of a detached container
///   &lt;id&gt;/exit              the exit code, written by whoever waited for the container
/// &lt;runroot&gt;/wharf/runc/     runc's state directory (--root)
/// </code>
/// </summary>
public sealed class ContainerStore
{
    private readonly TimeProvider _time;

    /// <param name="time">The engine's clock (<c>EngineOptions.Time</c>), for the times the store records; required, so no caller reads the system clock behind the engine's back.</param>
    public ContainerStore(string graphRoot, string runRoot, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        Root = Path.Combine(graphRoot, "wharf", "containers");
        RuncRoot = Path.Combine(runRoot, "wharf", "runc");
        _time = time;
    }

    public string Root { get; }

    /// <summary>Where the exit a refresh notices is recorded (<c>died</c>, then <c>cleanup</c>: the monitor has unmounted).</summary>
    public Events.EventLog? Events { get; init; }

    /// <summary>Whether a noticed exit also records <c>cleanup</c> (not while <c>rm -f</c> kills, as podman).</summary>
    public bool RecordCleanup { get; set; } = true;

    public string RuncRoot { get; }

    public string Dir(string id) => Path.Combine(Root, id);

    /// <summary>slirp4netns's API socket: under the run root with a short name (a socket path is at most 107 bytes).</summary>
    public string SlirpSocket(string id) => Path.Combine(Path.GetDirectoryName(RuncRoot)!, "slirp-" + id[..12] + ".sock");

    public void DeleteSlirpSocket(string id)
    {
        if (File.Exists(SlirpSocket(id)))
        {
            File.Delete(SlirpSocket(id));
        }
    }

    public string Upper(string id) => Path.Combine(Root, id, "upper");

    public string Work(string id) => Path.Combine(Root, id, "work");

    public string Merged(string id) => Path.Combine(Root, id, "merged");

    public string CopyRootfs(string id) => Path.Combine(Root, id, "rootfs");

    public string Bundle(string id) => Path.Combine(Root, id, "bundle");

    public string UserData(string id) => Path.Combine(Root, id, "userdata");

    public string LogPath(string id) => Path.Combine(Root, id, "ctr.log");

    public string ExitPath(string id) => Path.Combine(Root, id, "exit");

    /// <summary>Where the container's detached exec sessions live, one directory each (pid, exit, exec_log).</summary>
    public string ExecSessionsDir(string id) => Path.Combine(Root, id, "exec");

    public string MonitorPidPath(string id) => Path.Combine(Root, id, "monitor.pid");

    public string RootfsPath(ContainerRecord c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return c.RootfsDriver == "copy" ? CopyRootfs(c.Id) : Merged(c.Id);
    }

    public static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    public List<ContainerRecord> List()
    {
        if (!Directory.Exists(Root))
        {
            return [];
        }

        var result = new List<ContainerRecord>();
        foreach (string dir in Directory.GetDirectories(Root))
        {
            if (TryRead(Path.GetFileName(dir)) is { } c)
            {
                result.Add(c);
            }
        }

        return [.. result.OrderBy(c => c.Created)];
    }

    public ContainerRecord? TryRead(string id)
    {
        string file = Path.Combine(Root, id, "container.json");
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(file), ContainerJsonContext.Default.ContainerRecord);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public void Write(ContainerRecord c)
    {
        ArgumentNullException.ThrowIfNull(c);
        string dir = Dir(c.Id);
        Directory.CreateDirectory(dir);
        string temp = Path.Combine(dir, "container.json." + Guid.NewGuid().ToString("N"));
        File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(c, ContainerJsonContext.Default.ContainerRecord));
        File.Move(temp, Path.Combine(dir, "container.json"), overwrite: true);
    }

    /// <summary>Finds a container by full ID, unique ID prefix or name, as podman does.</summary>
    public ContainerRecord Lookup(string nameOrId)
    {
        ArgumentNullException.ThrowIfNull(nameOrId);
        var all = List();
        var match = all.FirstOrDefault(c => c.Id == nameOrId) ?? all.FirstOrDefault(c => c.Name == nameOrId);
        if (match is null && nameOrId.Length > 0 && nameOrId.All(char.IsAsciiHexDigitLower))
        {
            var prefixed = all.Where(c => c.Id.StartsWith(nameOrId, StringComparison.Ordinal)).ToList();
            if (prefixed.Count > 1)
            {
                throw new WharfException($"more than one result for container \"{nameOrId}\": container already exists");
            }

            match = prefixed.FirstOrDefault();
        }

        return match ?? throw new WharfException($"no container with name or ID \"{nameOrId}\" found: no such container");
    }

    /// <summary>Runs <paramref name="action"/> holding the containers lock (names stay unique across processes).</summary>
    public T Locked<T>(Func<T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        Directory.CreateDirectory(Root);
        return FileLock.Locked(Path.Combine(Root, "containers.lock"), "container store", action);
    }

    /// <summary>
    /// The container's live state: a container recorded as running whose waiting process is gone
    /// has exited; its code comes from the exit file when the waiter wrote one.
    /// </summary>
    public ContainerRecord Refresh(ContainerRecord c)
    {
        ArgumentNullException.ThrowIfNull(c);
        if (c.State != ContainerStates.Running)
        {
            return c;
        }

        string exitFile = ExitPath(c.Id);
        bool exited = File.Exists(exitFile);
        if (!exited && c.MonitorPid > 0 && ContainerNative.ProcessExists(c.MonitorPid))
        {
            return c;
        }

        // The waiter is gone without writing an exit code (killed): while the runtime still runs
        // the container it is running; stop, kill and rm -f reach it through the runtime.
        if (!exited && File.Exists(Path.Combine(RuncRoot, c.Id, "state.json")) && ProcessOfContainerAlive(c.Id))
        {
            return c;
        }

        // Killed between recording the container as running and the runtime creating it: the
        // runtime's "run" for this container is still alive (creating it, or running it without
        // its state visible yet), so the container is running, as podman's state sync would find.
        if (!exited && RuntimeRunFor(c.Id) is not null)
        {
            return c;
        }

        // Read again: the waiter may have just recorded the exit itself.
        var fresh = TryRead(c.Id) ?? c;
        if (fresh.State != ContainerStates.Running)
        {
            return fresh;
        }

        fresh.State = ContainerStates.Exited;
        fresh.ExitCode = exited && int.TryParse(File.ReadAllText(exitFile).Trim(), out int code) ? code : 255;
        fresh.FinishedAt = exited ? new DateTimeOffset(File.GetLastWriteTimeUtc(exitFile), TimeSpan.Zero) : _time.GetUtcNow();
        Write(fresh);
        Events?.Container("died", fresh, fresh.ExitCode, fresh.FinishedAt);
        if (RecordCleanup)
        {
            Events?.Container("cleanup", fresh, at: fresh.FinishedAt);
        }

        return fresh;
    }

    /// <summary>
    /// The PID of a live runtime process started as <c>RUNTIME … run --bundle BUNDLE ID</c> for
    /// this container (an attached run's), or null; read from /proc, whose command lines the
    /// user's own processes show.
    /// </summary>
    internal int? RuntimeRunFor(string id)
    {
        string bundle = Bundle(id);
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int pid))
            {
                continue;
            }

            string[] argv;
            try
            {
                argv = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0', StringSplitOptions.RemoveEmptyEntries);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            int run = Array.IndexOf(argv, "run");
            if (run > 0 && argv.Length == run + 4 && argv[run + 1] == "--bundle" && argv[run + 2] == bundle && argv[run + 3] == id
                && ContainerNative.ProcessExists(pid) && !IsZombie(dir))
            {
                return pid;
            }
        }

        return null;
    }

    private static bool IsZombie(string procDir)
    {
        try
        {
            string stat = File.ReadAllText(Path.Combine(procDir, "stat"));
            int close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] is 'Z' or 'X';
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>The container's init process, from the runtime's state file, still exists.</summary>
    private bool ProcessOfContainerAlive(string id) => InitPid(id) is int pid && ContainerNative.ProcessExists(pid);

    /// <summary>The PID of the container's init process in the runtime's state file, or null when there is none to read.</summary>
    internal int? InitPid(string id)
    {
        try
        {
            var state = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(RuncRoot, id, "state.json")));
            return state?["init_process_pid"]?.GetValue<int>();
        }
        catch (Exception e) when (e is IOException or JsonException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }
}
