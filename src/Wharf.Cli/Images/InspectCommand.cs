using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Cli.Output;
using Wharf.Engine;

namespace Wharf.Cli.Images;

/// <summary><c>wharf inspect NAME...</c>: a JSON array, or a Go template per image.</summary>
public static class InspectCommand
{
    public static Command Create(CliContext context, string name)
    {
        ArgumentNullException.ThrowIfNull(context);
        var names = new Argument<string[]>("NAME") { Arity = ArgumentArity.OneOrMore };
        var format = new Option<string?>("--format", "-f") { Description = "Format the output to a Go template or json" };
        var type = new Option<string?>("--type", "-t") { Description = "Specify inspect-object type (image)" };
        var command = new Command(name, "Display the configuration of an image") { names, format, type };
        command.SetAction(parse => context.Run(() =>
        {
            if (parse.GetValue(type) is { } t && t is not ("image" or "all"))
            {
                throw new WharfException($"invalid type \"{t}\": wharf inspects images only");
            }

            var engine = context.Engine(parse);
            var objects = new List<JsonObject>();
            WharfException? missing = null;
            foreach (string n in parse.GetRequiredValue(names))
            {
                try
                {
                    objects.AddRange(engine.Inspect([n]).Images);
                }
                catch (WharfException e)
                {
                    missing ??= new WharfException($"no such object: \"{n}\"");
                    _ = e;
                }
            }

            string? f = parse.GetValue(format);
            if (f is null or "json")
            {
                var array = new JsonArray([.. objects]);
                context.Out.WriteLine(array.ToJsonString(JsonOutput.Indented));
            }
            else
            {
                var template = new GoTemplate(f);
                foreach (var o in objects)
                {
                    context.Out.WriteLine(template.Render((field, json) => Lookup(o, field, json)));
                }
            }

            if (missing is not null)
            {
                throw missing;
            }

            return 0;
        }));
        return command;
    }

    private static string? Lookup(JsonObject root, string path, bool json)
    {
        JsonNode? node = root;
        if (path.Length > 0)
        {
            foreach (string part in path.Split('.'))
            {
                if (node is not JsonObject o || !o.TryGetPropertyValue(part, out node))
                {
                    return null;
                }
            }
        }

        if (json)
        {
            return node?.ToJsonString() ?? "null";
        }

        return node switch
        {
            null => "<no value>",
            JsonValue v when v.TryGetValue(out string? s) => s,
            JsonArray a => "[" + string.Join(' ', a.Select(x => x is JsonValue xv && xv.TryGetValue(out string? xs) ? xs : x?.ToJsonString())) + "]",
            JsonObject o => "map[" + string.Join(' ', o.Select(p => p.Key + ":" + (p.Value is JsonValue pv && pv.TryGetValue(out string? ps) ? ps : p.Value?.ToJsonString()))) + "]",
            _ => node.ToJsonString(),
        };
    }
}
