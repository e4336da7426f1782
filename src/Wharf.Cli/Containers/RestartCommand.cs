using System.CommandLine;
using Wharf.Engine.Containers;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf restart [-t N] [-a|--running] CONTAINER...</c>: stop if running, start detached; prints each as given (IDs with -a).</summary>
public static class RestartCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.ZeroOrMore };
        var all = new Option<bool>("--all", "-a") { Description = "Restart all non-running containers" };
        var running = new Option<bool>("--running") { Description = "Restart only running containers" };
        var time = new Option<int>("--time", "-t") { Description = "Seconds to wait for stop before killing the container", DefaultValueFactory = _ => 10 };
        var latest = new Option<bool>("--latest", "-l") { Description = "Act on the latest container wharf is aware of" };
        var command = new Command("restart", "Restart one or more containers") { containers, all, running, time, latest };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var engine = ContainerCli.Engine(context, parse);
            string[] names = parse.GetValue(containers) ?? [];
            bool a = parse.GetValue(all);
            bool r = parse.GetValue(running);
            bool l = parse.GetValue(latest);
            if (a && l)
            {
                throw new Engine.WharfException("--all and --latest cannot be used together");
            }

            if (l)
            {
                if (names.Length > 0)
                {
                    throw new Engine.WharfException("--latest and containers cannot be used together");
                }

                names = [engine.Lifecycle.Latest().Id];
            }
            else if (a || r)
            {
                if (names.Length > 0)
                {
                    throw new Engine.WharfException("--all, --latest, and --running cannot be used with container names");
                }

                names = [.. engine.List().Where(c => !r || c.State == ContainerStates.Running).Select(c => c.Id)];
            }
            else if (names.Length == 0)
            {
                throw new Engine.WharfException("you must provide at least one container name or ID");
            }

            foreach (string n in names)
            {
                await engine.Lifecycle.RestartAsync(n, parse.GetValue(time), ct).ConfigureAwait(false);
                await context.Out.WriteLineAsync(n).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
