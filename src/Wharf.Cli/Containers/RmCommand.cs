using System.CommandLine;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf rm [-f] CONTAINER...</c>: prints each removed container's full ID.</summary>
public static class RmCommand
{
    public static Command Create(CliContext context, string name)
    {
        ArgumentNullException.ThrowIfNull(context);
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.OneOrMore };
        var force = new Option<bool>("--force", "-f") { Description = "Force removal of a running or unusable container" };
        var command = new Command(name, "Remove one or more containers") { containers, force };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var engine = ContainerCli.Engine(context, parse);
            foreach (string n in parse.GetValue(containers) ?? [])
            {
                string id = engine.Remove(n, parse.GetValue(force));
                await context.Out.WriteLineAsync(id).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
