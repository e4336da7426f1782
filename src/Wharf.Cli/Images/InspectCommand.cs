using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Cli.Output;
using Wharf.Engine;
using Wharf.Engine.Volumes;

namespace Wharf.Cli.Images;

/// <summary>
/// <c>wharf inspect NAME...</c> (and <c>image inspect</c>): containers, images and volumes, looked
/// up in that order as podman's <c>--type all</c> does; a JSON array, or a Go template per object.
/// </summary>
public static class InspectCommand
{
    private static readonly string[] Types = ["image", "container", "volume", "all"];

    /// <param name="fixedType"><c>image</c> for <c>image inspect</c>, <c>container</c> for <c>container inspect</c>: no <c>--type</c> then.</param>
    public static Command Create(CliContext context, string name, string? fixedType = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        var names = new Argument<string[]>("NAME") { Arity = fixedType == "image" ? ArgumentArity.OneOrMore : ArgumentArity.ZeroOrMore };
        var latest = new Option<bool>("--latest", "-l") { Description = "Act on the latest container wharf is aware of" };
        var format = new Option<string?>("--format", "-f") { Description = "Format the output to a Go template or json" };
        var type = new Option<string?>("--type", "-t") { Description = "Specify inspect-object type (image, container, volume or all)" };
        var size = new Option<bool>("--size", "-s") { Description = "Display total file size (accepted; sizes are in the image data)" };
        var command = new Command(name, "Display the configuration of an object") { names, format, size };
        if (fixedType is null)
        {
            command.Add(type);
        }

        // podman has --latest on inspect and container inspect, not on image inspect.
        if (fixedType != "image")
        {
            command.Add(latest);
        }

        command.SetAction(parse => context.Run(() =>
        {
            string t = fixedType ?? parse.GetValue(type) ?? "all";
            if (!Types.Contains(t))
            {
                throw new WharfException(t is "pod" or "network"
                    ? $"--type {t} is not supported by wharf"
                    : $"invalid type \"{t}\": must be \"image\", \"container\", \"pod\", \"network\", \"volume\", or \"all\"");
            }

            string[] given = parse.GetValue(names) ?? [];
            bool isLatest = parse.GetValue(latest);
            if (isLatest && given.Length > 0)
            {
                throw new WharfException("--latest and arguments cannot be used together");
            }

            if (isLatest && t == "image")
            {
                throw new WharfException("latest is not supported for type \"image\"");
            }

            if (!isLatest && given.Length == 0)
            {
                throw new WharfException("no names or ids specified");
            }

            var engine = context.Engine(parse);
            var containers = new Wharf.Engine.Containers.ContainerEngine(engine, context.Err);
            var volumes = new VolumeStore(engine);
            var objects = new List<JsonObject>();
            WharfException? missing = null;
            if (isLatest)
            {
                // podman: the container created last, whatever --type (a volume type finds nothing, without error).
                if (t != "volume")
                {
                    var last = containers.List().OrderBy(c => c.Created).LastOrDefault();
                    if (last is null)
                    {
                        missing = new WharfException("inspecting object: no containers to inspect: no such container");
                    }
                    else
                    {
                        given = [last.Id];
                        t = "container";
                    }
                }
            }

            foreach (string n in given)
            {
                if (Find(n, t, engine, containers, volumes) is { } found)
                {
                    objects.Add(found);
                }
                else
                {
                    missing ??= new WharfException("inspecting object: " + t switch
                    {
                        "container" => $"no such container {n}",
                        "image" => $"{n}: image not known",
                        "volume" => $"no such volume {n}",
                        _ => $"no such object: \"{n}\"",
                    });
                }
            }

            string? f = parse.GetValue(format);
            if (f is null or "json")
            {
                context.Out.WriteLine(new JsonArray([.. objects]).ToJsonString(Output.JsonOutput.Indented));
            }
            else
            {
                var template = new GoTemplate(f);
                foreach (var o in objects)
                {
                    context.Out.WriteLine(template.Render(o));
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

    private static JsonObject? Find(string name, string type, ImageEngine images, Wharf.Engine.Containers.ContainerEngine containers, VolumeStore volumes)
    {
        if (type is "container" or "all")
        {
            try
            {
                return Wharf.Engine.Containers.InspectDefaults.Complete(containers.Lifecycle.Inspect(name));
            }
            catch (WharfException)
            {
                // Not a container: an image or a volume may have the name.
            }
        }

        if (type is "image" or "all")
        {
            try
            {
                return images.Local.Inspect([name]).Images.FirstOrDefault();
            }
            catch (WharfException)
            {
                // Not an image either.
            }
        }

        if (type is "volume" or "all" && volumes.TryGet(name) is { } v)
        {
            return VolumeStore.Describe(v);
        }

        return null;
    }
}
