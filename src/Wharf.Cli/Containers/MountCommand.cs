using System.CommandLine;
using Wharf.Cli.Output;

namespace Wharf.Cli.Containers;

/// <summary>
/// <c>wharf mount [CONTAINER...]</c>: mounts each root filesystem and prints its path; without
/// arguments lists the mounted ones (ID and path). <c>wharf unmount|umount [-a] CONTAINER...</c>.
/// </summary>
public static class MountCommand
{
    public static Command Mount(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.ZeroOrMore };
        var noTrunc = new Option<bool>("--no-trunc") { Description = "Do not truncate output" };
        var latest = new Option<bool>("--latest", "-l") { Description = "Act on the latest container wharf is aware of" };
        var command = new Command("mount", "Mount a working container's root filesystem") { containers, noTrunc, latest };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var engine = ContainerCli.Engine(context, parse);
            string[] names = parse.GetValue(containers) ?? [];
            bool isLatest = parse.GetValue(latest);
            if (isLatest && names.Length > 0)
            {
                throw new Engine.WharfException("--latest and containers cannot be used together");
            }

            if (isLatest)
            {
                names = [engine.Lifecycle.Latest().Id];
            }

            if (names.Length == 0)
            {
                bool full = parse.GetValue(noTrunc);
                await context.Out.WriteAsync(Table.Render([.. engine.Files.Mounted().Select(m => (IReadOnlyList<string>)[full ? m.Container.Id : m.Container.Id[..12], m.Path])])).ConfigureAwait(false);
                return 0;
            }

            foreach (string n in names)
            {
                await context.Out.WriteLineAsync(await engine.Files.MountRootfsAsync(n, ct).ConfigureAwait(false)).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }

    public static Command Unmount(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var command = new Command("unmount", "Unmount working container's root filesystem");
        command.Aliases.Add("umount");
        var selection = new SelectionOptions(command, "Unmount all of the currently mounted containers", filterAliases: null, ignore: false);
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var engine = ContainerCli.Engine(context, parse);
            var chosen = selection.Read(parse);
            var mounted = chosen.ByName ? null : engine.Files.Mounted().Select(m => m.Container.Id).ToHashSet(StringComparer.Ordinal);
            var selected = engine.Lifecycle.Select(chosen);
            if (chosen.Latest && selected.Count == 0)
            {
                throw new Engine.WharfException("no such container");
            }

            foreach (var (c, shown) in selected)
            {
                if (mounted is not null && !mounted.Contains(c.Id))
                {
                    continue;
                }

                engine.Files.UnmountRootfs(c.Id);
                await context.Out.WriteLineAsync(shown).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
