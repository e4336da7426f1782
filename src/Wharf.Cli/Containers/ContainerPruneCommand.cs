using System.CommandLine;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf container prune [-f]</c>: removes every stopped container, printing their IDs.</summary>
public static class ContainerPruneCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var force = new Option<bool>("--force", "-f") { Description = "Do not prompt for confirmation" };
        var command = new Command("prune", "Remove all non running containers") { force };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            if (!parse.GetValue(force))
            {
                await context.Out.WriteAsync("WARNING! This will remove all non running containers.\nAre you sure you want to continue? [y/N] ").ConfigureAwait(false);
                string? answer = await context.Io.In.ReadLineAsync(ct).ConfigureAwait(false);
                if (answer?.Trim().ToUpperInvariant() is not ("Y" or "YES"))
                {
                    return 0;
                }
            }

            foreach (string id in ContainerCli.Engine(context, parse).Lifecycle.Prune())
            {
                await context.Out.WriteLineAsync(id).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
