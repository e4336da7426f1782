using System.CommandLine;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf start [-a] [-i] CONTAINER...</c>: attached, exits with the container's code; else prints each name.</summary>
public static class StartCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.OneOrMore };
        var attach = new Option<bool>("--attach", "-a") { Description = "Attach container's STDOUT and STDERR" };
        var interactive = new Option<bool>("--interactive", "-i") { Description = "Make STDIN available to the contained process" };
        var command = new Command("start", "Start one or more containers") { containers, attach, interactive };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var engine = ContainerCli.Engine(context, parse);
            string[] names = parse.GetValue(containers) ?? [];
            bool a = parse.GetValue(attach);
            if (a && names.Length > 1)
            {
                throw new Engine.WharfException("you cannot start and attach multiple containers at once");
            }

            foreach (string n in names)
            {
                int code = await engine.StartAsync(n, a, parse.GetValue(interactive), ct).ConfigureAwait(false);
                if (a)
                {
                    return code;
                }

                await context.Out.WriteLineAsync(n).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
