using System.Diagnostics;
using System.Globalization;
using Wharf.Client;
using Wharf.Client.Processes;
using Wharf.Engine.Containers;

namespace Wharf.Engine.Jobs;

/// <summary>
/// Batch jobs: submit, list, status, logs, cancel, for the local executor (a supervisor process per
/// job running the container) and the Slurm executor (<see cref="SlurmExecutor"/>).
/// </summary>
public sealed class JobEngine
{
    private readonly ContainerEngine _containers;
    private readonly HostEnvironment _env;

    /// <param name="containers">The container engine jobs run on.</param>
    /// <param name="globalArgs">Global flags (<c>--root</c>, <c>--runroot</c>) a re-run of wharf needs to see the same store.</param>
    public JobEngine(ContainerEngine containers, IReadOnlyList<string> globalArgs)
    {
        ArgumentNullException.ThrowIfNull(containers);
        _containers = containers;
        _env = containers.Images.Environment;
        GlobalArgs = globalArgs ?? [];
        Store = new JobStore(containers.Images.Storage.GraphRoot);
        Slurm = new SlurmExecutor(_env);
    }

    public JobStore Store { get; }

    private DateTimeOffset Now => _containers.Images.Time.GetUtcNow();

    public SlurmExecutor Slurm { get; }

    public ContainerEngine Containers => _containers;

    public IReadOnlyList<string> GlobalArgs { get; }

    /// <summary>How many local jobs run at once: <c>WHARF_JOBS_MAX</c>, else the processor count.</summary>
    public int MaxConcurrent =>
        int.TryParse(_env.Get("WHARF_JOBS_MAX"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : Environment.ProcessorCount;

    /// <summary>How to run this wharf again: the apphost, or dotnet with the entry assembly; then the global flags.</summary>
    public IReadOnlyList<string> SelfCommand()
    {
        string exe = Environment.ProcessPath ?? "wharf";
        var args = new List<string> { exe };
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet" && Environment.GetCommandLineArgs()[0] is { Length: > 0 } dll)
        {
            args.Add(dll);
        }

        args.AddRange(GlobalArgs);
        return args;
    }

    /// <summary>
    /// Resolves the job's image now (a missing image or tag is an error and nothing is recorded),
    /// pins the digest in the spec, then submits it.
    /// </summary>
    public async Task<string> SubmitAsync(JobSpec spec, string workingDirectory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var resolved = await _containers.Images.Registry.ResolveImageAsync(new ResolveImageOptions
        {
            Reference = spec.Image,
            TlsVerify = spec.TlsVerify,
        }, cancellationToken).ConfigureAwait(false);
        return await SubmitResolvedAsync(spec with { ResolvedImage = resolved.Pinned }, workingDirectory, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Records the job and hands it to its executor; returns the job's ID.</summary>
    private async Task<string> SubmitResolvedAsync(JobSpec spec, string workingDirectory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Executor is not ("local" or "slurm"))
        {
            throw new WharfException($"unknown executor \"{spec.Executor}\": local or slurm");
        }

        if (spec.Executor == "local" && spec.Command.Count == 0)
        {
            // The image's own command is fine for a container, but a job states what it runs.
            throw new WharfException("a job needs a command: wharf job submit --image REF -- COMMAND [ARGS...]");
        }

        var job = Store.Locked(() =>
        {
            string id = Store.NextId();
            string Abs(string p) => Path.GetFullPath(p, workingDirectory);
            var j = new JobRecord
            {
                Id = id,
                Spec = spec,
                Submitted = Now,
                LogPath = spec.Output is { } o ? Abs(o) : Path.Combine(Store.Dir(id), "output.log"),
                ErrorPath = spec.Error is { } e ? Abs(e) : null,
            };
            Store.Write(j);
            return j;
        });

        try
        {
            if (spec.Executor == "slurm")
            {
                job.SlurmJobId = await Slurm.SubmitAsync(job, WriteSbatchScript(job), workingDirectory, cancellationToken).ConfigureAwait(false);
                Store.Locked(() => Store.Write(job));
            }
            else
            {
                LaunchSupervisor(job);
            }
        }
        catch
        {
            Store.Delete(job.Id);
            throw;
        }

        return job.Id;
    }

    /// <summary>Every job with its live state.</summary>
    /// <remarks>Slurm is asked once for all the Slurm jobs still going, not once per job.</remarks>
    public IReadOnlyList<JobRecord> List()
    {
        var jobs = Store.List();
        var going = jobs.Where(j => j.Spec.Executor == "slurm" && !JobStates.IsFinal(j.State) && j.SlurmJobId is not null).Select(j => j.SlurmJobId!).ToList();
        var slurm = going.Count > 0 ? Slurm.QueryMany(going) : [];
        return [.. jobs.Select(j => j.Spec.Executor == "slurm" ? RefreshSlurm(j, slurm) : Refresh(j))];
    }

    public JobRecord Status(string id) => Refresh(Store.Read(id));

    /// <summary>The job's output file: for Slurm, its --output pattern as sbatch expanded it (null while that needs the node).</summary>
    public string? OutputFile(JobRecord job) => ExpandedPath(job, job.LogPath);

    public string? ErrorFile(JobRecord job) => job.ErrorPath is { } e ? ExpandedPath(job, e) : null;

    private static string? ExpandedPath(JobRecord job, string path)
    {
        ArgumentNullException.ThrowIfNull(job);
        return job.SlurmJobId is { } id ? SlurmFilePattern.Expand(path, id, job.Name, Environment.UserName, job.SlurmNode) : path;
    }

    /// <summary>
    /// A local job recorded queued or running whose supervisor is gone (killed, or the machine
    /// rebooted) has failed; its container, if any, is removed. A Slurm job asks the scheduler.
    /// </summary>
    public JobRecord Refresh(JobRecord job)
    {
        ArgumentNullException.ThrowIfNull(job);
        if (JobStates.IsFinal(job.State))
        {
            return job;
        }

        if (job.Spec.Executor == "slurm")
        {
            return RefreshSlurm(job);
        }

        // A supervisor that never reported within two minutes of the submission did not start.
        bool neverStarted = job.SupervisorPid == 0 && Now - job.Submitted > TimeSpan.FromMinutes(2);
        if (!neverStarted && (job.SupervisorPid == 0 || SupervisorAlive(job.SupervisorPid)))
        {
            return job;
        }

        var marked = Store.Locked(() =>
        {
            var fresh = Store.Read(job.Id);
            if (JobStates.IsFinal(fresh.State) || (fresh.SupervisorPid != 0 && SupervisorAlive(fresh.SupervisorPid)) || (fresh.SupervisorPid == 0 && !neverStarted))
            {
                return fresh;
            }

            fresh.State = fresh.CancelRequested ? JobStates.Cancelled : JobStates.Failed;
            fresh.Ended = Now;
            fresh.Message = $"the supervising process {fresh.SupervisorPid} is gone";
            Store.Write(fresh);
            return fresh;
        });
        RemoveContainer(marked);
        return marked;
    }

    private JobRecord RefreshSlurm(JobRecord job) =>
        job.SlurmJobId is null ? job : RefreshSlurm(job, Slurm.QueryMany([job.SlurmJobId]));

    /// <summary>
    /// Slurm's word on the job: state, exit code, start and end as Slurm recorded them (not when
    /// wharf happened to look), the node. A job Slurm no longer knows at all is <c>unknown</c>, and
    /// so is one sacct could not be asked about (with sacct's error): asked again on the next look.
    /// </summary>
    private JobRecord RefreshSlurm(JobRecord job, IReadOnlyDictionary<string, SlurmJobInfo> slurm)
    {
        if (job.SlurmJobId is null || JobStates.IsFinal(job.State))
        {
            return job;
        }

        var info = slurm.GetValueOrDefault(job.SlurmJobId);
        if (info?.State is null && (info is not null || job.State == JobStates.Unknown))
        {
            return job;
        }

        return Store.Locked(() =>
        {
            var fresh = Store.Read(job.Id);
            if (JobStates.IsFinal(fresh.State))
            {
                return fresh;
            }

            if (info?.State is not { } state)
            {
                fresh.State = JobStates.Unknown;
                fresh.Message = $"Slurm has no record of job {fresh.SlurmJobId} (squeue, scontrol and sacct)";
                Store.Write(fresh);
                return fresh;
            }

            fresh.State = state;
            fresh.Message = state == JobStates.Unknown ? info.Reason : null;
            fresh.Started = info.Start ?? fresh.Started;
            fresh.SlurmNode = info.Node ?? fresh.SlurmNode;
            if (JobStates.IsFinal(state))
            {
                fresh.Ended = info.End ?? Now;
                fresh.ExitCode = info.ExitCode;
            }

            Store.Write(fresh);
            return fresh;
        });
    }

    /// <summary>Cancels a queued or running job; returns its record once it has ended (bounded wait).</summary>
    public async Task<JobRecord> CancelAsync(string id, CancellationToken cancellationToken)
    {
        var job = Status(id);
        if (JobStates.IsFinal(job.State))
        {
            throw new WharfException($"job {id} has already ended ({job.State})");
        }

        if (job.Spec.Executor == "slurm")
        {
            Slurm.Cancel(job.SlurmJobId ?? throw new WharfException($"job {id} has no Slurm job ID"));
            Store.Locked(() =>
            {
                var fresh = Store.Read(id);
                fresh.CancelRequested = true;
                Store.Write(fresh);
            });
            return await WaitFinalAsync(id, TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
        }

        var now = Store.Locked(() =>
        {
            var fresh = Store.Read(id);
            fresh.CancelRequested = true;
            if (fresh.State == JobStates.Queued)
            {
                fresh.State = JobStates.Cancelled;
                fresh.Ended = Now;
            }

            Store.Write(fresh);
            return fresh;
        });
        if (now.State == JobStates.Running)
        {
            await StopContainerAsync(now, cancellationToken).ConfigureAwait(false);
        }

        var ended = await WaitFinalAsync(id, TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);

        // stop's own bookkeeping can race the run's --rm; make sure nothing of the container is left.
        RemoveContainer(ended);
        return ended;
    }

    /// <summary>Stops the job's container; the supervisor may still be creating it, so a missing one is retried briefly.</summary>
    private async Task StopContainerAsync(JobRecord job, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            try
            {
                var c = _containers.Lookup(job.Container ?? "wharf-job-" + job.Id);
                if (c.State == ContainerStates.Running)
                {
                    _containers.Lifecycle.Stop(c.Id, 10);
                    return;
                }
            }
            catch (WharfException)
            {
            }

            if (JobStates.IsFinal(Status(job.Id).State))
            {
                return;
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<JobRecord> WaitFinalAsync(string id, TimeSpan limit, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var job = Status(id);
            if (JobStates.IsFinal(job.State) || clock.Elapsed > limit)
            {
                return job;
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    private void RemoveContainer(JobRecord job)
    {
        if (job.Container is null)
        {
            return;
        }

        try
        {
            _containers.Lifecycle.Remove(job.Container, force: true);
        }
        catch (Exception e) when (e is WharfException or IOException)
        {
        }
    }

    /// <summary>Streams the job's output (and its error file, when separate); with follow, until the job ends.</summary>
    public async Task LogsAsync(string id, bool follow, Stream output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        var job = Status(id);
        long position = 0;
        while (true)
        {
            bool final = JobStates.IsFinal(job.State);
            if (OutputFile(job) is { } log)
            {
                position = await CopyFromAsync(log, position, output, cancellationToken).ConfigureAwait(false);
            }

            if (!follow || final)
            {
                break;
            }

            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
            job = Status(id);
        }

        if (ErrorFile(job) is { } err)
        {
            await CopyFromAsync(err, 0, output, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<long> CopyFromAsync(string path, long position, Stream output, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            return position;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        stream.Seek(position, SeekOrigin.Begin);
        await stream.CopyToAsync(output, cancellationToken).ConfigureAwait(false);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        return stream.Position;
    }

    /// <summary>
    /// Starts <c>wharf job _supervise ID</c> in its own session (setsid), with stdout and stderr
    /// appended to the job's log files, so it outlives this wharf.
    /// </summary>
    private void LaunchSupervisor(JobRecord job)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(job.LogPath)!);
        string err = job.ErrorPath ?? job.LogPath;
        string[] shell = ["-f", "/bin/sh", "-c", "exec </dev/null >>\"$0\" 2>>\"$1\"; shift; exec \"$@\"", job.LogPath, err];
        var launcher = ProcessRunner.Run("setsid", [.. shell, .. SelfCommand(), "job", "_supervise", job.Id]);
        if (!launcher.Succeeded)
        {
            throw new WharfException($"starting the job's supervisor failed (setsid exited {launcher.ExitCode})");
        }
    }

    /// <summary>
    /// The supervisor of one local job: waits for a slot (the oldest queued jobs go first, at most
    /// <see cref="MaxConcurrent"/> running), runs the container attached (its output is this
    /// process's stdout, the log) and records how it ended.
    /// </summary>
    public async Task<int> SuperviseAsync(string id, CancellationToken cancellationToken)
    {
        string container = "wharf-job-" + id;
        Store.Locked(() =>
        {
            var j = Store.Read(id);
            j.SupervisorPid = Environment.ProcessId;
            Store.Write(j);
        });

        while (true)
        {
            var decision = Store.Locked(() =>
            {
                var j = Store.Read(id);
                if (j.State != JobStates.Queued)
                {
                    return (Start: false, Done: true, Job: j);
                }

                var all = Store.List().Where(x => x.Spec.Executor == "local").ToList();
                int running = all.Count(x => x.State == JobStates.Running && x.SupervisorPid != 0 && SupervisorAlive(x.SupervisorPid));
                var queued = all.Where(x => x.State == JobStates.Queued).ToList();
                int place = queued.FindIndex(x => x.Id == id);
                if (place >= 0 && place < MaxConcurrent - running)
                {
                    j.State = JobStates.Running;
                    j.Started = Now;
                    j.Container = container;
                    Store.Write(j);
                    return (Start: true, Done: false, Job: j);
                }

                return (Start: false, Done: false, Job: j);
            });
            if (decision.Done)
            {
                return 0;
            }

            if (decision.Start)
            {
                break;
            }

            // Jobs ahead whose supervisor died must not hold the queue.
            foreach (var other in Store.List().Where(x => x.Spec.Executor == "local" && !JobStates.IsFinal(x.State) && x.Id != id))
            {
                Refresh(other);
            }

            await Task.Delay(250, cancellationToken).ConfigureAwait(false);
        }

        var job = Store.Read(id);
        int code;
        string? message = null;
        try
        {
            var options = new CreateOptions
            {
                Image = job.Spec.RunImage,
                Command = job.Spec.Command,
                Name = container,
                Remove = true,
                Env = job.Spec.Env,
                Volumes = job.Spec.Volumes,
                Workdir = job.Spec.Workdir,
                Devices = GpuDevices(job.Spec.Gpus),
                // Jobs run as the submitting user, as the cluster's wrapper runs them: keep-id rootless.
                UserNs = Rootless.KeepId.HostIds() is null ? string.Empty : "keep-id",
                TlsVerify = job.Spec.TlsVerify,
                Quiet = true,
            };
            (_, code) = await _containers.Lifecycle.RunAsync(options, detach: false, cancellationToken).ConfigureAwait(false);
        }
        catch (WharfException e)
        {
            message = e.Message;
            code = e.ExitCode;
            await Console.Error.WriteLineAsync("Error: " + e.Message).ConfigureAwait(false);
        }

        RemoveContainer(job with { Container = container });
        Store.Locked(() =>
        {
            var j = Store.Read(id);
            j.State = j.CancelRequested ? JobStates.Cancelled : code == 0 ? JobStates.Completed : JobStates.Failed;
            j.ExitCode = code;
            j.Ended = Now;
            j.Message = message;
            Store.Write(j);
        });
        return code;
    }

    /// <summary>--gpus N on the local executor: the first N GPUs as CDI devices.</summary>
    private static List<string> GpuDevices(int? gpus) =>
        gpus is > 0 ? [.. Enumerable.Range(0, gpus.Value).Select(i => "nvidia.com/gpu=" + i.ToString(CultureInfo.InvariantCulture))] : [];

    /// <summary>Alive and still a wharf supervisor (a reboot may have given the PID to something else).</summary>
    private static bool SupervisorAlive(int pid)
    {
        try
        {
            string cmdline = File.ReadAllText($"/proc/{pid}/cmdline");
            return cmdline.Contains("_supervise", StringComparison.Ordinal) && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The sbatch script for a Slurm job: resources as #SBATCH lines, one step running <c>wharf job exec</c>.</summary>
    public string WriteSbatchScript(JobRecord job)
    {
        ArgumentNullException.ThrowIfNull(job);
        string script = SlurmExecutor.Script(job, SelfCommand());
        string path = Path.Combine(Store.Dir(job.Id), "job.sbatch");
        File.WriteAllText(path, script);
        return path;
    }
}
