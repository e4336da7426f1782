using System.CommandLine;

namespace Wharf.Cli.Containers;

/// <summary>
/// <c>wharf start [-a] [-i] [--all|-l|--filter F] CONTAINER...</c>: attached, exits with the
/// container's code; else prints each name as given (full IDs for --all/-l/--filter).
/// </summary>
public static class StartCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var attach = new Option<bool>("--attach", "-a") { Description = "Attach container's STDOUT and STDERR" };
        var interactive = new Option<bool>("--interactive", "-i") { Description = "Make STDIN available to the contained process" };
        var command = new Command("start", "Start one or more containers") { attach, interactive };
        var selection = new SelectionOptions(command, "Start all containers regardless of their state or configuration", ["-f"], ignore: false, allShortFlag: false);
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var engine = ContainerCli.Engine(context, parse);
            var chosen = engine.Lifecycle.Select(selection.Read(parse));
            bool a = parse.GetValue(attach);
            if (a && chosen.Count > 1)
            {
                throw new Engine.WharfException("you cannot start and attach multiple containers at once");
            }

            foreach (var (c, shown) in chosen)
            {
                int code = await engine.Lifecycle.StartAsync(c.Id, a, parse.GetValue(interactive), ct).ConfigureAwait(false);
                if (a)
                {
                    return code;
                }

                await context.Out.WriteLineAsync(shown).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
