using System.CommandLine;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf container exists NAME</c> and <c>wharf image exists NAME</c>: exit 0 when it exists, 1 when not, no output.</summary>
public static class ExistsCommand
{
    public static Command Container(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var name = new Argument<string>("CONTAINER");
        var command = new Command("exists", "Check if a container exists in local storage") { name };
        command.SetAction(parse => context.Run(() =>
            ContainerCli.Engine(context, parse).Lifecycle.Exists(parse.GetRequiredValue(name)) ? 0 : 1));
        return command;
    }

    public static Command Image(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var name = new Argument<string>("IMAGE");
        var command = new Command("exists", "Check if an image exists in local storage") { name };
        command.SetAction(parse => context.Run(() =>
        {
            try
            {
                context.Engine(parse).Local.LookupImage(parse.GetRequiredValue(name));
                return 0;
            }
            catch (Engine.WharfException)
            {
                return 1;
            }
        }));
        return command;
    }
}
