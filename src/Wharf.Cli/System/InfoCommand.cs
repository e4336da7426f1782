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
            var engine = context.Engine(parse);
            var info = engine.Local.Info();
            var containers = new Wharf.Engine.Containers.ContainerEngine(engine, context.Err);
            var list = containers.List();
            string runtimePath;
            try
            {
                runtimePath = containers.Runtime.Path;
            }
            catch (WharfException)
            {
                runtimePath = string.Empty;
            }

            var json = new JsonObject
            {
                ["host"] = new JsonObject
                {
                    ["arch"] = info.Arch,
                    ["cgroupManager"] = "cgroupfs",
                    ["cpus"] = Environment.ProcessorCount,
                    ["eventLogger"] = "file",
                    ["hostname"] = Environment.MachineName,
                    ["kernel"] = Environment.OSVersion.Version.ToString(),
                    ["logDriver"] = "k8s-file",
                    ["ociRuntime"] = new JsonObject { ["name"] = Path.GetFileName(runtimePath), ["path"] = runtimePath },
                    ["os"] = info.Os,
                },
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
                    ["containerStore"] = new JsonObject
                    {
                        ["number"] = list.Count,
                        ["paused"] = list.Count(c => c.State == Wharf.Engine.Containers.ContainerStates.Paused),
                        ["running"] = list.Count(c => c.State == Wharf.Engine.Containers.ContainerStates.Running),
                        ["stopped"] = list.Count(c => c.State is Wharf.Engine.Containers.ContainerStates.Exited or Wharf.Engine.Containers.ContainerStates.Created),
                    },
                    ["volumePath"] = containers.Volumes.Root,
                    ["wharfRoot"] = info.StoreRoot,
                },
                ["version"] = VersionCommand.Client(),
            };
            string? f = parse.GetValue(format);
            if (f is "json")
            {
                context.Out.WriteLine(json.ToJsonString(JsonOutput.Indented));
                return 0;
            }

            if (f is not null)
            {
                // Templates name podman's Go fields (.Host.Arch, .Store.GraphRoot); registries stay a map.
                context.Out.WriteLine(new Output.GoTemplate(f).Render(VersionCommand.GoFields(json)));
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
