using System.Globalization;
using System.Runtime.InteropServices;
using Wharf.Client;
using Wharf.Client.Processes;
using Wharf.Content.Layers;
using Wharf.Engine.Containers;

namespace Wharf.Engine.Jobs;

/// <summary>What <c>wharf job exec</c> is given beyond its environment.</summary>
public sealed record JobExecOptions
{
    public string? Image { get; init; }

    public IReadOnlyList<string> Command { get; init; } = [];

    public IReadOnlyList<string> Env { get; init; } = [];

    public IReadOnlyList<string> Volumes { get; init; } = [];

    public string? Workdir { get; init; }

    public bool? TlsVerify { get; init; }

    /// <summary>The environment wharf job exec was started with (the step's), for the variables passed on.</summary>
    public IReadOnlyDictionary<string, string> Variables { get; init; } = new Dictionary<string, string>();

    /// <summary>How to run this wharf again (with its global flags), for the reaper; none when empty.</summary>
    public IReadOnlyList<string> Self { get; init; } = [];
}

/// <summary>
/// The node-side wrapper a Slurm step runs: the image from <c>WHARF_IMAGE</c> (or <c>KUBE_IMAGE</c>),
/// run as the submitting user with the group of the data volume, <c>$HOME</c>, the data volume,
/// the submit directory and the site paths mounted at the same paths, the allocated GPUs as CDI
/// devices; output goes to this process's stdout (the job's log), the exit code is the container's,
/// and the container is removed on exit and on SIGTERM.
/// </summary>
public static class JobExec
{
    /// <summary>First of the WHARF_ name and the cluster's older KUBE_ name.</summary>
    public static string? Setting(HostEnvironment env, string suffix)
    {
        ArgumentNullException.ThrowIfNull(env);
        return env.Get("WHARF_" + suffix) is { Length: > 0 } w ? w : env.Get("KUBE_" + suffix) is { Length: > 0 } k ? k : null;
    }

    /// <summary>
    /// Seconds allowed for pull and create, and the words naming where they came from: the variable
    /// the user set (WHARF_INIT_TIMEOUT, else the cluster's KUBE_INIT_TIMEOUT), or the default.
    /// A value that is not a positive number of seconds is refused with the variable's own name.
    /// </summary>
    public static (int Seconds, string Source) InitTimeout(HostEnvironment env)
    {
        ArgumentNullException.ThrowIfNull(env);
        foreach (string name in new[] { "WHARF_INIT_TIMEOUT", "KUBE_INIT_TIMEOUT" })
        {
            if (env.Get(name) is { Length: > 0 } value)
            {
                if (!int.TryParse(value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int seconds) || seconds <= 0)
                {
                    throw new WharfException($"{name}={value}: not a positive whole number of seconds");
                }

                return (seconds, name);
            }
        }

        return (600, "the default; set WHARF_INIT_TIMEOUT or KUBE_INIT_TIMEOUT");
    }

    /// <summary>
    /// What the container's environment takes from the step's: every <c>SLURM_*</c>/<c>SLURMD_*</c>
    /// variable (the job's view of itself), the <c>KUBE_*</c>/<c>WHARF_*</c> settings the job was
    /// started with, <c>PMI_*</c>/<c>PMIX_*</c>, <c>USER</c>, <c>LOGNAME</c> and <c>HOME</c>. With
    /// GPUs passed, <c>CUDA_VISIBLE_DEVICES</c> numbers the visible ones from 0, as in a Slurm job
    /// whose devices are constrained: only the allocated device nodes exist inside.
    /// </summary>
    public static List<string> PassedVariables(IReadOnlyDictionary<string, string> host, string home, string user, int gpus)
    {
        ArgumentNullException.ThrowIfNull(host);
        string[] prefixes = ["SLURM_", "SLURMD_", "KUBE_", "WHARF_", "PMI_", "PMIX_"];
        var vars = new List<string> { "HOME=" + home };
        vars.Add("USER=" + (host.TryGetValue("USER", out string? u) && u.Length > 0 ? u : user));
        vars.Add("LOGNAME=" + (host.TryGetValue("LOGNAME", out string? l) && l.Length > 0 ? l : user));
        foreach (var (key, value) in host.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (prefixes.Any(p => key.StartsWith(p, StringComparison.Ordinal)))
            {
                vars.Add(key + "=" + value);
            }
        }

        if (gpus > 0)
        {
            vars.Add("CUDA_VISIBLE_DEVICES=" + string.Join(',', Enumerable.Range(0, gpus)));
        }
        else if (host.TryGetValue("CUDA_VISIBLE_DEVICES", out string? cuda))
        {
            vars.Add("CUDA_VISIBLE_DEVICES=" + cuda);
        }

        return vars;
    }

    /// <summary>
    /// Words as the POSIX shell splits them (without expansions): blanks separate, '…' keeps
    /// everything, "…" keeps everything but \\ \" \$ \` escapes, a backslash outside quotes escapes the next
    /// character. An unterminated quote is refused, naming <paramref name="variable"/>.
    /// </summary>
    public static List<string> SplitWords(string text, string variable)
    {
        ArgumentNullException.ThrowIfNull(text);
        var words = new List<string>();
        var word = new System.Text.StringBuilder();
        bool inWord = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c is ' ' or '\t' or '\n')
            {
                if (inWord)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                }

                continue;
            }

            inWord = true;
            if (c == '\'')
            {
                int end = text.IndexOf('\'', i + 1);
                if (end < 0)
                {
                    throw new WharfException($"{variable}: unterminated ' quote");
                }

                word.Append(text, i + 1, end - i - 1);
                i = end;
            }
            else if (c == '"')
            {
                i++;
                while (true)
                {
                    if (i >= text.Length)
                    {
                        throw new WharfException($"{variable}: unterminated \" quote");
                    }

                    if (text[i] == '"')
                    {
                        break;
                    }

                    if (text[i] == '\\' && i + 1 < text.Length && text[i + 1] is '\\' or '"' or '$' or '`')
                    {
                        i++;
                    }
                    else if (text[i] == '\\' && i + 1 < text.Length && text[i + 1] == '\n')
                    {
                        i += 2;
                        continue;
                    }

                    word.Append(text[i]);
                    i++;
                }
            }
            else if (c == '\\')
            {
                if (i + 1 < text.Length)
                {
                    i++;
                    if (text[i] != '\n')
                    {
                        word.Append(text[i]);
                    }
                }
            }
            else
            {
                word.Append(c);
            }
        }

        if (inWord)
        {
            words.Add(word.ToString());
        }

        return words;
    }

    /// <summary>The directories of the step's PMI server sockets (<c>PMIX_SERVER_TMPDIR</c>, <c>PMIX_SYSTEM_TMPDIR</c>, <c>SLURM_PMIX_TMPDIR</c>…) that exist.</summary>
    public static List<string> PmiDirectories(IReadOnlyDictionary<string, string> host)
    {
        ArgumentNullException.ThrowIfNull(host);
        return [.. host.Where(kv => (kv.Key.StartsWith("PMIX_", StringComparison.Ordinal) && kv.Key.EndsWith("TMPDIR", StringComparison.Ordinal)) || kv.Key == "SLURM_PMIX_TMPDIR")
            .Select(kv => kv.Value.TrimEnd('/'))
            .Where(d => d.Length > 1 && Directory.Exists(d))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)];
    }

    /// <summary>SLURM_JOB_GPUS, else CUDA_VISIBLE_DEVICES (<c>0,2</c>) as CDI names <c>nvidia.com/gpu=N</c>.</summary>
    public static List<string> GpuDevices(HostEnvironment env)
    {
        ArgumentNullException.ThrowIfNull(env);
        string? list = env.Get("SLURM_JOB_GPUS") is { Length: > 0 } s ? s : env.Get("CUDA_VISIBLE_DEVICES");
        if (list is null or "NoDevFiles" or "-1")
        {
            return [];
        }

        return [.. list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(g => "nvidia.com/gpu=" + g)];
    }

    /// <summary>Site paths from <c>WHARF_SITE_MOUNTS</c> (colon or comma separated; default <c>/apps</c>), those that exist.</summary>
    public static List<string> SiteMounts(HostEnvironment env)
    {
        ArgumentNullException.ThrowIfNull(env);
        string list = env.Get("WHARF_SITE_MOUNTS") ?? "/apps";
        return [.. list.Split([':', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(Directory.Exists)];
    }

    public static async Task<int> RunAsync(ContainerEngine containers, JobExecOptions options, TextWriter err, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(containers);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(err);
        var env = containers.Images.Environment;
        string image = options.Image ?? Setting(env, "IMAGE")
            ?? throw new WharfException("no image: set WHARF_IMAGE (or KUBE_IMAGE), or give --image");
        var command = options.Command.ToList();
        if (command.Count == 0)
        {
            string script = Setting(env, "SCRIPT") ?? throw new WharfException("no command: set WHARF_SCRIPT (or KUBE_SCRIPT), or give -- COMMAND");
            // The script lives on a bind-mounted path; the runtime resolves a command before the
            // binds are visible to that lookup, so the image's shell execs it from inside.
            command.AddRange(["/bin/sh", "-c", "exec \"$0\" \"$@\"", script]);
            if (Setting(env, "SCRIPT_VARS") is { } scriptVars)
            {
                // The cluster's wrapper passed them through a shell: quotes group words.
                command.AddRange(SplitWords(scriptVars, env.Get("WHARF_SCRIPT_VARS") is { Length: > 0 } ? "WHARF_SCRIPT_VARS" : "KUBE_SCRIPT_VARS"));
            }
        }

        uint uid = Rootless.UserNamespace.GetUid();
        uint gid = Rootless.UserNamespace.GetGid();

        // Rootless (the cluster's normal case) the job runs as the user through keep-id: the user's
        // own UID and primary group inside, files written to mounted data the user's on the host.
        var rootless = Rootless.KeepId.HostIds();
        var mounts = new List<string>();
        void Same(string? path)
        {
            if (path is { Length: > 1 } && Directory.Exists(path) && !mounts.Contains(path + ":" + path))
            {
                mounts.Add(path + ":" + path);
            }
        }

        string? data = Setting(env, "DATA_VOLUME")?.TrimEnd('/');
        if (data is { Length: > 0 })
        {
            if (FileStatus.LStat(data) is not { } st)
            {
                throw new WharfException($"the data volume {data} does not exist");
            }

            if (st.Gid == 0 && uid != 0 && rootless is null)
            {
                throw new WharfException($"the data volume {data} belongs to group 0: its group becomes the container's, so it must be the lab's group");
            }

            gid = st.Gid;
        }

        string home = env.Get("HOME") ?? env.Home;
        Same(home);
        Same(data);
        string? submitDir = env.Get("SLURM_SUBMIT_DIR");
        Same(submitDir);
        foreach (string site in SiteMounts(env))
        {
            Same(site);
        }

        // The process-management interface of the step (PMIx's server sockets) lives in
        // directories slurmstepd names in the environment: the tasks reach it at the same paths.
        foreach (string pmi in PmiDirectories(options.Variables))
        {
            Same(pmi);
        }

        mounts.AddRange(options.Volumes);
        var devices = GpuDevices(env);
        var identity = JobIdentity.For(rootless?.Uid ?? uid, rootless is null ? gid : rootless.Value.Gid, home, env.Get);
        var vars = PassedVariables(options.Variables, home, identity.Name, devices.Count);
        vars.AddRange(options.Env);
        // Each task of the step (srun starts one wrapper per task) runs its own container.
        string name = env.Get("SLURM_JOB_ID") is { Length: > 0 } jobId
            ? $"wharf-slurm-{jobId}-{env.Get("SLURM_STEP_ID") ?? "0"}-{env.Get("SLURM_PROCID") ?? "0"}-{Environment.ProcessId}"
            : $"wharf-exec-{Environment.ProcessId}";
        // scancel sends TERM and, KillWait seconds later, KILL to the whole step: the container must be
        // stopped and removed before that, so the stop timeout is short.
        int stopTimeout = int.TryParse(env.Get("WHARF_STOP_TIMEOUT"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int st2) && st2 >= 0 ? st2 : 1;
        var (timeout, initTimeoutName) = InitTimeout(env);

        var create = new CreateOptions
        {
            Image = image,
            Command = command,
            Name = name,
            Remove = true,
            Env = vars,
            Volumes = mounts,
            // The cluster's wrapper started jobs in $HOME; scripts written for it rely on that.
            Workdir = options.Workdir ?? home,
            User = rootless is null ? uid.ToString(CultureInfo.InvariantCulture) + ":" + gid.ToString(CultureInfo.InvariantCulture) : string.Empty,
            UserNs = rootless is null ? string.Empty : "keep-id",
            Devices = devices,

            // Tasks of one job on a node talk through shared memory (MPI's intra-node transport).
            Ipc = "host",
            PasswdEntry = identity.PasswdEntry,
            GroupEntries = identity.GroupEntries,
            TlsVerify = options.TlsVerify,
            Quiet = true,
        };

        // Every TERM (scancel, a time limit: Slurm sends more than one) and INT ends the wrapper
        // through this one place; the first decides the exit code.
        using var signals = new TerminationSignals(cancellationToken);
        using var startup = CancellationTokenSource.CreateLinkedTokenSource(signals.Token);
        bool finished = false;
        int stopping = 0;
        ContainerRecord? created = null;
        signals.Signalled += () =>
        {
            if (Volatile.Read(ref created) is { } c && Interlocked.Exchange(ref stopping, 1) == 0)
            {
                // The attached run passes TERM on to the container as well; stop makes sure it ends.
                _ = Task.Run(() => StopQuietlyAsync(containers, c.Id, stopTimeout, () => Volatile.Read(ref finished)));
            }
        };

        startup.CancelAfter(TimeSpan.FromSeconds(timeout));
        try
        {
            created = await containers.Creator.CreateAsync(create, startup.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (signals.ExitCode is { } code && e is OperationCanceledException or WharfException or IOException or HttpRequestException or RegistryException)
        {
            // A pull cut short by the signal may fail in any of its layers' words: the signal is the cause.
            await err.WriteLineAsync("wharf job exec: terminated before the container started").ConfigureAwait(false);
            RemoveQuietly(containers, name);
            return code;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await err.WriteLineAsync($"wharf job exec: the container for {image} did not start within {timeout} seconds ({initTimeoutName}); giving up").ConfigureAwait(false);
            RemoveQuietly(containers, name);
            return 2;
        }

        StartReaper(options.Self, created.Id);
        try
        {
            if (signals.ExitCode is { } early)
            {
                await err.WriteLineAsync("wharf job exec: terminated before the container started").ConfigureAwait(false);
                return early;
            }

            int exit = await containers.Lifecycle.StartAsync(created.Id, attach: true, interactive: false, cancellationToken).ConfigureAwait(false);
            if (signals.ExitCode is { } code)
            {
                // Killed by TERM after the grace period (137) or ended by it (143): the signal's code either way.
                await err.WriteLineAsync($"wharf job exec: terminated; the container was stopped (its exit code {exit})").ConfigureAwait(false);
                return code;
            }

            return exit;
        }
        finally
        {
            Volatile.Write(ref finished, true);
            RemoveQuietly(containers, created.Id);
        }
    }

    /// <summary>
    /// TERM through the runtime, then KILL after the timeout, repeated until the attached run has
    /// returned: the runtime is asked directly, whatever the record says (it may not say running
    /// yet), and nothing here throws (the step's pipes may be gone by now).
    /// </summary>
    private static async Task StopQuietlyAsync(ContainerEngine containers, string id, int timeout, Func<bool> finished)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        bool termSent = false;
        while (!finished() && clock.Elapsed < TimeSpan.FromMinutes(2))
        {
            try
            {
                if (!termSent)
                {
                    containers.Runtime.Kill(id, "TERM");
                    termSent = true;
                }
                else if (clock.Elapsed >= TimeSpan.FromSeconds(timeout))
                {
                    containers.Runtime.Kill(id, "KILL");
                }
            }
#pragma warning disable CA1031 // a failed kill is retried; the rm -f in the finally block is the last word
            catch (Exception)
#pragma warning restore CA1031
            {
            }

            // Not a thread parked for two minutes: the loop gives its thread back between looks.
            await Task.Delay(200).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Slurm may SIGKILL the whole step before this wrapper has removed the container (and runc,
    /// reparented, then escapes the step's process tracking). A reaper in its own session
    /// (<c>setsid</c>, so outside the step) waits for this process to end and removes the
    /// container if it is still there.
    /// </summary>
    private static void StartReaper(IReadOnlyList<string> self, string containerId)
    {
        if (self.Count == 0)
        {
            return;
        }

        string[] shell = ["-f", "/bin/sh", "-c", "exec </dev/null >/dev/null 2>&1; exec \"$@\"", "sh"];
        try
        {
            ProcessRunner.Run("setsid", [.. shell, .. self, "job", "_reap", Environment.ProcessId.ToString(CultureInfo.InvariantCulture), containerId]);
        }
        catch (ProgramNotFoundException)
        {
            // Without setsid there is no reaper; the job's own cleanup still runs on a normal end.
        }
    }

    /// <summary>The reaper: waits for <paramref name="pid"/> to exit, then removes the container if it is left.</summary>
    public static async Task ReapAsync(ContainerEngine containers, int pid, string containerId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(containers);
        while (Directory.Exists($"/proc/{pid}") && !IsZombie(pid))
        {
            await Task.Delay(250, cancellationToken).ConfigureAwait(false);
        }

        RemoveQuietly(containers, containerId);
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static void RemoveQuietly(ContainerEngine containers, string id)
    {
        try
        {
            containers.Lifecycle.Remove(id, force: true);
        }
        catch (Exception e) when (e is WharfException or IOException)
        {
        }
    }
}
