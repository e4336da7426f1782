using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Wharf.Client.Processes;

namespace Wharf.Engine.Containers;

public sealed partial class ContainerLifecycle
{
    /// <summary>
    /// Starts a created or exited container. Attached: runc runs in the foreground with wharf's own
    /// stdio (runc drives the terminal for -t) and the container's exit code is returned. Detached:
    /// a background shell waits on runc, writes the exit code and unmounts; output goes to the k8s-file log.
    /// </summary>
    public async Task<int> StartAsync(string nameOrId, bool attach, bool interactive, CancellationToken cancellationToken)
    {
        var c = Lookup(nameOrId);
        if (c.State == ContainerStates.Running)
        {
            if (attach)
            {
                throw new WharfException($"container {c.Id} is already running: container state improper");
            }

            return 0;
        }

        await WaitMonitorGoneAsync(c, cancellationToken).ConfigureAwait(false);
        await PrepareAsync(c, cancellationToken).ConfigureAwait(false);
        File.Delete(Store.ExitPath(c.Id));
        File.Delete(StoppedPath(c.Id));
        Runtime.Delete(c.Id);

        // The previous run's detached exec sessions (their logs too) go with it, as podman's do.
        string sessions = Store.ExecSessionsDir(c.Id);
        if (Directory.Exists(sessions))
        {
            Directory.Delete(sessions, recursive: true);
        }

        return attach ? RunAttached(c, interactive) : RunDetached(c);
    }

    /// <summary>Mounts the root filesystem, resolves user and command inside it, and writes bundle/config.json.</summary>
    private async Task PrepareAsync(ContainerRecord c, CancellationToken cancellationToken)
    {
        await Engine.Mounts.MountAsync(c, cancellationToken).ConfigureAwait(false);
        try
        {
            string rootfs = Store.RootfsPath(c);
            var keepId = c.Settings.UserNs == "keep-id" ? Rootless.KeepId.HostIds() : null;
            string userSpec = keepId is { } ids && c.Settings.User.Length == 0
                ? $"{ids.Uid}:{ids.Gid}"
                : c.Settings.User;
            var (uid, gid, groups, home) = RootfsPaths.ResolveUser(rootfs, userSpec);
            var binds = new List<(string Source, string Destination)>();
            if (keepId is not null || c.Settings.PasswdEntry is not null)
            {
                if (KeepIdPasswd(c, rootfs, uid, gid, ref home) is { } passwd)
                {
                    binds.Add((passwd, "/etc/passwd"));
                }
            }

            if (c.Settings.GroupEntries is { Count: > 0 } groupEntries && ExtraGroups(c, rootfs, groupEntries) is { } groupFile)
            {
                binds.Add((groupFile, "/etc/group"));
            }

            var env = new List<string>(c.Settings.Env);
            if (!env.Any(e => e.StartsWith("HOME=", StringComparison.Ordinal)))
            {
                env.Add("HOME=" + home);
            }

            env.RemoveAll(e => e.StartsWith("HOSTNAME=", StringComparison.Ordinal));
            env.Add("HOSTNAME=" + c.Settings.Hostname);
            var devices = DeviceEditsFor(c.Settings.Devices);
            if (Slirp.Is(c.Settings.Network))
            {
                devices.Hooks.Add(Slirp.Hook(Store.Dir(c.Id), c.Settings.Network, c.Ports.Count > 0 ? Store.SlirpSocket(c.Id) : null));
            }
            WorkingDirectory.Ensure(rootfs, c);
            if (RootfsPaths.CheckCommand(rootfs, c.Command[0], c.Settings.WorkingDir, env.Concat(devices.Env), c.Mounts.Select(m => m.Source + ":" + m.Destination)) is { } failure)
            {
                throw failure;
            }

            var spec = RuntimeSpec.Build(new RuntimeSpec.Input
            {
                Container = c,
                Rootfs = rootfs,
                UserData = Store.UserData(c.Id),
                Args = c.Command,
                Env = env,
                Cwd = c.Settings.WorkingDir,
                Uid = uid,
                Gid = gid,
                AdditionalGids = groups,
                Hostname = c.Settings.Hostname,
                Terminal = c.Terminal,
                Devices = devices,
                Binds = binds,
                CgroupLimits = ResourceLimits.UnsupportedReason(Env.IsRoot) is null,
                MappedGids = Env.IsRoot ? null : Rootless.KeepId.Available("/proc/self/gid_map"),
                UidMappings = keepId is null ? null : Rootless.KeepId.Mappings(uid, Rootless.KeepId.Available("/proc/self/uid_map")),
                GidMappings = keepId is null ? null : Rootless.KeepId.Mappings(gid, Rootless.KeepId.Available("/proc/self/gid_map")),
            });
            Directory.CreateDirectory(Store.Bundle(c.Id));
            string temp = Path.Combine(Store.Bundle(c.Id), "config.json.tmp");
            await File.WriteAllBytesAsync(temp, System.Text.Encoding.UTF8.GetBytes(spec.ToJsonString()), cancellationToken).ConfigureAwait(false);
            File.Move(temp, Path.Combine(Store.Bundle(c.Id), "config.json"), overwrite: true);
        }
        catch
        {
            Engine.Mounts.Unmount(c);
            throw;
        }
    }

    /// <summary>
    /// keep-id runs as the user's own UID, which the image seldom names: like podman, give it a
    /// passwd line (the user's name and home) in a copy of the image's /etc/passwd; null when the
    /// image already has one.
    /// </summary>
    private string? KeepIdPasswd(ContainerRecord c, string rootfs, uint uid, uint gid, ref string home)
    {
        string image = RootfsPaths.Resolve(rootfs, "/etc/passwd");
        string text = File.Exists(image) ? File.ReadAllText(image) : string.Empty;
        string id = uid.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (text.Split('\n').Any(l => l.Split(':') is { Length: > 3 } f && f[2] == id))
        {
            return null;
        }

        string line;
        if (c.Settings.PasswdEntry is { } given)
        {
            // The caller's line names the user (a job's wrapper gives the submitting user's name and home).
            line = given;
            home = given.Split(':') is { Length: > 5 } f && f[5].Length > 0 ? f[5] : home;
        }
        else
        {
            home = Env.Get("HOME") ?? "/";
            string name = Env.Get("USER") is { Length: > 0 } u && !u.Contains(':', StringComparison.Ordinal) ? u : "user";
            line = $"{name}:*:{id}:{gid}:{name}:{home}:/bin/sh";
        }

        if (text.Length > 0 && !text.EndsWith('\n'))
        {
            text += "\n";
        }

        string path = Path.Combine(Store.UserData(c.Id), "passwd");
        File.WriteAllText(path, text + line + "\n");
        return path;
    }

    /// <summary>A copy of the image's /etc/group with the given lines whose GIDs it lacks; null when it lacks none.</summary>
    private string? ExtraGroups(ContainerRecord c, string rootfs, IReadOnlyList<string> entries)
    {
        string image = RootfsPaths.Resolve(rootfs, "/etc/group");
        string text = File.Exists(image) ? File.ReadAllText(image) : string.Empty;
        var known = text.Split('\n').Select(l => l.Split(':')).Where(f => f.Length > 2).SelectMany(f => new[] { "gid:" + f[2], "name:" + f[0] }).ToHashSet(StringComparer.Ordinal);
        var added = entries.Where(e => e.Split(':') is { Length: > 2 } f && !known.Contains("gid:" + f[2]) && !known.Contains("name:" + f[0])).ToList();
        if (added.Count == 0)
        {
            return null;
        }

        if (text.Length > 0 && !text.EndsWith('\n'))
        {
            text += "\n";
        }

        string path = Path.Combine(Store.UserData(c.Id), "group");
        File.WriteAllText(path, text + string.Join('\n', added) + "\n");
        return path;
    }

    private int RunAttached(ContainerRecord c, bool interactive)
    {
        var psi = Runtime.StartInfo("run", "--bundle", Store.Bundle(c.Id), c.Id);
        bool closeStdin = !interactive && !c.Terminal;
        bool holdStdin = false;
        bool pumpStdin = false;
        if (c.Terminal && !HasControllingTerminal())
        {
            // -t without a terminal (a script, CI): runc hands the container's terminal over through
            // its own, which it opens as /dev/tty. As podman (whose conmon makes the terminal) the
            // container still gets one: script(1) is the terminal runc runs in, and what the container
            // prints comes out with the terminal's \r\n. podman warns when -i asks for the missing input.
            if (interactive && Console.IsInputRedirected)
            {
                Progress("WARN[0000] The input device is not a TTY. The --tty and --interactive flags might not work properly");
            }

            string scriptTool = RootfsMount.FindTool("script")
                ?? throw new WharfException("-t without a terminal needs script(1): install bsdutils (or util-linux)");
            string Q(string word) => "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
            string command = string.Join(' ', new[] { psi.FileName }.Concat(psi.ArgumentList).Select(Q));
            psi = new ProcessStartInfo(scriptTool) { UseShellExecute = false };
            foreach (string a in new[] { "-qfec", "exec " + command, "/dev/null" })
            {
                psi.ArgumentList.Add(a);
            }

            // Without -i the container's terminal gets no input, and no end-of-file either (script(1)
            // would type one into it at the end of its own stdin): an open pipe that is never written.
            // With -i wharf's input is copied into that pipe, which stays open after its end.
            holdStdin = true;
            pumpStdin = interactive;
        }

        psi.RedirectStandardInput = closeStdin || holdStdin;
        Console.Out.Flush();
        Console.Error.Flush();
        // The output is also the log's (podman's conmon tees it). With a terminal runc copies the
        // container's terminal to its own stdout (stderr is the same terminal), so that one pipe is
        // teed: one stream, "stdout", with the terminal's \r\n restored, as podman's log has.
        bool logging = c.RuntimeFlags.LogDriver is "k8s-file" or "json-file";
        psi.RedirectStandardOutput = logging;
        psi.RedirectStandardError = logging && !c.Terminal;

        // Recorded as running before the runtime is started, with wharf as its monitor: a wharf
        // killed from here on leaves a record that the next reader reconciles with the runtime
        // (ContainerStore.Refresh: a runtime still creating it, or its live init, keep it running),
        // never a container the runtime runs while the record says it was only created.
        c.State = ContainerStates.Running;
        c.StartedAt = Now;
        c.MonitorPid = Environment.ProcessId;
        Store.Write(c);
        using var process = Process.Start(psi) ?? throw new WharfException($"starting {Runtime.Path}");
        PauseForTest(process.Id);
        if (closeStdin)
        {
            process.StandardInput.Close();
        }
        else if (pumpStdin)
        {
            var into = process.StandardInput.BaseStream;
            _ = Task.Run(async () =>
            {
                try
                {
                    using var from = Console.OpenStandardInput();
                    byte[] buffer = new byte[4096];
                    int n;
                    while ((n = await from.ReadAsync(buffer).ConfigureAwait(false)) > 0)
                    {
                        await into.WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
                        await into.FlushAsync().ConfigureAwait(false);
                    }
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException)
                {
                    // The container is gone.
                }
            });
        }

        using var log = logging ? new ContainerLogWriter(LogPathOf(c), c.RuntimeFlags.LogSizeMax) : null;
        var pumps = log is null
            ? Task.CompletedTask
            : c.Terminal
                ? Task.Run(() => log.PumpAsync(process.StandardOutput.BaseStream, "stdout", Console.OpenStandardOutput(), terminal: true, CancellationToken.None))
                : Task.WhenAll(
                    Task.Run(() => log.PumpAsync(process.StandardOutput.BaseStream, "stdout", Console.OpenStandardOutput(), CancellationToken.None)),
                    Task.Run(() => log.PumpAsync(process.StandardError.BaseStream, "stderr", Console.OpenStandardError(), CancellationToken.None)));

        var publishing = c.Ports.Count > 0 ? Task.Run(() => PublishPorts(c, process)) : Task.CompletedTask;

        // --timeout: the runtime kills the container; podman records -1 for it (exit status 255).
        bool timedOut = false;
        using var timeout = c.RuntimeFlags.Timeout > 0
            ? new Timer(_ =>
            {
                timedOut = true;
                try
                {
                    Runtime.Kill(c.Id, "KILL");
                }
                catch (WharfException)
                {
                    // Already gone.
                }
            }, null, TimeSpan.FromSeconds(c.RuntimeFlags.Timeout), Timeout.InfiniteTimeSpan)
            : null;
        Event("init", c);
        Event("start", c);
        Event("attach", c);

        // Ctrl-C reaches runc through the terminal's process group; a TERM or HUP sent to wharf alone is passed on.
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => ctx.Cancel = true);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            ContainerNative.Kill(process.Id, 15);
        });
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, ctx =>
        {
            ctx.Cancel = true;
            ContainerNative.Kill(process.Id, 1);
        });
        process.WaitForExit();
        // What the container wrote last is still in the pipes: bounded, as a process it left behind may hold them open.
        pumps.Wait(TimeSpan.FromSeconds(10));
        timeout?.Change(Timeout.Infinite, Timeout.Infinite);
        int code = timedOut ? -1 : process.ExitCode;
        publishing.Wait(TimeSpan.FromSeconds(15));
        Slirp.Stop(Store.Dir(c.Id));
        Store.DeleteSlirpSocket(c.Id);
        File.WriteAllText(Store.ExitPath(c.Id), code.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var fresh = Store.TryRead(c.Id) ?? c;
        fresh.State = ContainerStates.Exited;
        fresh.ExitCode = code;
        fresh.FinishedAt = Now;
        Store.Write(fresh);
        Event("died", fresh, code);
        Engine.Mounts.Unmount(fresh);
        Event("cleanup", fresh);
        if (fresh.AutoRemove)
        {
            Remove(fresh, force: true);
        }

        return code;
    }

    /// <summary>Whether this process has a terminal runc can open as /dev/tty.</summary>
    private static bool HasControllingTerminal()
    {
        try
        {
            using var tty = new FileStream("/dev/tty", FileMode.Open, FileAccess.ReadWrite);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Test hook (<c>_WHARF_TEST_PAUSE_AFTER_RUNTIME_START=1</c>): stops the runtime before it can
    /// create the container, says so on stderr (<c>paused: runtime PID</c>) and waits forever, so
    /// a test kills wharf at the instant between the running record and the runtime's container.
    /// </summary>
    private void PauseForTest(int runtimePid)
    {
        if (Env.Get("_WHARF_TEST_PAUSE_AFTER_RUNTIME_START") != "1")
        {
            return;
        }

        ContainerNative.Kill(runtimePid, 19);
        Console.Error.WriteLine($"paused: runtime {runtimePid}");
        Console.Error.Flush();
        Thread.Sleep(Timeout.Infinite);
    }

    private int RunDetached(ContainerRecord c)
    {
        string Q(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
        string runtime = string.Join(' ', new[] { Runtime.Path }.Concat(Runtime.GlobalArgs).Select(Q));
        string exit = Store.ExitPath(c.Id);
        string unmount = c.RootfsDriver switch
        {
            "copy" => ":",
            "fuse-overlayfs" => $"fusermount3 -u {Q(Store.Merged(c.Id))} 2>/dev/null || umount -l {Q(Store.Merged(c.Id))}",
            _ => $"umount -l {Q(Store.Merged(c.Id))}",
        };
        string remove = c.AutoRemove ? string.Join(' ', SelfCommand().Select(Q)) + $" rm -f {c.Id} >/dev/null 2>&1" : ":";
        string run = $"{runtime} run --bundle {Q(Store.Bundle(c.Id))} {c.Id}";
        if (c.Terminal)
        {
            // -dt: runc wants a terminal of its own to hand the container's over; script(1) gives it one
            // and writes what the container prints (with the terminal's \r\n, as podman's log has) to the log.
            if (RootfsMount.FindTool("script") is not { } scriptTool)
            {
                throw new WharfException("a detached container with a terminal (-dt) needs script(1): install bsdutils (or util-linux)");
            }

            // Its stdin is a FIFO opened read-write, which never ends: at the end of /dev/null script(1) would
            // type an end-of-file into the container's raw terminal.
            string input = Path.Combine(Store.Dir(c.Id), "tty.in");
            run = $"rm -f {Q(input)}; mkfifo {Q(input)} && {Q(scriptTool)} -qfec {Q(run)} /dev/null 0<>{Q(input)}";
        }

        string timedOut = Path.Combine(Store.Dir(c.Id), "timedout");
        string watchdog = c.RuntimeFlags.Timeout > 0
            ? $"rm -f {Q(timedOut)}; sh -c {Q($"trap 'kill $s; exit' TERM; sleep {c.RuntimeFlags.Timeout} & s=$!; wait $s; touch \"$0\"; {runtime} kill {c.Id} KILL")} {Q(timedOut)} & wd=$!"
            : "wd=";
        // --restart: podman's conmon has the container restarted when it exits, unless stop or kill ended it.
        string restart = c.RuntimeFlags.Restart switch
        {
            "always" or "unless-stopped" => "true",
            "on-failure" when c.RuntimeFlags.RestartRetries > 0 => $"[ $rc -ne 0 ] && [ $n -lt {c.RuntimeFlags.RestartRetries} ]",
            "on-failure" => "[ $rc -ne 0 ]",
            _ => "false",
        };
        // The output goes through wharf's log writer (conmon's part in podman): a FIFO per stream, so
        // each record says which stream it came from.
        string outFifo = Path.Combine(Store.Dir(c.Id), "log.stdout");
        string errFifo = Path.Combine(Store.Dir(c.Id), "log.stderr");
        string logger = c.RuntimeFlags.LogDriver is "k8s-file" or "json-file"
            ? $"rm -f {Q(outFifo)} {Q(errFifo)}; mkfifo {Q(outFifo)} {Q(errFifo)}; {string.Join(' ', SelfCommand().Select(Q))} container _log {Q(LogPathOf(c))} {c.RuntimeFlags.LogSizeMax} {Q(outFifo)} {Q(errFifo)} & lw=$!"
            : "lw=";
        string output = c.RuntimeFlags.LogDriver is "k8s-file" or "json-file" ? $">{Q(outFifo)} 2>{Q(errFifo)}" : ">/dev/null 2>&1";
        string stopped = StoppedPath(c.Id);
        string restarts = RestartsPath(c.Id);
        string script = $"""
            exec </dev/null >/dev/null 2>&1
            echo $$ > {Q(Store.MonitorPidPath(c.Id))}
            n=0; rm -f {Q(restarts)}
            while :; do
            {watchdog}
            {logger}
            ({run}) {output}
            rc=$?
            [ -n "$lw" ] && wait $lw
            rm -f {Q(outFifo)} {Q(errFifo)}
            [ -n "$wd" ] && kill $wd 2>/dev/null
            [ -e {Q(timedOut)} ] && rc=-1 && rm -f {Q(timedOut)}
            {Slirp.StopCommand(Store.Dir(c.Id))}
            [ -e {Q(stopped)} ] && break
            {restart} || break
            n=$((n+1)); echo $n > {Q(restarts)}
            {runtime} delete --force {c.Id} >/dev/null 2>&1
            done
            echo $rc > {Q(exit)}.tmp && mv {Q(exit)}.tmp {Q(exit)}
            rm -f {Q(Store.SlirpSocket(c.Id))}
            {unmount} 2>/dev/null
            {remove}
            """;
        File.Delete(Store.MonitorPidPath(c.Id));
        // setsid -f returns at once; the monitor's first line lets go of the runner's pipes.
        ProcessRunner.Run("setsid", ["-f", "/bin/sh", "-c", script]);

        // Bounded wait (30 seconds in all) for the monitor to report and runc to have started (or
        // already finished) the container. Not cancellable: once the monitor runs, leaving before it
        // has reported would leave a running container recorded as created.
        var clock = Stopwatch.StartNew();
        var limit = TimeSpan.FromSeconds(30);
        int monitor = 0;
        bool MonitorReported() =>
            File.Exists(Store.MonitorPidPath(c.Id)) && int.TryParse(File.ReadAllText(Store.MonitorPidPath(c.Id)).Trim(), out monitor);
        if (FileWait.Until(MonitorReported, new WaitSources { Directories = [Store.Dir(c.Id)] }, limit, CancellationToken.None))
        {
            c.State = ContainerStates.Running;
            c.StartedAt = Now;
            c.MonitorPid = monitor;
            Store.Write(c);
            Event("init", c);
            Event("start", c);

            // The exit file appears in the container's directory; runc makes the container's state
            // directory under its root and removes exec.fifo there once the command runs. The
            // runtime's answer is the test, so another runtime's layout is found by the recheck.
            var started = new WaitSources
            {
                Directories = [Store.Dir(c.Id), Path.GetDirectoryName(Runtime.StateRoot)!, Runtime.StateRoot, Path.Combine(Runtime.StateRoot, c.Id)],
                Recheck = FileWait.RuntimeRecheck,
            };
            if (FileWait.Until(() => File.Exists(exit) || Runtime.State(c.Id) is { Status: "running" }, started, limit - clock.Elapsed, CancellationToken.None))
            {
                if (c.Ports.Count > 0)
                {
                    PublishPorts(c, null);
                }

                return 0;
            }
        }

        throw new WharfException($"container {c.Name} did not start within 30 seconds; see {LogPathOf(c)}");
    }

    /// <summary>
    /// Asks the container's slirp4netns to forward each published port, once its API socket is up
    /// (it is made before slirp4netns reports ready, so before the command runs). A failure is
    /// reported, not fatal: the container runs, as podman's does when a port cannot be forwarded.
    /// </summary>
    private void PublishPorts(ContainerRecord c, Process? runtime)
    {
        string socket = Store.SlirpSocket(c.Id);
        var sources = new WaitSources
        {
            Directories = [Path.GetDirectoryName(socket)!, Store.Dir(c.Id)],
            Processes = runtime is null ? [] : [runtime.Id],
        };
        FileWait.Until(() => File.Exists(socket) || runtime is { HasExited: true } || File.Exists(Store.ExitPath(c.Id)), sources, TimeSpan.FromSeconds(15), CancellationToken.None);
        if (!File.Exists(socket))
        {
            return;
        }

        foreach (var port in c.Ports)
        {
            try
            {
                port.Forward(socket);
            }
            catch (Exception e) when (e is WharfException or System.Net.Sockets.SocketException or JsonException)
            {
                Progress($"Error: {e.Message}");
            }
        }
    }

    /// <summary>Marks that stop, kill or rm ended the container: its restart policy does not apply then.</summary>
    private string StoppedPath(string id) => Path.Combine(Store.Dir(id), "stopped");

    /// <summary>How often the monitor restarted the container (inspect's RestartCount).</summary>
    private string RestartsPath(string id) => Path.Combine(Store.Dir(id), "restarts");

    private void MarkStopped(ContainerRecord c)
    {
        if (c.RuntimeFlags.Restart.Length > 0 && Directory.Exists(Store.Dir(c.Id)))
        {
            File.WriteAllText(StoppedPath(c.Id), string.Empty);
        }
    }

    /// <summary>How to run this wharf again (for --rm of a detached container): the apphost, or dotnet with the entry assembly.</summary>
    private string[] SelfCommand()
    {
        string exe = Environment.ProcessPath ?? "wharf";
        var args = new List<string> { exe };
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet" && Environment.GetCommandLineArgs()[0] is { Length: > 0 } dll)
        {
            args.Add(dll);
        }

        args.AddRange(["--root", Images.Storage.GraphRoot, "--runroot", Images.Storage.RunRoot]);
        return [.. args];
    }

    /// <summary>podman run: create, then start attached unless detached; returns the container's exit code (0 when detached).</summary>
    public async Task<(ContainerRecord Container, int ExitCode)> RunAsync(CreateOptions options, bool detach, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var c = await Engine.Creator.CreateAsync(options, cancellationToken).ConfigureAwait(false);
        try
        {
            int code = await StartAsync(c.Id, attach: !detach, options.Interactive, cancellationToken).ConfigureAwait(false);
            return (c, code);
        }
        catch (WharfException) when (options.Remove)
        {
            Remove(Store.TryRead(c.Id) ?? c, force: true);
            throw;
        }
    }
}
