using System.CommandLine;
using Wharf.Engine.Containers;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf diff CONTAINER</c>: A (added), C (changed), D (deleted) lines as podman prints them.</summary>
public static class DiffCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var container = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.ZeroOrMore };
        var latest = new Option<bool>("--latest", "-l") { Description = "Act on the latest container wharf is aware of" };
        var command = new Command("diff", "Display the changes to the container's file system") { container, latest };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            string[] names = parse.GetValue(container) ?? [];
            bool isLatest = parse.GetValue(latest);
            if (isLatest && names.Length > 0)
            {
                throw new Engine.WharfException("--latest and containers cannot be used together");
            }

            if (!isLatest && names.Length != 1)
            {
                throw new Engine.WharfException(names.Length == 0 ? $"\"{UsageErrors.Path(parse)}\" requires a name, id, or the \"--latest\" flag" : "diff between two containers or images is not supported by wharf");
            }

            var engine = ContainerCli.Engine(context, parse);
            string target;
            try
            {
                target = isLatest ? engine.Lifecycle.Latest().Id : names[0];
            }
            catch (Engine.WharfException e)
            {
                throw new Engine.WharfException("unable to get latest container: " + e.Message);
            }

            foreach (var change in engine.Files.Diff(target))
            {
                char k = change.Kind switch { ChangeKind.Added => 'A', ChangeKind.Deleted => 'D', _ => 'C' };
                await context.Out.WriteLineAsync($"{k} {change.Path}").ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
