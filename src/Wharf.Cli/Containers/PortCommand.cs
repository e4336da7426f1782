using System.CommandLine;

namespace Wharf.Cli.Containers;

/// <summary>
/// <c>wharf port [-a] [CONTAINER]</c>: the published ports. wharf publishes none, so like podman for a
/// container run without -p it prints nothing; an unknown container is still an error.
/// </summary>
public static class PortCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var container = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.ZeroOrMore };
        var all = new Option<bool>("--all", "-a") { Description = "Display port information for all containers" };
        var command = new Command("port", "List port mappings or a specific mapping for the container") { container, all };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            string[] args = parse.GetValue(container) ?? [];
            bool a = parse.GetValue(all);
            if (a == (args.Length > 0))
            {
                throw new Engine.WharfException(a ? "no arguments are needed with --all" : "you must supply a running container name or id");
            }

            var engine = ContainerCli.Engine(context, parse);
            var ports = a ? engine.List().SelectMany(c => engine.Ports(c.Id)) : engine.Ports(args[0]);
            foreach (string p in ports)
            {
                await context.Out.WriteLineAsync(p).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
