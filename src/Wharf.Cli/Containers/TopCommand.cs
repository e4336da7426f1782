using System.CommandLine;
using Wharf.Cli.Output;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf top CONTAINER [DESCRIPTOR...]</c>: the container's processes in podman's table (USER PID PPID %CPU ELAPSED TTY TIME COMMAND).</summary>
public static class TopCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        // With --latest every word is a descriptor (podman's reading), so the container is split off here.
        var words = new Argument<string[]>("CONTAINER DESCRIPTORS") { Arity = ArgumentArity.ZeroOrMore };
        var latest = new Option<bool>("--latest", "-l") { Description = "Act on the latest container wharf is aware of" };
        var command = new Command("top", "Display the running processes of a container") { words, latest };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            string[] given = parse.GetValue(words) ?? [];
            bool isLatest = parse.GetValue(latest);
            if (!isLatest && given.Length == 0)
            {
                throw new Engine.WharfException("you must provide the name or id of a running container");
            }

            var engine = ContainerCli.Engine(context, parse);
            string target;
            try
            {
                target = isLatest ? engine.Lifecycle.Latest().Id : given[0];
            }
            catch (Engine.WharfException e)
            {
                throw new Engine.WharfException("unable to look up requested container: " + e.Message);
            }

            var report = engine.Lifecycle.Top(target, isLatest ? given : given[1..]);
            await context.Out.WriteAsync(Table.Render([report.Headers, .. report.Rows])).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }
}
