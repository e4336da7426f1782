using System.CommandLine;
using Wharf.Engine.Containers;

namespace Wharf.Cli.Containers;

/// <summary>
/// <c>wharf kill [-s SIGNAL] [-a|-l] CONTAINER...</c>: SIGNAL is a number (1-64) or a name with or
/// without SIG (KILL by default). Prints names as given, full IDs for -a/-l.
/// </summary>
public static class KillCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var signal = new Option<string>("--signal", "-s") { Description = "Signal to send to the container", DefaultValueFactory = _ => "KILL" };
        var command = new Command("kill", "Kill one or more running containers with a specific signal") { signal };
        var selection = new SelectionOptions(command, "Signal all running containers", filterAliases: null, ignore: false);
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            string s = parse.GetValue(signal) ?? "KILL";
            Signals.Parse(s);
            var chosen = selection.Read(parse);
            var engine = ContainerCli.Engine(context, parse);
            foreach (var (c, shown) in engine.Lifecycle.Select(chosen))
            {
                if (!chosen.ByName && c.State != ContainerStates.Running)
                {
                    continue;
                }

                engine.Lifecycle.Kill(c.Id, s);
                await context.Out.WriteLineAsync(shown).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
