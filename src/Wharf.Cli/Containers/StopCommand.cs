using System.CommandLine;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf stop [-t N] CONTAINER...</c>: the stop signal, SIGKILL after N seconds (10).</summary>
public static class StopCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.OneOrMore };
        var time = new Option<int>("--time", "-t") { Description = "Seconds to wait for stop before killing the container", DefaultValueFactory = _ => 10 };
        var command = new Command("stop", "Stop one or more containers") { containers, time };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var engine = ContainerCli.Engine(context, parse);
            foreach (string n in parse.GetValue(containers) ?? [])
            {
                engine.Stop(n, parse.GetValue(time));
                await context.Out.WriteLineAsync(n).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
