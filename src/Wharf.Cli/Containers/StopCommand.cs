using System.CommandLine;

namespace Wharf.Cli.Containers;

/// <summary>
/// <c>wharf stop [-t N] [-a|-l|--filter F] [-i] CONTAINER...</c>: the stop signal, SIGKILL after N
/// seconds (10). Prints names as given, full IDs for -a/-l/--filter, as podman.
/// </summary>
public static class StopCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var time = new Option<int>("--time", "-t") { Description = "Seconds to wait for stop before killing the container", DefaultValueFactory = _ => 10 };
        var command = new Command("stop", "Stop one or more containers") { time };
        var selection = new SelectionOptions(command, "Stop all running containers", ["-f"], ignore: true);
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var engine = ContainerCli.Engine(context, parse);
            foreach (var (c, shown) in engine.Lifecycle.Select(selection.Read(parse)))
            {
                engine.Lifecycle.Stop(c.Id, parse.GetValue(time));
                await context.Out.WriteLineAsync(shown).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
