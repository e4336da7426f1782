using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Cli.Output;
using Wharf.Engine.Containers;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf ps</c>: podman's columns (CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS, PORTS, NAMES), oldest first.</summary>
public static class PsCommand
{
    public static Command Create(CliContext context, string name, params string[] aliases)
    {
        ArgumentNullException.ThrowIfNull(context);
        var all = new Option<bool>("--all", "-a") { Description = "Show all the containers, default is only running containers" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print the numeric IDs of the containers only" };
        var noTrunc = new Option<bool>("--no-trunc") { Description = "Display the extended information" };
        var format = new Option<string?>("--format") { Description = "Pretty-print containers to JSON or using a Go template" };
        var filter = new Option<string[]>("--filter", "-f") { Description = "Filter output based on conditions given", AllowMultipleArgumentsPerToken = false };
        var noHeading = new Option<bool>("--noheading") { Description = "Do not print headers" };
        var sort = new Option<string?>("--sort") { Description = "Sort output by: command, created, id, image, names, runningfor, size, status" };
        var last = new Option<int?>("--last", "-n") { Description = "Print the n last created containers (all states)" };
        var latest = new Option<bool>("--latest", "-l") { Description = "Act on the latest container wharf is aware of" };
        var external = new Option<bool>("--external") { Description = "Show containers in storage not controlled by wharf (there are none)" };
        var size = new Option<bool>("--size", "-s") { Description = "Display the total file sizes" };
        var sync = new Option<bool>("--sync") { Description = "Accepted: wharf reads the runtime's state on every listing" };
        var pod = new Option<bool>("--pod", "-p") { Description = "Not supported by wharf (pods)" };
        var ns = new Option<bool>("--ns", "--namespace") { Description = "Not supported by wharf" };
        var watch = new Option<string?>("--watch", "-w") { Description = "Not supported by wharf" };
        var command = new Command(name, "List containers") { all, quiet, noTrunc, format, filter, noHeading, sort, last, latest, external, size, sync, pod, ns, watch };
        foreach (string a in aliases)
        {
            command.Aliases.Add(a);
        }

        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            foreach (var (refused, flag) in new[] { (parse.GetValue(pod), "--pod"), (parse.GetValue(ns), "--ns"), (parse.GetValue(watch) is not null, "--watch") })
            {
                if (refused)
                {
                    throw new Wharf.Engine.WharfException($"{flag} is not supported by wharf");
                }
            }

            string? sortBy = parse.GetValue(sort);
            if (sortBy is not (null or "command" or "created" or "id" or "image" or "names" or "runningfor" or "size" or "status"))
            {
                await context.Err.WriteLineAsync($"Error: invalid argument \"{sortBy}\" for \"--sort\" flag: \"{sortBy}\" is not a valid value.  Choose from: \"command, created, id, image, names, runningfor, size, status\"\nSee 'wharf ps --help'").ConfigureAwait(false);
                return 125;
            }

            var filters = parse.GetValue(filter) ?? [];
            var matcher = ContainerFilter.Parse(filters);
            var now = DateTimeOffset.UtcNow;
            bool full = parse.GetValue(noTrunc);
            var engine = ContainerCli.Engine(context, parse);
            var everything = engine.List();
            int? lastN = parse.GetValue(latest) ? 1 : parse.GetValue(last);

            // podman: a status filter, --last and --latest look at every container, as -a does.
            bool any = parse.GetValue(all) || lastN is not null || filters.Any(x => x.StartsWith("status=", StringComparison.Ordinal));
            var list = everything
                .Where(c => any || c.State is ContainerStates.Running or ContainerStates.Paused)
                .Where(c => matcher.Matches(c, everything))
                .ToList();
            if (lastN is int n && n >= 0)
            {
                list = [.. list.OrderByDescending(c => c.Created).Take(n)];
            }

            var sizes = parse.GetValue(size) ? list.ToDictionary(c => c.Id, c => engine.ContainerSize(c)) : null;
            list = sortBy switch
            {
                "command" => [.. list.OrderBy(c => string.Join(' ', c.Command), StringComparer.Ordinal)],
                "id" => [.. list.OrderBy(c => c.Id, StringComparer.Ordinal)],
                "image" => [.. list.OrderBy(c => c.ImageName, StringComparer.Ordinal)],
                "names" => [.. list.OrderBy(c => c.Name, StringComparer.Ordinal)],
                "status" => [.. list.OrderBy(c => Status(c, now), StringComparer.Ordinal)],
                "size" when sizes is not null => [.. list.OrderBy(c => sizes[c.Id])],
                _ => [.. list.OrderBy(c => c.Created)],
            };
            string? f = parse.GetValue(format);
            if (parse.GetValue(quiet))
            {
                foreach (var c in list)
                {
                    await context.Out.WriteLineAsync(full ? c.Id : c.Id[..12]).ConfigureAwait(false);
                }

                return 0;
            }

            if (f is "json")
            {
                var array = new JsonArray([.. list.Select(c => (JsonNode?)Json(c, now))]);
                await context.Out.WriteLineAsync(array.ToJsonString(JsonOutput.Indented)).ConfigureAwait(false);
                return 0;
            }

            if (f is not null)
            {
                var template = new GoTemplate(f);
                var sb = new System.Text.StringBuilder();
                var rows = new List<IReadOnlyList<string>>();
                if (template.IsTable && !parse.GetValue(noHeading))
                {
                    rows.Add(template.Header(h => h == "ID" ? "CONTAINER ID" : h.ToUpperInvariant()).Split('\t'));
                }

                foreach (var c in list)
                {
                    string line = template.Render((field, asJson) => field == "Size"
                        ? (sizes is null ? throw new Wharf.Engine.WharfException("Size format requires --size option") : SizeText(sizes[c.Id]))
                        : Field(c, field, now, full));
                    if (template.IsTable)
                    {
                        rows.Add(line.Split('\t'));
                    }
                    else
                    {
                        sb.Append(line).Append('\n');
                    }
                }

                await context.Out.WriteAsync(template.IsTable ? Table.Render(rows) : sb.ToString()).ConfigureAwait(false);
                return 0;
            }

            var table = new List<IReadOnlyList<string>>();
            if (!parse.GetValue(noHeading))
            {
                table.Add(sizes is null
                    ? ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
                    : ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES", "SIZE"]);
            }

            foreach (var c in list)
            {
                List<string> row = [full ? c.Id : c.Id[..12], c.ImageName, Command(c, full), Units.HumanDuration(now - c.Created) + " ago", Status(c, now), string.Empty, c.Name];
                if (sizes is not null)
                {
                    row.Add(SizeText(sizes[c.Id]));
                }

                table.Add(row);
            }

            await context.Out.WriteAsync(Table.Render(table)).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }

    /// <summary>podman's SIZE column: what the container wrote, then the image under it.</summary>
    private static string SizeText((long Written, long Image) size) =>
        $"{Units.HumanSize(size.Written, 3)} (virtual {Units.HumanSize(size.Written + size.Image, 3)})";

    private static string Command(ContainerRecord c, bool full)
    {
        string command = string.Join(' ', c.Command);
        return !full && command.Length > 17 ? command[..17] + "..." : command;
    }

    /// <summary><c>Created</c>, <c>Up 2 seconds ago</c>, <c>Exited (0) 2 minutes ago</c>.</summary>
    public static string Status(ContainerRecord c, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(c);
        return c.State switch
        {
            ContainerStates.Running => $"Up {Units.HumanDuration(now - (c.StartedAt ?? c.Created))} ago",
            ContainerStates.Paused => "Paused",
            ContainerStates.Exited => $"Exited ({c.ExitCode}) {Units.HumanDuration(now - (c.FinishedAt ?? c.Created))} ago",
            _ => "Created",
        };
    }

    private static string? Field(ContainerRecord c, string field, DateTimeOffset now, bool full) => field switch
    {
        "ID" => full ? c.Id : c.Id[..12],
        "Image" => c.ImageName,
        "ImageID" => c.ImageId,
        "Command" => Command(c, full),
        "CreatedHuman" or "RunningFor" => Units.HumanDuration(now - c.Created) + " ago",
        "CreatedAt" => c.Created.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture),
        "Created" => c.Created.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
        "Status" => Status(c, now),
        "State" => c.State,
        "Names" => c.Name,
        "Ports" => string.Empty,
        "ExitCode" => c.ExitCode.ToString(CultureInfo.InvariantCulture),
        "AutoRemove" => c.AutoRemove ? "true" : "false",
        "Mounts" => "[" + string.Join(' ', c.Mounts.Select(m => m.Destination)) + "]",
        _ => null,
    };

    private static JsonObject Json(ContainerRecord c, DateTimeOffset now) => new()
    {
        ["AutoRemove"] = c.AutoRemove,
        ["Command"] = new JsonArray([.. c.Command.Select(x => (JsonNode?)x)]),
        ["CreatedAt"] = Units.HumanDuration(now - c.Created) + " ago",
        ["Exited"] = c.State == ContainerStates.Exited,
        ["ExitedAt"] = c.FinishedAt?.ToUnixTimeSeconds() ?? 0,
        ["ExitCode"] = c.ExitCode,
        ["Id"] = c.Id,
        ["Image"] = c.ImageName,
        ["ImageID"] = c.ImageId,
        ["IsInfra"] = false,
        ["Labels"] = c.Settings.Labels is { } l ? new JsonObject(l.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))) : null,
        ["Mounts"] = new JsonArray([.. c.Mounts.Select(m => (JsonNode?)m.Destination)]),
        ["Names"] = new JsonArray(c.Name),
        ["Namespaces"] = new JsonObject(),
        ["Networks"] = new JsonArray(),
        ["Pid"] = 0,
        ["Pod"] = string.Empty,
        ["PodName"] = string.Empty,
        ["Ports"] = null,
        ["Size"] = null,
        ["StartedAt"] = c.StartedAt?.ToUnixTimeSeconds() ?? 0,
        ["State"] = c.State,
        ["Status"] = Status(c, now),
        ["Created"] = c.Created.ToUnixTimeSeconds(),
    };
}
