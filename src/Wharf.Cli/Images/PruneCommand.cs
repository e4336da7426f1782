using System.CommandLine;
using Wharf.Engine;

namespace Wharf.Cli.Images;

/// <summary><c>wharf image prune</c>: removes dangling images (all unused with -a), printing their IDs.</summary>
public static class PruneCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var all = new Option<bool>("--all", "-a") { Description = "Remove all images not in use by containers, not just dangling ones" };
        var force = new Option<bool>("--force", "-f") { Description = "Do not prompt for confirmation" };
        var command = new Command("prune", "Remove unused images") { all, force };
        command.SetAction(parse => context.Run(() =>
        {
            if (!parse.GetValue(force))
            {
                context.Out.WriteLine(parse.GetValue(all)
                    ? "WARNING! This command removes all images without at least one container associated with them."
                    : "WARNING! This command removes all dangling images.");
                context.Out.Write("Are you sure you want to continue? [y/N] ");
                context.Out.Flush();
                string? answer = context.Io.In.ReadLine();
                if (answer is null || !answer.Trim().StartsWith('y'))
                {
                    return 0;
                }
            }

            var report = context.Engine(parse).Local.Prune(new PruneOptions(parse.GetValue(all)));
            foreach (string id in report.Deleted)
            {
                context.Out.WriteLine(id);
            }

            return 0;
        }));
        return command;
    }
}
