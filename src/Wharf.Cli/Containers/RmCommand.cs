using System.CommandLine;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf rm [-f] CONTAINER...</c>: prints each removed container's full ID.</summary>
public static class RmCommand
{
    public static Command Create(CliContext context, string name)
    {
        ArgumentNullException.ThrowIfNull(context);
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.ZeroOrMore };
        var all = new Option<bool>("--all", "-a") { Description = "Remove all containers" };
        var force = new Option<bool>("--force", "-f") { Description = "Force removal of a running or unusable container" };
        var command = new Command(name, "Remove one or more containers") { containers, force, all };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var engine = ContainerCli.Engine(context, parse);
            var names = parse.GetValue(all) ? engine.List().Select(c => c.Id).ToArray() : parse.GetValue(containers) ?? [];
            if (names.Length == 0 && !parse.GetValue(all))
            {
                throw new Engine.WharfException("you must provide at least one name or id");
            }

            foreach (string n in names)
            {
                string id = engine.Remove(n, parse.GetValue(force));
                await context.Out.WriteLineAsync(id).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
