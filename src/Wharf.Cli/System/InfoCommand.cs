using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Cli.Output;
using Wharf.Engine;

namespace Wharf.Cli.SystemCommands;

/// <summary><c>wharf info</c>: host and store facts, as YAML-ish text or JSON.</summary>
public static class InfoCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var format = new Option<string?>("--format", "-f") { Description = "Change the output format to JSON or a Go template" };
        var command = new Command("info", "Display wharf system information") { format };
        command.SetAction(parse => context.Run(() =>
        {
            var info = context.Engine(parse).Info();
            var json = new JsonObject
            {
                ["host"] = new JsonObject { ["arch"] = info.Arch, ["os"] = info.Os, ["hostname"] = Environment.MachineName },
                ["registries"] = new JsonObject
                {
                    ["search"] = new JsonArray([.. info.SearchRegistries.Select(s => (JsonNode?)s)]),
                    ["configFile"] = info.RegistriesConf,
                },
                ["store"] = new JsonObject
                {
                    ["configFile"] = info.Storage.ConfigFile ?? string.Empty,
                    ["graphDriverName"] = info.Storage.Driver,
                    ["graphRoot"] = info.Storage.GraphRoot,
                    ["runRoot"] = info.Storage.RunRoot,
                    ["imageStore"] = new JsonObject { ["number"] = info.ImageCount },
                    ["wharfRoot"] = info.StoreRoot,
                },
                ["version"] = new JsonObject { ["Version"] = info.Version },
            };
            if (parse.GetValue(format) is "json")
            {
                context.Out.WriteLine(json.ToJsonString(JsonOutput.Indented));
                return 0;
            }

            context.Out.Write($"""
                host:
                  arch: {info.Arch}
                  hostname: {Environment.MachineName}
                  os: {info.Os}
                registries:
                  configFile: {info.RegistriesConf}
                  search: [{string.Join(", ", info.SearchRegistries)}]
                store:
                  configFile: {info.Storage.ConfigFile ?? string.Empty}
                  graphDriverName: {info.Storage.Driver}
                  graphRoot: {info.Storage.GraphRoot}
                  imageStore:
                    number: {info.ImageCount}
                  runRoot: {info.Storage.RunRoot}
                version:
                  Version: {info.Version}

                """);
            return 0;
        }));
        return command;
    }
}
