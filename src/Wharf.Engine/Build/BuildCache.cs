using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Engine.Storage;

namespace Wharf.Engine.Build;

/// <summary>
/// Cache key (parent image, instruction, content hash) → image ID, in one JSON file next to the store.
/// Concurrent builds (several wharf processes, or several builds in one) share it: a writer holds
/// <c>PATH.lock</c> across its read-modify-write so no entry is lost, and publishes the new map by
/// write, fsync, rename, so a reader (who takes no lock) sees the old file or the new one, never half of one.
/// </summary>
internal sealed class BuildCache(string path)
{
    public string? Get(string key)
    {
        return Read()?[key]?.GetValue<string>();
    }

    public void Put(string key, string imageId)
    {
        using (FileLock.Acquire(path + ".lock", "the build cache"))
        {
            var map = Read() ?? [];
            map[key] = imageId;
            string temp = path + "." + Guid.NewGuid().ToString("N");
            try
            {
                using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
                {
                    file.Write(Encoding.UTF8.GetBytes(map.ToJsonString()));
                    file.Flush(flushToDisk: true);
                }

                File.Move(temp, path, overwrite: true);
            }
            finally
            {
                File.Delete(temp);
            }
        }
    }

    /// <summary>The whole map; null when there is none yet or it cannot be read (a cache miss, not an error).</summary>
    private JsonObject? Read()
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject;
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null;
        }
    }
}
