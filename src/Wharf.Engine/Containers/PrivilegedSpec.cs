using System.Text.Json.Nodes;
using Wharf.Content.Layers;

namespace Wharf.Engine.Containers;

/// <summary>
/// What podman's <c>--privileged</c> changes in the runtime spec beyond the capabilities: /proc and
/// /sys are not masked or read-only, /sys and the cgroup mount are writable, and every device node of
/// the host's /dev is created in the container with a cgroup rule allowing all devices.
/// </summary>
internal static class PrivilegedSpec
{
    /// <summary>Nodes the runtime makes itself, and the ones that belong to the container's own /dev.</summary>
    private static readonly string[] RuntimeOwn =
        ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx", "/dev/console"];

    private static readonly string[] SkippedDirs = ["/dev/pts", "/dev/shm", "/dev/mqueue"];

    public static void Apply(JsonObject spec)
    {
        var linux = spec["linux"]!.AsObject();
        linux.Remove("maskedPaths");
        linux.Remove("readonlyPaths");
        foreach (var m in spec["mounts"]!.AsArray())
        {
            if ((string?)m!["destination"] is "/sys" or "/sys/fs/cgroup" && m["options"] is JsonArray options)
            {
                options.Remove(options.FirstOrDefault(o => (string?)o == "ro"));
                options.Add((JsonNode)"rw");
            }
        }

        var devices = linux["devices"] as JsonArray ?? [];
        var known = devices.Select(d => (string?)d!["path"]).ToHashSet(StringComparer.Ordinal);
        foreach (var node in HostDevices().Where(n => !known.Contains(n.ContainerPath)))
        {
            devices.Add((JsonNode)new JsonObject
            {
                ["path"] = node.ContainerPath,
                ["type"] = node.Type,
                ["major"] = node.Major,
                ["minor"] = node.Minor,
                ["fileMode"] = node.FileMode,
                ["uid"] = node.Uid,
                ["gid"] = node.Gid,
            });
        }

        linux["devices"] = devices;
        linux["resources"]!["devices"] = new JsonArray(new JsonObject { ["allow"] = true, ["access"] = "rwm" });
    }

    private static IEnumerable<DeviceNode> HostDevices()
    {
        var pending = new Stack<string>([ "/dev" ]);
        while (pending.Count > 0)
        {
            string dir = pending.Pop();
            IEnumerable<string> entries;
            try
            {
                entries = Directory.EnumerateFileSystemEntries(dir).ToList();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            foreach (string path in entries.Order(StringComparer.Ordinal))
            {
                if (SkippedDirs.Contains(path) || RuntimeOwn.Contains(path))
                {
                    continue;
                }

                var st = FileStatus.LStat(path);
                if (st is null)
                {
                    continue;
                }

                uint fmt = st.Value.Mode & ContainerNative.S_IFMT;
                if (fmt == ContainerNative.S_IFDIR)
                {
                    pending.Push(path);
                }
                else if (fmt is ContainerNative.S_IFCHR or ContainerNative.S_IFBLK)
                {
                    yield return Cdi.HostDevice(path, path, "rwm");
                }
            }
        }
    }
}
