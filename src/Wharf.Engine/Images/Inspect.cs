using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Engine.Storage;
using Wharf.Oci;

namespace Wharf.Engine;

public sealed record InspectReport(IReadOnlyList<JsonObject> Images);

public sealed partial class LocalImages
{
    /// <summary>podman image inspect: one JSON object per image, with podman's keys.</summary>
    public InspectReport Inspect(IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var result = new List<JsonObject>();
        foreach (string n in names)
        {
            var image = LookupImage(n);
            result.Add(Describe(image));
        }

        return new InspectReport(result);
    }

    internal JsonObject Describe(ImageRecord image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var manifest = ManifestParser.Parse(Store.ReadBlob(image.Digest), image.ManifestMediaType);
        var configNode = JsonNode.Parse(Store.ReadBlob(manifest.Config!.Digest)) as JsonObject ?? [];
        var config = configNode["config"]?.DeepClone() as JsonObject ?? [];
        var labels = config["Labels"]?.DeepClone();
        var history = configNode["history"]?.DeepClone() ?? new JsonArray();
        var diffIds = configNode["rootfs"]?["diff_ids"]?.DeepClone() ?? new JsonArray();
        var annotations = new JsonObject();
        if (manifest.Annotations is { } a)
        {
            foreach (var (k, v) in a)
            {
                annotations[k] = v;
            }
        }

        return new JsonObject
        {
            ["Id"] = image.Id,
            ["Digest"] = image.Digest,
            ["RepoTags"] = new JsonArray([.. image.Names.Where(x => !x.Contains('@', StringComparison.Ordinal)).Select(x => (JsonNode?)x)]),
            ["RepoDigests"] = new JsonArray([.. RepoDigests(image).Select(x => (JsonNode?)x)]),
            ["Parent"] = string.Empty,
            ["Comment"] = configNode["comment"]?.GetValue<string>() ?? string.Empty,
            ["Created"] = image.Created.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.FFFFFFFZ", System.Globalization.CultureInfo.InvariantCulture),
            ["Config"] = config,
            ["Version"] = configNode["docker_version"]?.GetValue<string>() ?? string.Empty,
            ["Author"] = configNode["author"]?.GetValue<string>() ?? string.Empty,
            ["Architecture"] = configNode["architecture"]?.GetValue<string>() ?? string.Empty,
            ["Os"] = configNode["os"]?.GetValue<string>() ?? string.Empty,
            ["Size"] = image.Size,
            ["VirtualSize"] = image.Size,
            ["GraphDriver"] = new JsonObject { ["Name"] = "wharf", ["Data"] = new JsonObject { ["Root"] = Store.Root } },
            ["RootFS"] = new JsonObject { ["Type"] = "layers", ["Layers"] = diffIds },
            ["Labels"] = labels,
            ["Annotations"] = annotations,
            ["ManifestType"] = image.ManifestMediaType,
            ["User"] = config["User"]?.GetValue<string>() ?? string.Empty,
            ["History"] = history,
            ["NamesHistory"] = new JsonArray([.. image.Names.Select(x => (JsonNode?)x)]),
        };
    }

    internal static JsonSerializerOptions InspectJson { get; } = new() { WriteIndented = true };
}

public sealed partial class LocalImages
{
    /// <summary>The config's labels, or null.</summary>
    public JsonObject? Labels(ImageRecord image)
    {
        ArgumentNullException.ThrowIfNull(image);
        try
        {
            return Describe(image)["Labels"]?.DeepClone() as JsonObject;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
