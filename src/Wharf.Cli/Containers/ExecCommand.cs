using System.CommandLine;
using Wharf.Engine.Containers;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf exec [-i] [-t] CONTAINER COMMAND [ARG...]</c>: exits with the command's code.</summary>
public static class ExecCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var container = new Argument<string>("CONTAINER");
        var args = new Argument<string[]>("COMMAND") { Arity = ArgumentArity.OneOrMore };
        var interactive = new Option<bool>("--interactive", "-i") { Description = "Keep STDIN open even if not attached" };
        var tty = new Option<bool>("--tty", "-t") { Description = "Allocate a pseudo-TTY" };
        var env = new Option<string[]>("--env", "-e") { Description = "Set environment variables" };
        var workdir = new Option<string?>("--workdir", "-w") { Description = "Working directory inside the container" };
        var user = new Option<string?>("--user", "-u") { Description = "Sets the username or UID used" };
        var command = new Command("exec", "Run a process in a running container") { container, args, interactive, tty, env, workdir, user };
        command.SetAction((parse, ct) => context.RunAsync(() => Task.FromResult(ContainerCli.Engine(context, parse).Exec(new ContainerEngine.ExecOptions
        {
            Container = parse.GetRequiredValue(container),
            Command = parse.GetValue(args) ?? [],
            Interactive = parse.GetValue(interactive),
            Tty = parse.GetValue(tty),
            Env = parse.GetValue(env) ?? [],
            Workdir = parse.GetValue(workdir),
            User = parse.GetValue(user),
        }))));
        return command;
    }
}
