using System.CommandLine;
using Wharf.Engine.Containers;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf diff CONTAINER</c>: A (added), C (changed), D (deleted) lines as podman prints them.</summary>
public static class DiffCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var container = new Argument<string>("CONTAINER");
        var command = new Command("diff", "Display the changes to the container's file system") { container };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            foreach (var change in ContainerCli.Engine(context, parse).Diff(parse.GetRequiredValue(container)))
            {
                char k = change.Kind switch { ChangeKind.Added => 'A', ChangeKind.Deleted => 'D', _ => 'C' };
                await context.Out.WriteLineAsync($"{k} {change.Path}").ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
