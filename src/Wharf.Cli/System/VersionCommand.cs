using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Cli.Output;
using Wharf.Engine;

namespace Wharf.Cli.SystemCommands;

/// <summary><c>wharf version</c>.</summary>
public static class VersionCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var format = new Option<string?>("--format", "-f") { Description = "Change the output format to JSON or a Go template" };
        var command = new Command("version", "Display the wharf version information") { format };
        command.SetAction(parse =>
        {
            string os = $"linux/{System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant().Replace("x64", "amd64", StringComparison.Ordinal)}";
            if (parse.GetValue(format) is "json")
            {
                context.Out.WriteLine(new JsonObject
                {
                    ["Client"] = new JsonObject { ["Version"] = ImageEngine.Version, ["GoVersion"] = Environment.Version.ToString(), ["OsArch"] = os },
                }.ToJsonString(JsonOutput.Indented));
                return 0;
            }

            context.Out.WriteLine($"Version:      {ImageEngine.Version}");
            context.Out.WriteLine($"API Version:  {ImageEngine.Version}");
            context.Out.WriteLine($".NET Version: {Environment.Version}");
            context.Out.WriteLine($"OS/Arch:      {os}");
            return 0;
        });
        return command;
    }
}
