using System.CommandLine;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf logs [-f] CONTAINER</c>: what a detached container wrote.</summary>
public static class LogsCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var container = new Argument<string>("CONTAINER");
        var follow = new Option<bool>("--follow", "-f") { Description = "Follow log output" };
        var command = new Command("logs", "Fetch the logs of a container") { container, follow };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            await context.Out.FlushAsync(ct).ConfigureAwait(false);
            var stdout = context.Io.OpenStdout();
            await ContainerCli.Engine(context, parse).LogsAsync(parse.GetRequiredValue(container), parse.GetValue(follow), stdout, ct).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }
}
