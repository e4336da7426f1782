using System.CommandLine;
using Wharf.Engine;

namespace Wharf.Cli.Images;

/// <summary><c>wharf untag IMAGE [NAME...]</c>: removes names, keeps the image.</summary>
public static class UntagCommand
{
    public static Command Create(CliContext context, string name)
    {
        ArgumentNullException.ThrowIfNull(context);
        var image = new Argument<string>("IMAGE");
        var names = new Argument<string[]>("NAME") { Arity = ArgumentArity.ZeroOrMore };
        var command = new Command(name, "Remove a name from a local image") { image, names };
        command.SetAction(parse => context.Run(() =>
        {
            context.Engine(parse).Local.Untag(new UntagOptions(parse.GetRequiredValue(image), parse.GetValue(names) ?? []));
            return 0;
        }));
        return command;
    }
}
