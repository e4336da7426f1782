using System.CommandLine;
using System.Globalization;
using Wharf.Cli.Output;

namespace Wharf.Cli.SystemCommands;

/// <summary><c>wharf system df</c>: podman's TYPE TOTAL ACTIVE SIZE RECLAIMABLE table.</summary>
public static class DfCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Show detailed information on disk usage" };
        var format = new Option<string?>("--format") { Description = "Pretty-print images using a Go template" };
        var command = new Command("df", "Show wharf disk usage") { verbose, format };
        command.SetAction(parse => context.Run(() =>
        {
            var report = context.Engine(parse).Local.DiskUsage();
            if (parse.GetValue(verbose))
            {
                context.Out.WriteLine("Images space usage:");
                context.Out.WriteLine();
                var rows = new List<IReadOnlyList<string>> { new[] { "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS" } };
                foreach (var (image, unique, shared) in report.PerImage)
                {
                    var names = image.Names.Count == 0 ? ["<none>:<none>"] : image.Names;
                    foreach (string n in names)
                    {
                        var (repo, tag) = n == "<none>:<none>" ? ("<none>", "<none>") : Engine.ImageNames.Split(n);
                        rows.Add([repo, tag, image.ShortId, Units.HumanDuration(DateTimeOffset.UtcNow - image.Created),
                            Units.HumanSize(image.Size), Units.HumanSize(shared), Units.HumanSize(unique),
                            report.ContainersPerImage.GetValueOrDefault(image.Id).ToString(CultureInfo.InvariantCulture)]);
                    }
                }

                context.Out.Write(Table.Render(rows));
                context.Out.WriteLine();
                context.Out.WriteLine("Containers space usage:");
                context.Out.WriteLine();
                context.Out.Write(Table.Render([["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"]]));
                context.Out.WriteLine();
                context.Out.WriteLine("Local Volumes space usage:");
                context.Out.WriteLine();
                context.Out.Write(Table.Render([["VOLUME NAME", "LINKS", "SIZE"]]));
                return 0;
            }

            string Percent(long part, long whole) => whole == 0 ? "0%" : ((int)Math.Round(100.0 * part / whole)).ToString(CultureInfo.InvariantCulture) + "%";
            var table = new List<IReadOnlyList<string>>
            {
                new[] { "TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE" },
                new[]
                {
                    "Images", report.Images.ToString(CultureInfo.InvariantCulture), report.Active.ToString(CultureInfo.InvariantCulture),
                    Units.HumanSize(report.Size), $"{Units.HumanSize(report.Reclaimable)} ({Percent(report.Reclaimable, report.Size)})",
                },
                new[]
                {
                    "Containers", report.Containers.ToString(CultureInfo.InvariantCulture), report.ContainersActive.ToString(CultureInfo.InvariantCulture),
                    Units.HumanSize(report.ContainersSize), $"{Units.HumanSize(report.ContainersReclaimable)} ({Percent(report.ContainersReclaimable, report.ContainersSize)})",
                },
                new[] { "Local Volumes", "0", "0", "0B", "0B (0%)" },
            };
            context.Out.Write(Table.Render(table));
            string limit = report.Quota is { } q ? $"quota {Units.HumanSize(q)} ({Percent(report.StoreUsed, q)} used)" : "no quota";
            context.Out.WriteLine($"Image store: {Units.HumanSize(report.StoreUsed)} used, {limit}, {Units.HumanSize(report.FilesystemFree)} free on the filesystem");
            return 0;
        }));
        return command;
    }
}
