using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Cli.Output;
using Wharf.Engine;

namespace Wharf.Cli.SystemCommands;

/// <summary><c>wharf version</c>.</summary>
public static class VersionCommand
{
    /// <summary>podman's <c>version</c> keys with wharf's values.</summary>
    public static JsonObject Client()
    {
        string arch = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()
            .Replace("x64", "amd64", StringComparison.Ordinal);
        var built = Environment.ProcessPath is { } exe && File.Exists(exe) ? File.GetLastWriteTimeUtc(exe) : DateTime.UnixEpoch;
        return new JsonObject
        {
            ["APIVersion"] = ImageEngine.Version,
            ["Version"] = ImageEngine.Version,
            ["GoVersion"] = ".NET " + Environment.Version,
            ["GitCommit"] = string.Empty,
            // Go's ANSIC layout: the day padded with a space to two characters.
            ["BuiltTime"] = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{built:ddd MMM} {built.Day,2} {built:HH:mm:ss yyyy}"),
            ["Built"] = new DateTimeOffset(built, TimeSpan.Zero).ToUnixTimeSeconds(),
            ["OsArch"] = "linux/" + arch,
            ["Os"] = "linux",
        };
    }

    /// <summary>The JSON as podman's Go structs name it for templates: <c>host.arch</c> → <c>.Host.Arch</c>; the registries map keeps its keys.</summary>
    public static JsonObject GoFields(JsonObject json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var result = new JsonObject();
        foreach (var (key, value) in json)
        {
            string name = key switch
            {
                "os" => "OS",
                "ociRuntime" => "OCIRuntime",
                "cpus" => "CPUs",
                _ => char.ToUpperInvariant(key[0]) + key[1..],
            };
            result[name] = value is JsonObject o && key != "registries" ? GoFields(o) : value?.DeepClone();
        }

        return result;
    }

    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var format = new Option<string?>("--format", "-f") { Description = "Change the output format to JSON or a Go template" };
        var command = new Command("version", "Display the wharf version information") { format };
        command.SetAction(parse => context.Run(() =>
        {
            var client = Client();
            string? f = parse.GetValue(format);
            if (f is "json")
            {
                context.Out.WriteLine(new JsonObject { ["Client"] = client }.ToJsonString(Output.JsonOutput.Indented));
                return 0;
            }

            if (f is not null)
            {
                context.Out.WriteLine(new Output.GoTemplate(f).Render(new JsonObject { ["Client"] = client }));
                return 0;
            }

            // podman's layout and keys; Go Version names the .NET runtime wharf runs on.
            context.Out.Write($"""
                Client:       Wharf Engine
                Version:      {client["Version"]}
                API Version:  {client["APIVersion"]}
                Go Version:   {client["GoVersion"]}
                Built:        {client["BuiltTime"]}
                OS/Arch:      {client["OsArch"]}

                """);
            return 0;
        }));
        return command;
    }
}
