using System.Text.Json;
using System.Text.Json.Nodes;

namespace Wharf.Engine.Build;

/// <summary>Cache key (parent image, instruction, content hash) → image ID, in one JSON file next to the store.</summary>
internal sealed class BuildCache(string path)
{
    public string? Get(string key)
    {
        try
        {
            var map = JsonNode.Parse(File.ReadAllText(path)) as JsonObject;
            return map?[key]?.GetValue<string>();
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null;
        }
    }

    public void Put(string key, string imageId)
    {
        JsonObject map;
        try
        {
            map = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? [];
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            map = [];
        }

        map[key] = imageId;
        string temp = path + "." + Guid.NewGuid().ToString("N");
        File.WriteAllText(temp, map.ToJsonString());
        File.Move(temp, path, overwrite: true);
    }
}
