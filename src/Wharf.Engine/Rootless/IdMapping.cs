using System.Globalization;

namespace Wharf.Engine.Rootless;

/// <summary>One line of a runtime spec's uidMappings/gidMappings: container IDs from <paramref name="ContainerId"/> are this namespace's from <paramref name="HostId"/>.</summary>
public readonly record struct IdMapping(uint ContainerId, uint HostId, uint Size);

/// <summary>
/// <c>--userns=keep-id</c> as podman maps it: the user's own ID inside the container is the ID that
/// is the user on the host (0 of wharf's namespace), and the subordinate IDs fill the rest, so a
/// process running as the user writes files the user owns on the host.
/// </summary>
public static class KeepId
{
    /// <summary>How many IDs this process's user namespace maps (the sum of /proc/self/uid_map or gid_map).</summary>
    public static uint Available(string mapFile)
    {
        uint total = 0;
        foreach (string line in File.ReadLines(mapFile))
        {
            string[] f = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length == 3 && uint.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out uint n))
            {
                total = n > uint.MaxValue - total ? uint.MaxValue : total + n;
            }
        }

        return total;
    }

    /// <summary>
    /// Container IDs 0…id-1 are namespace IDs 1…id, <paramref name="id"/> is namespace 0 (the user), and
    /// id+1… are the same namespace IDs, as far as <paramref name="available"/> IDs reach.
    /// </summary>
    public static List<IdMapping> Mappings(uint id, uint available)
    {
        var map = new List<IdMapping>();
        uint below = Math.Min(id, available - 1);
        if (below > 0)
        {
            map.Add(new IdMapping(0, 1, below));
        }

        map.Add(new IdMapping(id, 0, 1));
        if (id < uint.MaxValue && id + 1 < available)
        {
            map.Add(new IdMapping(id + 1, id + 1, available - id - 1));
        }

        return map;
    }

    /// <summary>The user's host UID and GID, as the entering wharf handed them down; null outside the namespace.</summary>
    public static (uint Uid, uint Gid)? HostIds() =>
        uint.TryParse(Environment.GetEnvironmentVariable(UserNamespace.UidVariable), NumberStyles.None, CultureInfo.InvariantCulture, out uint uid)
        && uint.TryParse(Environment.GetEnvironmentVariable(UserNamespace.GidVariable), NumberStyles.None, CultureInfo.InvariantCulture, out uint gid)
        && UserNamespace.IsInside()
            ? (uid, gid)
            : null;
}
