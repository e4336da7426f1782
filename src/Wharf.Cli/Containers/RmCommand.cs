using System.CommandLine;

namespace Wharf.Cli.Containers;

/// <summary>
/// <c>wharf rm [-f] [-t N] [-a|-l|--filter F] [-i] [--depend] [-v] CONTAINER...</c>: prints names as
/// given (full IDs for -a/-l/--filter). A missing name exits 1 and removes nothing, as podman.
/// </summary>
public static class RmCommand
{
    public static Command Create(CliContext context, string name)
    {
        ArgumentNullException.ThrowIfNull(context);
        var force = new Option<bool>("--force", "-f") { Description = "Force removal of a running or unusable container" };
        var time = new Option<int?>("--time", "-t") { Description = "Seconds to wait for stop before killing the container" };
        var depend = new Option<bool>("--depend") { Description = "Remove container and all containers that depend on the selected container" };
        var volumes = new Option<bool>("--volumes", "-v") { Description = "Remove anonymous volumes associated with the container" };
        var command = new Command(name, "Remove one or more containers") { force, time, depend, volumes };
        var selection = new SelectionOptions(command, "Remove all containers", [], ignore: true);
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var engine = ContainerCli.Engine(context, parse);
            bool f = parse.GetValue(force);

            // wharf has no container dependencies (no pods, no --requires): --depend removes just the
            // containers chosen; and no anonymous volumes, so -v has nothing more to remove.
            foreach (var (c, shown) in engine.Lifecycle.Select(selection.Read(parse), missingExitCode: 1))
            {
                engine.Lifecycle.Remove(c, f, parse.GetValue(time));

                // --depend prints what it removed by full ID, as podman's list of removed containers.
                await context.Out.WriteLineAsync(parse.GetValue(depend) ? c.Id : shown).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
