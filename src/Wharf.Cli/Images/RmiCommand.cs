using System.CommandLine;
using Wharf.Engine;

namespace Wharf.Cli.Images;

/// <summary><c>wharf rmi IMAGE...</c>: <c>Untagged:</c> and <c>Deleted:</c> lines on stdout.</summary>
public static class RmiCommand
{
    public static Command Create(CliContext context, string name)
    {
        ArgumentNullException.ThrowIfNull(context);
        var images = new Argument<string[]>("IMAGE") { Arity = ArgumentArity.ZeroOrMore };
        var force = new Option<bool>("--force", "-f") { Description = "Force removal of the image" };
        var all = new Option<bool>("--all", "-a") { Description = "Remove all images" };
        var ignore = new Option<bool>("--ignore", "-i") { Description = "Ignore errors if a specified image does not exist" };
        var command = new Command(name, "Remove one or more images from local storage") { images, force, all, ignore };
        command.SetAction(parse => context.Run(() =>
        {
            var names = parse.GetValue(images) ?? [];
            bool removeAll = parse.GetValue(all);
            if (names.Length == 0 && !removeAll)
            {
                throw new WharfException("image name or ID must be specified");
            }

            if (names.Length > 0 && removeAll)
            {
                throw new WharfException("when using the --all switch, you may not pass any images names or IDs");
            }

            RemoveImagesReport report;
            try
            {
                report = Containers.ContainerCli.Engine(context, parse).Lifecycle.RemoveImages(
                    new RemoveImagesOptions { Images = names, Force = parse.GetValue(force), All = removeAll, Ignore = parse.GetValue(ignore) });
            }
            catch (RemoveImagesPartialException partial)
            {
                Print(context, partial.Report);
                throw partial.Error;
            }

            Print(context, report);
            return 0;
        }));
        return command;
    }

    /// <summary>As podman: every Untagged line, then every Deleted line.</summary>
    private static void Print(CliContext context, RemoveImagesReport report)
    {
        foreach (string name in report.Untagged)
        {
            context.Out.WriteLine($"Untagged: {name}");
        }

        foreach (string id in report.Deleted)
        {
            context.Out.WriteLine($"Deleted: {id}");
        }
    }
}
