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
        var latest = new Option<bool>("--latest", "-l") { Description = "Act on the latest container wharf is aware of" };
        var command = new Command("port", "List port mappings or a specific mapping for the container") { container, all, latest };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            string[] args = parse.GetValue(container) ?? [];
            bool a = parse.GetValue(all);
            bool isLatest = parse.GetValue(latest);
            if (a && isLatest)
            {
                throw new Engine.WharfException("--all and --latest cannot be used together");
            }

            // With --latest (or --all) the only word is the private port, else the second.
            if (!isLatest && a == (args.Length > 0))
            {
                throw new Engine.WharfException(a ? "no arguments are needed with --all" : "you must supply a running container name or id");
            }

            string? wanted = isLatest ? args.FirstOrDefault() : args.Length > 1 ? args[1] : null;
            string? filter = wanted is null ? null : PortFilter(wanted);
            var engine = ContainerCli.Engine(context, parse);
            var ports = a ? engine.List().SelectMany(c => engine.Lifecycle.Ports(c.Id)) : engine.Lifecycle.Ports(isLatest ? engine.Lifecycle.Latest().Id : args[0]);
            foreach (string p in ports)
            {
                // "80/tcp -> 0.0.0.0:8080"; asked for one private port, podman prints only its host side.
                if (filter is null)
                {
                    await context.Out.WriteLineAsync(p).ConfigureAwait(false);
                }
                else if (p.StartsWith(filter, StringComparison.Ordinal))
                {
                    await context.Out.WriteLineAsync(p[filter.Length..]).ConfigureAwait(false);
                }
            }

            return 0;
        }));
        return command;
    }

    /// <summary><c>PORT[/PROTO]</c> (tcp by default) as the start of the line <see cref="Engine.Containers.ContainerLifecycle.Ports"/> prints for it; podman's errors.</summary>
    private static string PortFilter(string spec)
    {
        string[] fields = spec.Split('/');
        if (fields.Length > 2)
        {
            throw new Engine.WharfException($"port formats are port/protocol. '{spec}' is invalid");
        }

        if (!ushort.TryParse(fields[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ushort port))
        {
            bool digits = fields[0].Length > 0 && fields[0].All(char.IsAsciiDigit);
            throw new Engine.WharfException($"strconv.ParseUint: parsing \"{fields[0]}\": {(digits ? "value out of range" : "invalid syntax")}");
        }

        string proto = fields.Length == 2 ? fields[1] : "tcp";
        return $"{port}/{proto} -> ";
    }
}
