using System.Globalization;

namespace Wharf.Engine.Rootless;

/// <summary>A block of IDs: <paramref name="Start"/> on the host, <paramref name="Count"/> long.</summary>
public readonly record struct IdRange(uint Start, uint Count);

/// <summary>
/// subuid(5)/subgid(5): lines <c>USER:START:COUNT</c>, USER being a login name or a numeric ID. These
/// ranges are what newuidmap/newgidmap let an ordinary user map into a user namespace beside their own ID.
/// </summary>
public static class SubordinateIds
{
    public const string UidFile = "/etc/subuid";
    public const string GidFile = "/etc/subgid";

    /// <summary>The ranges given to <paramref name="user"/> (name or numeric <paramref name="id"/>), in file order; empty when none or no file.</summary>
    public static IReadOnlyList<IdRange> Read(string file, string? user, uint id)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (!File.Exists(file))
        {
            return [];
        }

        string idText = id.ToString(CultureInfo.InvariantCulture);
        var ranges = new List<IdRange>();
        foreach (string raw in File.ReadLines(file))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            string[] f = line.Split(':');
            if (f.Length != 3 || (f[0] != user && f[0] != idText))
            {
                continue;
            }

            if (uint.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out uint start)
                && uint.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out uint count) && count > 0)
            {
                ranges.Add(new IdRange(start, count));
            }
        }

        return ranges;
    }

    /// <summary>
    /// The newuidmap/newgidmap arguments: the user's own ID as 0 inside, then each range after it
    /// (1…, then on), as podman maps them.
    /// </summary>
    public static List<string> MapArguments(uint ownId, IReadOnlyList<IdRange> ranges)
    {
        ArgumentNullException.ThrowIfNull(ranges);
        var args = new List<string> { "0", ownId.ToString(CultureInfo.InvariantCulture), "1" };
        uint inside = 1;
        foreach (var r in ranges)
        {
            args.Add(inside.ToString(CultureInfo.InvariantCulture));
            args.Add(r.Start.ToString(CultureInfo.InvariantCulture));
            args.Add(r.Count.ToString(CultureInfo.InvariantCulture));
            inside += r.Count;
        }

        return args;
    }
}
