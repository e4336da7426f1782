using System.CommandLine;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf kill [-s SIGNAL] CONTAINER...</c>.</summary>
public static class KillCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.OneOrMore };
        var signal = new Option<string>("--signal", "-s") { Description = "Signal to send to the container", DefaultValueFactory = _ => "KILL" };
        var command = new Command("kill", "Kill one or more running containers with a specific signal") { containers, signal };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var engine = ContainerCli.Engine(context, parse);
            foreach (string n in parse.GetValue(containers) ?? [])
            {
                engine.Kill(n, parse.GetValue(signal) ?? "KILL");
                await context.Out.WriteLineAsync(n).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
