using System.CommandLine;
using Wharf.Cli.Output;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf top CONTAINER [DESCRIPTOR...]</c>: the container's processes in podman's table (USER PID PPID %CPU ELAPSED TTY TIME COMMAND).</summary>
public static class TopCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var container = new Argument<string>("CONTAINER");
        var descriptors = new Argument<string[]>("DESCRIPTORS") { Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("top", "Display the running processes of a container") { container, descriptors };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var report = ContainerCli.Engine(context, parse).Top(parse.GetRequiredValue(container), parse.GetValue(descriptors) ?? []);
            await context.Out.WriteAsync(Table.Render([report.Headers, .. report.Rows])).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }
}
