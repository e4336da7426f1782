using System.CommandLine;
using Wharf.Cli.Containers;
using Wharf.Cli.Output;
using Wharf.Engine;

namespace Wharf.Cli.SystemCommands;

/// <summary>
/// <c>wharf system prune [-a] [-f] [--volumes]</c>: stopped containers, then dangling images (every
/// image no container uses with <c>-a</c>), named volumes no container uses with <c>--volumes</c>, then the blobs and unpacked layers nothing needs any
/// more, with podman's prompt and report.
/// </summary>
public static class SystemPruneCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var all = new Option<bool>("--all", "-a") { Description = "Remove all unused images, not just dangling ones" };
        var force = new Option<bool>("--force", "-f") { Description = "Do not prompt for confirmation" };
        var volumes = new Option<bool>("--volumes") { Description = "Prune volumes not used by at least one container" };
        var external = new Option<bool>("--external") { Description = "Accepted for compatibility" };
        var command = new Command("prune", "Remove unused data") { all, force, volumes, external };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            bool everything = parse.GetValue(all);
            if (!parse.GetValue(force))
            {
                var text = new System.Text.StringBuilder("WARNING! This command removes:\n\t- all stopped containers\n\t- all networks not used by at least one container\n");
                if (parse.GetValue(volumes))
                {
                    text.Append("\t- all volumes not used by at least one container\n");
                }

                text.Append(everything
                    ? "\t- all images without at least one container associated with them\n\t- all build cache\n"
                    : "\t- all dangling images\n\t- all dangling build cache\n");
                text.Append("\nAre you sure you want to continue? [y/N] ");
                await context.Out.WriteAsync(text.ToString()).ConfigureAwait(false);
                string? answer = await context.Io.In.ReadLineAsync(ct).ConfigureAwait(false);
                if (answer?.Trim().ToUpperInvariant() is not ("Y" or "YES"))
                {
                    return 0;
                }
            }

            var containers = ContainerCli.Engine(context, parse);
            long before = containers.Images.Store.UsedBytes();
            var removed = containers.Lifecycle.Prune();
            var images = containers.Images.Local.Prune(new PruneOptions(everything));
            var prunedVolumes = new List<string>();
            if (parse.GetValue(volumes))
            {
                var store = containers.Volumes;
                foreach (var v in store.List().Where(v => containers.UsersOf(v).Count == 0))
                {
                    store.Prune(v.Name);
                    prunedVolumes.Add(v.Name);
                }
            }

            long reclaimed = Math.Max(0, before - containers.Images.Store.UsedBytes());
            if (removed.Count > 0)
            {
                await context.Out.WriteLineAsync("Deleted Containers").ConfigureAwait(false);
                foreach (string id in removed)
                {
                    await context.Out.WriteLineAsync(id).ConfigureAwait(false);
                }
            }

            if (images.Deleted.Count > 0)
            {
                await context.Out.WriteLineAsync("Deleted Images").ConfigureAwait(false);
                foreach (string id in images.Deleted)
                {
                    await context.Out.WriteLineAsync(id).ConfigureAwait(false);
                }
            }

            if (prunedVolumes.Count > 0)
            {
                await context.Out.WriteLineAsync("Deleted Volumes").ConfigureAwait(false);
                foreach (string name in prunedVolumes)
                {
                    await context.Out.WriteLineAsync(name).ConfigureAwait(false);
                }
            }

            await context.Out.WriteLineAsync("Total reclaimed space: " + Units.HumanSize(reclaimed)).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }
}
