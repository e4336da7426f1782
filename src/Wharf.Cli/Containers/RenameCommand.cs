using System.CommandLine;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf rename CONTAINER NAME</c>: no output, as podman.</summary>
public static class RenameCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var container = new Argument<string>("CONTAINER");
        var name = new Argument<string>("NAME");
        var command = new Command("rename", "Rename an existing container") { container, name };
        command.SetAction(parse => context.Run(() =>
        {
            ContainerCli.Engine(context, parse).Lifecycle.Rename(parse.GetRequiredValue(container), parse.GetRequiredValue(name));
            return 0;
        }));
        return command;
    }
}
