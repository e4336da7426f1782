using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Wharf.Cli.Containers;
using Wharf.Cli.Output;
using Wharf.Engine;
using Wharf.Engine.Jobs;

namespace Wharf.Cli.Jobs;

/// <summary><c>wharf job submit|ls|status|logs|cancel|exec</c>: batch jobs in containers, locally or on Slurm.</summary>
public static class JobCli
{
    public static Command Group(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var supervise = Supervise(context);
        supervise.Hidden = true;
        var reap = Reap(context);
        reap.Hidden = true;
        return new Command("job", "Run batch jobs in containers, locally or on Slurm")
        {
            Submit(context),
            List(context),
            Status(context),
            Logs(context),
            Cancel(context),
            Exec(context),
            supervise,
            reap,
        };
    }

    /// <summary><c>job exec</c> and <c>job logs</c> end on TERM and INT themselves (<see cref="TerminationSignals"/>).</summary>
    public static bool HandlesSignals(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        var command = parse.CommandResult.Command;
        return command.Name is "exec" or "logs" && parse.CommandResult.Parent is System.CommandLine.Parsing.CommandResult { Command.Name: "job" };
    }

    public static JobEngine Engine(CliContext context, ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(parse);
        var global = new List<string>();
        if (parse.GetValue(context.RootOption) is { Length: > 0 } root)
        {
            global.AddRange(["--root", Path.GetFullPath(root)]);
        }

        if (parse.GetValue(context.RunRootOption) is { Length: > 0 } runRoot)
        {
            global.AddRange(["--runroot", Path.GetFullPath(runRoot)]);
        }

        return new JobEngine(ContainerCli.Engine(context, parse), global);
    }

    private static Command Submit(CliContext context)
    {
        var image = new Option<string>("--image") { Description = "Image the job runs in", Required = true };
        var name = new Option<string?>("--name") { Description = "Job name" };
        var cpus = new Option<int?>("--cpus") { Description = "CPUs per task (Slurm --cpus-per-task)" };
        var mem = new Option<string?>("--mem") { Description = "Memory (Slurm --mem, e.g. 16G)" };
        var gpus = new Option<int?>("--gpus") { Description = "GPUs" };
        var time = new Option<string?>("--time") { Description = "Time limit HH:MM:SS (Slurm --time)" };
        var partition = new Option<string?>("--partition", "-p") { Description = "Slurm partition" };
        var ntasks = new Option<int?>("--ntasks", "-n") { Description = "Tasks (Slurm --ntasks): one container each, host network and IPC" };
        var nodes = new Option<int?>("--nodes", "-N") { Description = "Nodes (Slurm --nodes)" };
        var env = new Option<string[]>("--env", "-e") { Description = "Environment variable K=V for the container" };
        var volume = new Option<string[]>("--volume", "-v") { Description = "Bind mount SRC:DST[:ro]" };
        var workdir = new Option<string?>("--workdir", "-w") { Description = "Working directory inside the container" };
        var output = new Option<string?>("--output", "-o") { Description = "File for the job's output (default: in the job's directory)" };
        var error = new Option<string?>("--error") { Description = "File for the job's errors (default: with the output)" };
        var executor = new Option<string>("--executor") { Description = "local (default) or slurm", DefaultValueFactory = _ => "local" };
        var tls = CliContext.TlsVerifyOption();
        var command = new Argument<string[]>("COMMAND") { Description = "Command and arguments", Arity = ArgumentArity.ZeroOrMore };
        var cmd = new Command("submit", "Submit a job; prints its ID") { image, name, cpus, mem, gpus, time, partition, ntasks, nodes, env, volume, workdir, output, error, executor, tls, command };
        cmd.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var spec = new JobSpec
            {
                Image = parse.GetRequiredValue(image),
                Command = [.. parse.GetValue(command) ?? []],
                Name = parse.GetValue(name),
                Cpus = parse.GetValue(cpus),
                Memory = parse.GetValue(mem),
                Gpus = parse.GetValue(gpus),
                Time = parse.GetValue(time),
                Partition = parse.GetValue(partition),
                Tasks = parse.GetValue(ntasks),
                Nodes = parse.GetValue(nodes),
                Env = [.. parse.GetValue(env) ?? []],
                Volumes = [.. parse.GetValue(volume) ?? []],
                Workdir = parse.GetValue(workdir),
                Output = parse.GetValue(output),
                Error = parse.GetValue(error),
                Executor = parse.GetValue(executor) ?? "local",
                TlsVerify = parse.GetValue(tls),
            };
            string id = await Engine(context, parse).SubmitAsync(spec, Environment.CurrentDirectory, ct).ConfigureAwait(false);
            await context.Out.WriteLineAsync(id).ConfigureAwait(false);
            return 0;
        }));
        return cmd;
    }

    private static Command List(CliContext context)
    {
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print only job IDs" };
        var format = new Option<string?>("--format") { Description = "json for the records" };
        var cmd = new Command("ls", "List jobs") { quiet, format };
        cmd.Aliases.Add("list");
        cmd.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var jobs = Engine(context, parse).List();
            if (parse.GetValue(format) == "json")
            {
                await context.Out.WriteLineAsync(JsonSerializer.Serialize(jobs.ToList(), JobCliJson.Default.ListJobRecord)).ConfigureAwait(false);
                return 0;
            }

            if (parse.GetValue(quiet))
            {
                foreach (var j in jobs)
                {
                    await context.Out.WriteLineAsync(j.Id).ConfigureAwait(false);
                }

                return 0;
            }

            var rows = new List<IReadOnlyList<string>> { new[] { "ID", "NAME", "IMAGE", "STATE", "SUBMITTED", "ELAPSED", "EXIT CODE" } };
            var now = DateTimeOffset.UtcNow;
            foreach (var j in jobs)
            {
                rows.Add([j.Id, j.Name, j.Spec.Image, j.State, j.Submitted.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), Elapsed(j, now), j.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "-"]);
            }

            await context.Out.WriteAsync(Table.Render(rows)).ConfigureAwait(false);
            return 0;
        }));
        return cmd;
    }

    private static string Elapsed(JobRecord j, DateTimeOffset now)
    {
        if (j.Started is not { } start)
        {
            return "-";
        }

        var span = (j.Ended ?? now) - start;
        return span < TimeSpan.Zero ? "0:00:00" : $"{(int)span.TotalHours}:{span.Minutes:00}:{span.Seconds:00}";
    }

    private static Command Status(CliContext context)
    {
        var id = new Argument<string>("ID") { Description = "Job ID" };
        var format = new Option<string?>("--format") { Description = "json for the record" };
        var cmd = new Command("status", "Show a job's state and exit code") { id, format };
        cmd.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var engine = Engine(context, parse);
            var j = engine.Status(parse.GetRequiredValue(id));
            if (parse.GetValue(format) == "json")
            {
                await context.Out.WriteLineAsync(JsonSerializer.Serialize(j, JobCliJson.Default.JobRecord)).ConfigureAwait(false);
                return 0;
            }

            var lines = new List<string>
            {
                "ID:         " + j.Id,
                "Name:       " + j.Name,
                "Image:      " + j.Spec.Image,
                "Executor:   " + j.Spec.Executor + (j.SlurmJobId is { } s ? " (Slurm job " + s + ")" : string.Empty),
                "State:      " + j.State,
                "Exit code:  " + (j.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "-"),
                "Submitted:  " + j.Submitted.ToString("O", CultureInfo.InvariantCulture),
                "Started:    " + (j.Started?.ToString("O", CultureInfo.InvariantCulture) ?? "-"),
                "Ended:      " + (j.Ended?.ToString("O", CultureInfo.InvariantCulture) ?? "-"),
                "Log:        " + (engine.OutputFile(j) ?? j.LogPath),
            };
            if (j.Message is { } m)
            {
                lines.Add("Message:    " + m);
            }

            foreach (string l in lines)
            {
                await context.Out.WriteLineAsync(l).ConfigureAwait(false);
            }

            return 0;
        }));
        return cmd;
    }

    private static Command Logs(CliContext context)
    {
        var id = new Argument<string>("ID") { Description = "Job ID" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Follow the output until the job ends" };
        var cmd = new Command("logs", "Show a job's output") { id, follow };
        cmd.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            await context.Out.FlushAsync(ct).ConfigureAwait(false);
            using var stdout = context.Io.OpenStdout();
            using var signals = new TerminationSignals(ct);
            try
            {
                await Engine(context, parse).LogsAsync(parse.GetRequiredValue(id), parse.GetValue(follow), stdout, signals.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (signals.ExitCode is { } code)
            {
                // Ctrl-C (or TERM) ends following quietly, with the shell's code for it.
                return code;
            }

            return 0;
        }));
        return cmd;
    }

    private static Command Cancel(CliContext context)
    {
        var id = new Argument<string>("ID") { Description = "Job ID" };
        var cmd = new Command("cancel", "Cancel a queued or running job") { id };
        cmd.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var j = await Engine(context, parse).CancelAsync(parse.GetRequiredValue(id), ct).ConfigureAwait(false);
            await context.Out.WriteLineAsync(j.Id).ConfigureAwait(false);
            return 0;
        }));
        return cmd;
    }

    private static Command Exec(CliContext context)
    {
        var image = new Option<string?>("--image") { Description = "Image (default: WHARF_IMAGE or KUBE_IMAGE)" };
        var env = new Option<string[]>("--env", "-e") { Description = "Environment variable K=V for the container" };
        var volume = new Option<string[]>("--volume", "-v") { Description = "Bind mount SRC:DST[:ro]" };
        var workdir = new Option<string?>("--workdir", "-w") { Description = "Working directory inside the container (default: $HOME, as the cluster's wrapper did; the submit directory is mounted at its own path)" };
        var tls = CliContext.TlsVerifyOption();
        var command = new Argument<string[]>("COMMAND") { Description = "Command (default: WHARF_SCRIPT or KUBE_SCRIPT)", Arity = ArgumentArity.ZeroOrMore };
        var cmd = new Command("exec", "Run a job's container on this node (the step of a Slurm job)") { image, env, volume, workdir, tls, command };
        cmd.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var options = new JobExecOptions
            {
                Image = parse.GetValue(image),
                Command = parse.GetValue(command) ?? [],
                Env = parse.GetValue(env) ?? [],
                Volumes = parse.GetValue(volume) ?? [],
                Workdir = parse.GetValue(workdir),
                TlsVerify = parse.GetValue(tls),
                Self = Engine(context, parse).SelfCommand(),
                Variables = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>().ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? string.Empty, StringComparer.Ordinal),
            };
            // scancel may close the step's pipes before the wrapper is done: progress lines must not fail the cleanup.
            var err = new ForgivingWriter(context.Err);
            var containers = new Wharf.Engine.Containers.ContainerEngine(context.Engine(parse), err);
            return await JobExec.RunAsync(containers, options, err, ct).ConfigureAwait(false);
        }));
        return cmd;
    }

    private static Command Reap(CliContext context)
    {
        var pid = new Argument<int>("PID");
        var container = new Argument<string>("CONTAINER");
        var cmd = new Command("_reap", "Remove a job's container once its wrapper has gone (started by exec)") { pid, container };
        cmd.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            await JobExec.ReapAsync(ContainerCli.Engine(context, parse), parse.GetValue(pid), parse.GetRequiredValue(container), ct).ConfigureAwait(false);
            return 0;
        }));
        return cmd;
    }

    private static Command Supervise(CliContext context)
    {
        var id = new Argument<string>("ID");
        var cmd = new Command("_supervise", "Run one local job (started by submit)") { id };
        cmd.SetAction((parse, ct) => context.RunAsync(() => Engine(context, parse).SuperviseAsync(parse.GetRequiredValue(id), ct)));
        return cmd;
    }
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(JobRecord))]
[System.Text.Json.Serialization.JsonSerializable(typeof(List<JobRecord>))]
internal sealed partial class JobCliJson : System.Text.Json.Serialization.JsonSerializerContext;
