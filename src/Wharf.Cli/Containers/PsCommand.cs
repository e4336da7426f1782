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
        var command = new Command(name, "List containers") { all, quiet, noTrunc, format };
        foreach (string a in aliases)
        {
            command.Aliases.Add(a);
        }

        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var now = DateTimeOffset.UtcNow;
            bool full = parse.GetValue(noTrunc);
            var list = ContainerCli.Engine(context, parse).List()
                .Where(c => parse.GetValue(all) || c.State is ContainerStates.Running or ContainerStates.Paused).ToList();
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
                if (template.IsTable)
                {
                    rows.Add(template.Header(h => h == "ID" ? "CONTAINER ID" : h.ToUpperInvariant()).Split('\t'));
                }

                foreach (var c in list)
                {
                    string line = template.Render((field, asJson) => Field(c, field, now, full));
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

            var table = new List<IReadOnlyList<string>> { new[] { "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES" } };
            foreach (var c in list)
            {
                table.Add([full ? c.Id : c.Id[..12], c.ImageName, Command(c, full), Units.HumanDuration(now - c.Created) + " ago", Status(c, now), string.Empty, c.Name]);
            }

            await context.Out.WriteAsync(Table.Render(table)).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }

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
