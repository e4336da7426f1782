using System.CommandLine;
using Wharf.Engine.Containers;

namespace Wharf.Cli.Containers;

/// <summary>
/// <c>wharf exec [-i] [-t] [-d] [-e K=V] [--env-file F] (CONTAINER | -l) COMMAND [ARG...]</c>: exits
/// with the command's code; with <c>-d</c> prints the exec session's ID and leaves the command running.
/// </summary>
public static class ExecCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);

        // With --latest every word is the command (podman's reading), so the container is split off here.
        var words = new Argument<string[]>("CONTAINER COMMAND") { Arity = ArgumentArity.ZeroOrMore };
        var interactive = new Option<bool>("--interactive", "-i") { Description = "Keep STDIN open even if not attached" };
        var tty = new Option<bool>("--tty", "-t") { Description = "Allocate a pseudo-TTY" };
        var detach = new Option<bool>("--detach", "-d") { Description = "Run the exec session in detached mode (backgrounded)" };
        var latest = new Option<bool>("--latest", "-l") { Description = "Act on the latest container wharf is aware of" };
        var env = new Option<string[]>("--env", "-e") { Description = "Set environment variables" };
        var envFile = new Option<string[]>("--env-file") { Description = "Read in a file of environment variables" };
        var workdir = new Option<string?>("--workdir", "-w") { Description = "Working directory inside the container" };
        var user = new Option<string?>("--user", "-u") { Description = "Sets the username or UID used" };
        var command = new Command("exec", "Run a process in a running container") { words, interactive, tty, detach, latest, env, envFile, workdir, user };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            string[] given = parse.GetValue(words) ?? [];
            bool isLatest = parse.GetValue(latest);
            if (!isLatest && given.Length == 0)
            {
                throw new Engine.WharfException("exec requires the name or ID of a container or the --latest flag");
            }

            string[] cmd = isLatest ? given : given[1..];
            var report = ContainerCli.Engine(context, parse).Lifecycle.Exec(new ContainerLifecycle.ExecOptions
            {
                Container = isLatest ? null : given[0],
                Latest = isLatest,
                Command = cmd,
                Interactive = parse.GetValue(interactive),
                Tty = parse.GetValue(tty),
                Detach = parse.GetValue(detach),
                Env = parse.GetValue(env) ?? [],
                EnvFiles = parse.GetValue(envFile) ?? [],
                Workdir = parse.GetValue(workdir),
                User = parse.GetValue(user),
            });
            if (report.SessionId is { } id)
            {
                await context.Out.WriteLineAsync(id).ConfigureAwait(false);
            }

            return report.ExitCode;
        }));
        return command;
    }

    /// <summary><c>container _exec_died CONTAINER-ID</c>: a detached exec session's monitor records its end.</summary>
    public static Command DiedRecorder(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var id = new Argument<string>("CONTAINER-ID");
        var command = new Command("_exec_died", "Record the end of a detached exec session (run by its monitor)") { id };
        command.Hidden = true;
        command.SetAction(parse => context.Run(() =>
        {
            ContainerCli.Engine(context, parse).Lifecycle.RecordExecDied(parse.GetRequiredValue(id));
            return 0;
        }));
        return command;
    }
}
