using System.CommandLine;
using Wharf.Engine.Containers;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf pause|unpause [-a] CONTAINER...</c>: freezes or thaws the container's processes; prints names as given, IDs with -a.</summary>
public static class PauseCommand
{
    public static Command Pause(CliContext context) => Create(context, "pause", "Pause all the processes in one or more containers", pause: true);

    public static Command Unpause(CliContext context) => Create(context, "unpause", "Unpause the processes in one or more containers", pause: false);

    private static Command Create(CliContext context, string name, string description, bool pause)
    {
        ArgumentNullException.ThrowIfNull(context);
        var command = new Command(name, description);
        var selection = new SelectionOptions(command, pause ? "Pause all running containers" : "Unpause all paused containers", ["-f"], ignore: false);
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var engine = ContainerCli.Engine(context, parse);
            var chosen = selection.Read(parse);
            foreach (var (c, shown) in engine.Lifecycle.Select(chosen))
            {
                // With --all, only the containers the verb applies to, as podman.
                if (!chosen.ByName && c.State != (pause ? ContainerStates.Running : ContainerStates.Paused))
                {
                    continue;
                }

                if (pause)
                {
                    engine.Lifecycle.Pause(c.Id);
                }
                else
                {
                    engine.Lifecycle.Unpause(c.Id);
                }

                await context.Out.WriteLineAsync(shown).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
