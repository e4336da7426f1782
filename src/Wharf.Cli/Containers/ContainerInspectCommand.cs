using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Cli.Output;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf container inspect CONTAINER...</c>: a JSON array, or a Go template per container.</summary>
public static class ContainerInspectCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.OneOrMore };
        var format = new Option<string?>("--format", "-f") { Description = "Format the output using the given Go template" };
        var command = new Command("inspect", "Display the configuration of a container") { containers, format };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var engine = ContainerCli.Engine(context, parse);
            var items = (parse.GetValue(containers) ?? []).Select(engine.Inspect).ToList();
            if (parse.GetValue(format) is { } f && f != "json")
            {
                var template = new Output.GoTemplate(f);
                foreach (var item in items)
                {
                    await context.Out.WriteLineAsync(template.Render((field, asJson) =>
                    {
                        JsonNode? node = item;
                        foreach (string part in field.Split('.', StringSplitOptions.RemoveEmptyEntries))
                        {
                            node = node is JsonObject o && o.TryGetPropertyValue(part, out var v) ? v : null;
                            if (node is null)
                            {
                                return asJson ? "null" : "<no value>";
                            }
                        }

                        return asJson || node is not JsonValue ? node?.ToJsonString() : node.ToString();
                    })).ConfigureAwait(false);
                }

                return 0;
            }

            var array = new JsonArray([.. items.Select(i => (JsonNode?)i)]);
            await context.Out.WriteLineAsync(array.ToJsonString(JsonOutput.Indented)).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }
}
