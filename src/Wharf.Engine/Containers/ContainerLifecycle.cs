using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Wharf.Client.Processes;

namespace Wharf.Engine.Containers;

/// <summary>
/// The container's process from start to removal: start and run (runtime calls, the waiter; the
/// root filesystem is mounted at start through <see cref="ContainerMounts"/>), stop, kill, rm,
/// prune, exec, wait, restart, pause, top, logs, inspect. Verbs live in <c>ContainerLifecycle.*.cs</c>. Part of <see cref="ContainerEngine"/>.
/// </summary>
public sealed partial class ContainerLifecycle : ContainerEnginePart
{
    internal ContainerLifecycle(ContainerEngine engine)
        : base(engine)
    {
    }

    /// <summary>SIGTERM, TERM, usr1 or 15 → the number the runtime takes (runc and crun accept numbers).</summary>
    public static string SignalName(string signal) =>
        Signals.Parse(signal).ToString(CultureInfo.InvariantCulture);

    /// <summary>podman stop: the stop signal, then SIGKILL after <paramref name="timeoutSeconds"/>; waits for the exit to be recorded.</summary>
    public ContainerRecord Stop(string nameOrId, int timeoutSeconds) => Stop(Lookup(nameOrId), timeoutSeconds, record: true);

    /// <param name="record">podman records <c>stop</c> when asked to stop, before the signal; <c>rm -f -t</c> records none.</param>
    private ContainerRecord Stop(ContainerRecord c, int timeoutSeconds, bool record)
    {
        if (c.State == ContainerStates.Paused)
        {
            throw new WharfException($"container {c.Id} is running or paused, refusing to clean up: container state improper");
        }

        if (c.State != ContainerStates.Running)
        {
            return c;
        }

        MarkStopped(c);
        if (record)
        {
            Event("stop", c);
        }
        else
        {
            Store.RecordCleanup = false;
        }

        Runtime.Kill(c.Id, SignalName(c.StopSignal));
        EndRuntimeStillCreating(c);
        if (WaitExited(c, TimeSpan.FromSeconds(Math.Max(0, timeoutSeconds))) is { } done)
        {
            return done;
        }

        Progress($"StopSignal {c.StopSignal} failed to stop container {c.Name} in {timeoutSeconds} seconds, resorting to SIGKILL");
        Runtime.Kill(c.Id, "KILL");
        return WaitExited(c, TimeSpan.FromSeconds(30)) ?? throw new WharfException($"container {c.Name} did not exit after SIGKILL");
    }

    public ContainerRecord Kill(string nameOrId, string signal)
    {
        var c = Lookup(nameOrId);
        if (c.State is not (ContainerStates.Running or ContainerStates.Paused))
        {
            throw new WharfException($"can only kill running containers. {c.Id} is in state {c.State}: container state improper");
        }

        MarkStopped(c);
        Runtime.Kill(c.Id, SignalName(signal));
        Event("kill", c);
        return c;
    }

    /// <summary>
    /// A container recorded as running whose runtime has no state for it yet (wharf was killed
    /// while the runtime was creating it): the runtime's own process is what stop and rm -f end,
    /// so it never creates a container the record no longer has.
    /// </summary>
    private void EndRuntimeStillCreating(ContainerRecord c)
    {
        if (!Directory.Exists(Path.Combine(Runtime.StateRoot, c.Id)) && Store.RuntimeRunFor(c.Id) is int pid)
        {
            ContainerNative.Kill(pid, 9);
            FileWait.Until(() => Store.RuntimeRunFor(c.Id) is null, new WaitSources { Processes = [pid] }, TimeSpan.FromSeconds(10), CancellationToken.None);
        }
    }

    /// <summary>
    /// Waits (bounded) until the container's waiter has recorded its exit: woken by the exit file or
    /// the record appearing in the container's directory, or by the waiter or the container's init
    /// exiting (what <see cref="ContainerStore.Refresh"/> reads when the waiter was killed).
    /// </summary>
    private ContainerRecord? WaitExited(ContainerRecord c, TimeSpan timeout)
    {
        ContainerRecord now = c;
        var sources = new WaitSources
        {
            Directories = [Store.Dir(c.Id)],
            Processes = Store.InitPid(c.Id) is int init ? [c.MonitorPid, init] : [c.MonitorPid],
            Recheck = FileWait.RuntimeRecheck,
        };
        return FileWait.Until(() => (now = Store.Refresh(Store.TryRead(c.Id) ?? c)).State != ContainerStates.Running, sources, timeout, CancellationToken.None)
            ? now
            : null;
    }

    /// <summary>podman rm: refuses a running container unless forced; then runc state, mount and directories go.</summary>
    public string Remove(string nameOrId, bool force)
    {
        var c = Lookup(nameOrId);
        Remove(c, force);
        return c.Id;
    }

    /// <summary>
    /// podman rmi: as <see cref="LocalImages.RemoveImages"/>, with -f stopping (stop signal, then
    /// SIGKILL after podman's default 10 seconds) and removing the containers of the images it deletes.
    /// </summary>
    public RemoveImagesReport RemoveImages(RemoveImagesOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Images.Local.RemoveImages(options with { RemoveContainer = c => Remove(c, force: true, stopTimeoutSeconds: 10) });
    }

    internal void Remove(ContainerRecord c, bool force)
    {
        c = Store.Refresh(c);
        if (c.State == ContainerStates.Paused)
        {
            if (!force)
            {
                throw new WharfException(
                    $"cannot remove container {c.Id} as it is paused - running or paused containers cannot be removed without force: container state improper", 2);
            }

            // SIGKILL reaches frozen processes only once they are thawed (cgroup v1 freezer).
            Resume(c);
        }

        if (c.State == ContainerStates.Running)
        {
            if (!force)
            {
                throw new WharfException(
                    $"cannot remove container {c.Id} as it is running - running or paused containers cannot be removed without force: container state improper", 2);
            }

            MarkStopped(c);
            // podman's rm -f records died and remove, no cleanup.
            Store.RecordCleanup = false;
            Runtime.Kill(c.Id, "KILL");
            EndRuntimeStillCreating(c);
            if (WaitExited(c, TimeSpan.FromSeconds(30)) is null)
            {
                throw new WharfException($"container {c.Name} did not exit after SIGKILL");
            }
        }

        Runtime.Delete(c.Id);
        Engine.Mounts.Unmount(c);
        Slirp.Stop(Store.Dir(c.Id));
        Store.DeleteSlirpSocket(c.Id);
        RemoveFiles(c);

        // The last user of layers whose image is already gone (rmi -f): free them now, so they
        // stop counting against the quota without waiting for a prune.
        if (!Images.Store.ReadImages().Any(i => i.Id == c.ImageId))
        {
            Images.Local.CollectUnusedLayers();
        }
        Event("remove", c);
    }

    /// <summary>Deletes a container's directory. merged/ is only ever rmdir'ed, so a mount still on it is never recursed into.</summary>
    internal void RemoveFiles(ContainerRecord c)
    {
        string dir = Store.Dir(c.Id);
        if (!Directory.Exists(dir))
        {
            return;
        }

        string merged = Store.Merged(c.Id);
        if (Directory.Exists(merged))
        {
            if (RootfsMount.IsMounted(merged))
            {
                throw new WharfException($"removing container {c.Name}: {merged} is still mounted");
            }

            Directory.Delete(merged, recursive: false);
        }

        Directory.Delete(dir, recursive: true);
    }

    /// <summary>podman container prune: removes every container that is not running.</summary>
    public IReadOnlyList<string> Prune()
    {
        var removed = new List<string>();
        foreach (var c in List().Where(c => c.State != ContainerStates.Running))
        {
            Remove(c, force: false);
            removed.Add(c.Id);
        }

        // Layers only these containers held (their image was removed with rmi -f) go too.
        Images.Local.CollectUnusedLayers();
        return removed;
    }

    public sealed record ExecOptions
    {
        /// <summary>A name or ID; null with <see cref="Latest"/>.</summary>
        public string? Container { get; init; }

        /// <summary><c>--latest</c>: the container created last.</summary>
        public bool Latest { get; init; }

        public required IReadOnlyList<string> Command { get; init; }

        public bool Interactive { get; init; }

        public bool Tty { get; init; }

        /// <summary><c>-d</c>: start the command and return its session ID (<see cref="ExecReport.SessionId"/>).</summary>
        public bool Detach { get; init; }

        public IReadOnlyList<string> Env { get; init; } = [];

        /// <summary><c>--env-file</c>: read in order, before <see cref="Env"/>.</summary>
        public IReadOnlyList<string> EnvFiles { get; init; } = [];

        public string? Workdir { get; init; }

        public string? User { get; init; }
    }

    /// <summary>An attached exec's exit code, or a detached one's session ID (exit code 0).</summary>
    public sealed record ExecReport(int ExitCode, string? SessionId);

    /// <summary>
    /// podman exec: runc exec in the running container with wharf's stdio, returning the command's
    /// exit code; with <c>-d</c> the command runs on in its own session (its output appended to
    /// <c>exec/ID/exec_log</c> in the container's directory, as conmon's exec log) and the report
    /// carries the session ID podman prints.
    /// </summary>
    public ExecReport Exec(ExecOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);

        // podman's order: the env files, the container, the command, the container's state.
        var fromFiles = options.EnvFiles.SelectMany(f => EnvFile.Read(f, Env.Get, EnvFile.ProcessEnvironment)).ToList();
        var c = options.Latest ? Latest() : Lookup(options.Container ?? throw new WharfException("exec requires the name or ID of a container or the --latest flag"));

        // podman's codes: an attached exec that cannot start exits 255 (no command, a stopped
        // container) or 127/126 (a command that cannot run); a detached one exits 125 for all of them.
        if (options.Command.Count == 0)
        {
            throw new WharfException("must provide a non-empty command to start an exec session: invalid argument", options.Detach ? 125 : 255);
        }

        if (c.State != ContainerStates.Running)
        {
            throw new WharfException("can only create exec sessions on running containers: container state improper", options.Detach ? 125 : 255);
        }

        string rootfs = Store.RootfsPath(c);
        var env = new List<string>(c.Settings.Env);
        void Set(string entry) => EnvFile.Set(env, entry, Env.Get);

        foreach (string entry in fromFiles)
        {
            Set(entry);
        }

        foreach (string e in options.Env)
        {
            Set(e);
        }

        string cwd = options.Workdir ?? c.Settings.WorkingDir;
        if (ExecFailure(c, rootfs, options.Command[0], cwd, env) is { } failure)
        {
            throw options.Detach ? new WharfException(failure.Message, 125) : failure;
        }

        var (uid, gid, _, _) = RootfsPaths.ResolveUser(rootfs, options.User ?? c.Settings.User);
        var args = new List<string> { "exec", "--cwd", cwd, "--user", $"{uid}:{gid}" };
        if (options.Tty && !options.Detach)
        {
            args.Add("--tty");
        }

        foreach (string e in env)
        {
            args.AddRange(["--env", e]);
        }

        if (options.Detach)
        {
            return new ExecReport(0, ExecDetached(c, args, options.Command));
        }

        args.Add(c.Id);
        args.AddRange(options.Command);
        var psi = Runtime.StartInfo([.. args]);
        bool closeStdin = !options.Interactive && !options.Tty;
        psi.RedirectStandardInput = closeStdin;
        Console.Out.Flush();
        using var process = Process.Start(psi) ?? throw new WharfException($"starting {Runtime.Path}");
        if (closeStdin)
        {
            process.StandardInput.Close();
        }

        Event("exec", c);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => ctx.Cancel = true);
        process.WaitForExit();
        Event("exec_died", c);
        return new ExecReport(process.ExitCode, null);
    }

    /// <summary>What runc would answer for a command or working directory that is not there, before runc is asked (podman's text for exec).</summary>
    private static WharfException? ExecFailure(ContainerRecord c, string rootfs, string command, string cwd, List<string> env)
    {
        bool cwdOnMount = c.Mounts.Any(m => cwd == m.Destination || cwd.StartsWith(m.Destination.TrimEnd('/') + "/", StringComparison.Ordinal));
        if (!cwdOnMount && !Directory.Exists(RootfsPaths.Resolve(rootfs, cwd)))
        {
            return new WharfException(
                $"runc: exec failed: unable to start container process: chdir to cwd (\"{cwd}\") set in config.json failed: no such file or directory: OCI runtime attempted to invoke a command that was not found", 127);
        }

        if (RootfsPaths.CheckCommand(rootfs, command, cwd, env, c.Mounts.Select(m => m.Source + ":" + m.Destination)) is { } failure)
        {
            return new WharfException(failure.Message.Replace("runc: runc create failed: ", "runc: exec failed: ", StringComparison.Ordinal), failure.ExitCode);
        }

        return null;
    }

    /// <summary>
    /// <c>exec -d</c>: a session monitor (a shell in its own session, as conmon is podman's) runs
    /// runc exec with the command's output appended to the session's log, and records its exit code;
    /// this returns once runc has started the command (its PID file) or failed to.
    /// </summary>
    private string ExecDetached(ContainerRecord c, List<string> args, IReadOnlyList<string> command)
    {
        static string Q(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
        string id = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        string dir = Path.Combine(Store.ExecSessionsDir(c.Id), id);
        Directory.CreateDirectory(dir);
        string pidFile = Path.Combine(dir, "pid");
        string log = Path.Combine(dir, "exec_log");
        string exit = Path.Combine(dir, "exit");
        string runtime = string.Join(' ', new[] { Runtime.Path }.Concat(Runtime.GlobalArgs).Select(Q));
        string exec = string.Join(' ', args.Concat(["--pid-file", pidFile, c.Id]).Concat(command).Select(Q));
        string died = string.Join(' ', SelfCommand().Select(Q)) + $" container _exec_died {c.Id} >/dev/null 2>&1";
        string script = $"""
            exec </dev/null >>{Q(log)} 2>&1
            {runtime} {exec}
            echo $? > {Q(exit)}.tmp && mv {Q(exit)}.tmp {Q(exit)}
            [ -e {Q(pidFile)} ] && {died}
            """;
        ProcessRunner.Run("setsid", ["-f", "/bin/sh", "-c", script]);

        // Bounded wait for runc to start the command (it writes the PID file) or to give up (the
        // monitor writes the exit file): both appear in the session's directory.
        if (FileWait.Until(() => File.Exists(pidFile) || File.Exists(exit), new WaitSources { Directories = [dir] }, TimeSpan.FromSeconds(30), CancellationToken.None))
        {
            if (File.Exists(pidFile))
            {
                Event("exec", c);
                return id;
            }

            string why = File.Exists(log) ? File.ReadLines(log).LastOrDefault(l => l.Length > 0) ?? string.Empty : string.Empty;
            Directory.Delete(dir, recursive: true);
            throw new WharfException($"runc: {why.Trim()}".TrimEnd(' ', ':'));
        }

        throw new WharfException($"exec session {id} did not start within 30 seconds; see {log}");
    }

    /// <summary>The monitor of a detached exec session reports its end (podman's <c>exec_died</c> event).</summary>
    public void RecordExecDied(string containerId)
    {
        if (Store.TryRead(containerId) is { } c)
        {
            Event("exec_died", c);
        }
    }

    /// <summary>
    /// The detached exec sessions that started, as inspect's ExecIDs: podman keeps a session listed
    /// after its command ended too (one that could not start leaves no session).
    /// </summary>
    private IEnumerable<string> ExecSessions(string containerId)
    {
        string root = Store.ExecSessionsDir(containerId);
        return Directory.Exists(root)
            ? Directory.EnumerateDirectories(root)
                .Where(d => File.Exists(Path.Combine(d, "pid")))
                .Select(Path.GetFileName)
                .OfType<string>()
                .Order(StringComparer.Ordinal)
            : [];
    }

    /// <summary>podman container inspect: podman's main keys.</summary>
    public JsonObject Inspect(string nameOrId)
    {
        var c = Lookup(nameOrId);
        string Time(DateTimeOffset? t) => (t ?? DateTimeOffset.MinValue).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.FFFFFFFZ", CultureInfo.InvariantCulture);
        JsonArray Arr(IEnumerable<string>? items) => new([.. (items ?? []).Select(x => (JsonNode?)x)]);
        bool running = c.State == ContainerStates.Running;
        int pid = (running || c.State == ContainerStates.Paused) && Runtime.State(c.Id) is { } st ? st.Pid : 0;
        var mounts = new JsonArray([.. c.Mounts.Select(m => (JsonNode?)new JsonObject
        {
            ["Type"] = "bind",
            ["Source"] = m.Source,
            ["Destination"] = m.Destination,
            ["RW"] = !m.ReadOnly,
        })]);
        var hostConfig = new JsonObject
        {
            ["AutoRemove"] = c.AutoRemove,
            ["NetworkMode"] = c.Settings.Network,
            ["Binds"] = Arr(c.Mounts.Select(m => $"{m.Source}:{m.Destination}:{(m.ReadOnly ? "ro" : "rw")},rprivate,rbind")),
            ["Devices"] = Arr(c.Settings.Devices),
            ["Ulimits"] = Arr(c.Settings.Ulimits),
        };
        c.Resources.Inspect(hostConfig);
        hostConfig["PortBindings"] = new JsonObject(c.Ports.GroupBy(p => $"{p.ContainerPort}/{p.Protocol}").Select(g => KeyValuePair.Create(g.Key,
            (JsonNode?)new JsonArray([.. g.Select(p => (JsonNode?)new JsonObject { ["HostIp"] = p.HostIp, ["HostPort"] = p.HostPort.ToString(CultureInfo.InvariantCulture) })]))));
        hostConfig["Privileged"] = c.RuntimeFlags.Privileged;
        hostConfig["Init"] = c.RuntimeFlags.Init;
        hostConfig["RestartPolicy"] = new JsonObject { ["Name"] = c.RuntimeFlags.Restart, ["MaximumRetryCount"] = c.RuntimeFlags.RestartRetries };
        hostConfig["LogConfig"] = new JsonObject { ["Type"] = c.RuntimeFlags.LogDriver, ["Config"] = null, ["Path"] = LogPathOf(c), ["Tag"] = string.Empty, ["Size"] = "0B" };
        return new JsonObject
        {
            ["Id"] = c.Id,
            ["Created"] = Time(c.Created),
            ["Path"] = c.Command[0],
            ["Args"] = Arr(c.Command.Skip(1)),
            ["State"] = new JsonObject
            {
                ["Status"] = c.State,
                ["Running"] = running,
                ["Paused"] = c.State == ContainerStates.Paused,
                ["Restarting"] = false,
                ["OOMKilled"] = false,
                ["Dead"] = false,
                ["Pid"] = pid,
                ["ExitCode"] = c.ExitCode,
                ["Error"] = string.Empty,
                ["StartedAt"] = Time(c.StartedAt),
                ["FinishedAt"] = Time(c.FinishedAt),
                ["Health"] = new JsonObject { ["Status"] = string.Empty, ["FailingStreak"] = 0, ["Log"] = null },
            },
            ["Image"] = c.ImageId,
            ["ImageName"] = c.ImageName,
            ["Name"] = c.Name,
            ["Driver"] = c.RootfsDriver,
            ["OCIRuntime"] = Path.GetFileName(Runtime.Path),
            ["RestartCount"] = File.Exists(RestartsPath(c.Id)) && int.TryParse(File.ReadAllText(RestartsPath(c.Id)).Trim(), CultureInfo.InvariantCulture, out int restarts) ? restarts : 0,
            ["ExecIDs"] = Arr(ExecSessions(c.Id)),
            ["Mounts"] = mounts,
            ["Dependencies"] = new JsonArray(),
            ["IsInfra"] = false,
            ["IsService"] = false,
            ["GraphDriver"] = new JsonObject
            {
                ["Name"] = c.RootfsDriver,
                ["Data"] = new JsonObject
                {
                    ["LowerDir"] = string.Join(':', c.LowerDirs),
                    ["UpperDir"] = Store.Upper(c.Id),
                    ["WorkDir"] = Store.Work(c.Id),
                    ["MergedDir"] = Store.RootfsPath(c),
                },
            },
            ["Config"] = new JsonObject
            {
                ["Hostname"] = c.Settings.Hostname,
                ["Domainname"] = string.Empty,
                ["User"] = c.Settings.User,
                ["AttachStdin"] = false,
                ["AttachStdout"] = false,
                ["AttachStderr"] = false,
                ["Tty"] = c.Terminal,
                ["OpenStdin"] = c.Settings.Interactive,
                ["StdinOnce"] = false,
                ["Env"] = Arr(c.Settings.Env),
                ["Cmd"] = c.Settings.Cmd is null ? null : Arr(c.Settings.Cmd),
                ["Image"] = c.ImageName,
                ["Volumes"] = null,
                ["WorkingDir"] = c.Settings.WorkingDir,

                // podman 4.3 types: the entrypoint one string, the stop signal its number.
                ["Entrypoint"] = string.Join(' ', c.Settings.Entrypoint ?? []),
                ["OnBuild"] = null,
                ["Labels"] = c.Settings.Labels is { } labels ? new JsonObject(labels.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))) : null,
                ["Annotations"] = new JsonObject(),
                ["StopSignal"] = Signals.Parse(c.StopSignal),
                ["Umask"] = "0022",
                ["Timeout"] = 0,
                ["StopTimeout"] = 10,
                ["Passwd"] = true,
            },
            ["HostConfig"] = hostConfig,
            ["BundlePath"] = Store.Bundle(c.Id),
            ["LogPath"] = LogPathOf(c),
        };
    }

    /// <summary>The message of the last libc failure, for errors.</summary>
    internal static string LastError() => Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
}

public sealed partial class ContainerLifecycle
{
    /// <summary>CDI spec directories: <c>WHARF_CDI_SPEC_DIRS</c> (colon-separated) or /etc/cdi and /var/run/cdi.</summary>
    private IEnumerable<string> CdiDirs => Env.Get("WHARF_CDI_SPEC_DIRS") is { Length: > 0 } d ? d.Split(':') : Cdi.DefaultSpecDirs;

    /// <summary><c>--device</c>: CDI names through their specs; <c>/dev/x[:/dev/y[:perms]]</c> as host device nodes.</summary>
    private DeviceEdits DeviceEditsFor(IReadOnlyList<string> devices)
    {
        var edits = new DeviceEdits();
        var cdi = devices.Where(Cdi.IsCdiName).ToList();
        if (cdi.Count > 0)
        {
            Cdi.Apply(cdi, CdiDirs, edits);
        }

        foreach (string d in devices.Where(d => !Cdi.IsCdiName(d)))
        {
            string[] parts = d.Split(':');
            string host = parts[0];
            string inside = parts.Length > 1 && parts[1].StartsWith('/') ? parts[1] : host;
            string perms = parts.Length > 2 ? parts[2] : parts.Length == 2 && !parts[1].StartsWith('/') ? parts[1] : "rwm";
            edits.Nodes.Add(Cdi.HostDevice(host, inside, perms));
        }

        return edits;
    }
}
