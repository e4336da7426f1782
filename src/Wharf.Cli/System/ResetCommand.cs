using System.CommandLine;

namespace Wharf.Cli.SystemCommands;

/// <summary><c>wharf system reset</c>: removes everything under graphroot and runroot, after a prompt unless -f.</summary>
public static class ResetCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var force = new Option<bool>("--force", "-f") { Description = "Do not prompt for confirmation" };
        var command = new Command("reset", "Reset wharf storage back to initial state") { force };
        command.SetAction(parse => context.Run(() =>
        {
            var engine = context.Engine(parse);
            if (!parse.GetValue(force))
            {
                context.Out.WriteLine($"""
                    WARNING! This will remove:
                            - all containers
                            - all pods
                            - all images
                            - all networks
                            - all build cache
                            - all machines
                            - all volumes
                            - the graphRoot directory: "{engine.Storage.GraphRoot}"
                            - the runRoot directory: "{engine.Storage.RunRoot}"
                    Are you sure you want to continue? [y/N] 
                    """.TrimEnd('\n'));
                context.Out.Flush();
                string? answer = context.Io.In.ReadLine();
                if (answer is null || !answer.Trim().StartsWith('y'))
                {
                    return 0;
                }
            }

            // --root without --runroot names another user's store: leave this user's runroot alone.
            engine.Local.Reset(keepRunRoot: parse.GetValue(context.RootOption) is not null && parse.GetValue(context.RunRootOption) is null);
            return 0;
        }));
        return command;
    }
}
