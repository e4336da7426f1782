using System.CommandLine;
using Wharf.Engine;

namespace Wharf.Cli.Images;

/// <summary><c>wharf tag IMAGE NAME...</c>: silent on success.</summary>
public static class TagCommand
{
    public static Command Create(CliContext context, string name)
    {
        ArgumentNullException.ThrowIfNull(context);
        var image = new Argument<string>("IMAGE");
        var names = new Argument<string[]>("TARGET_NAME") { Arity = ArgumentArity.OneOrMore };
        var command = new Command(name, "Add an additional name to a local image") { image, names };
        command.SetAction(parse => context.Run(() =>
        {
            context.Engine(parse).Local.Tag(new TagOptions(parse.GetRequiredValue(image), parse.GetRequiredValue(names)));
            return 0;
        }));
        return command;
    }
}
