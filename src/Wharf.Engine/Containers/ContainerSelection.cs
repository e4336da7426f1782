using System.Globalization;
using System.Text.RegularExpressions;

namespace Wharf.Engine.Containers;

/// <summary>
/// Which containers a verb acts on, as podman's rm/start/stop/kill choose them: names given,
/// <c>--all</c>, <c>--latest</c> (the newest created), or <c>--filter</c> (with or without --all).
/// </summary>
public sealed record ContainerSelection
{
    public IReadOnlyList<string> Names { get; init; } = [];

    public bool All { get; init; }

    public bool Latest { get; init; }

    /// <summary><c>key=value</c>: id, name (a regular expression, as podman), status, exited, label, ancestor.</summary>
    public IReadOnlyList<string> Filters { get; init; } = [];

    /// <summary>Missing names are skipped (<c>--ignore</c>).</summary>
    public bool Ignore { get; init; }

    /// <summary>Whether the containers were chosen by name (podman then prints the names as given, else full IDs).</summary>
    public bool ByName => !All && !Latest && Filters.Count == 0;

    /// <summary>Refuses contradictory flags and malformed filters before anything is touched.</summary>
    public void Check()
    {
        // podman's messages, in podman's order of checking.
        if (All && Latest)
        {
            throw new WharfException("--all and --latest cannot be used together");
        }

        if (Names.Count > 0 && (All || Latest || Filters.Count > 0))
        {
            throw new WharfException(All ? "no arguments are needed with --all" : Latest ? "--latest and containers cannot be used together" : "--filter takes no arguments");
        }

        if (ByName && Names.Count == 0)
        {
            throw new WharfException("you must provide at least one name or id");
        }

        ContainerFilter.Parse(Filters);
    }
}

/// <summary>podman's container filters (podman-ps(1)): different keys must all match, values of one key any.</summary>
public sealed class ContainerFilter
{
    private static readonly HashSet<string> Keys = new(StringComparer.Ordinal) { "id", "name", "status", "exited", "label", "ancestor", "before", "since", "volume" };

    private static readonly HashSet<string> Statuses = new(StringComparer.Ordinal)
    {
        "created", "exited", "paused", "running", "unknown", "configured", "removing", "stopping",
    };

    private readonly ILookup<string, string> _filters;

    private ContainerFilter(ILookup<string, string> filters) => _filters = filters;

    public static ContainerFilter Parse(IReadOnlyList<string> filters)
    {
        ArgumentNullException.ThrowIfNull(filters);
        var pairs = new List<(string Key, string Value)>();
        foreach (string f in filters)
        {
            int eq = f.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new WharfException($"invalid filter \"{f}\"");
            }

            string key = f[..eq];
            string value = f[(eq + 1)..];
            if (!Keys.Contains(key))
            {
                throw new WharfException($"{key} is an invalid filter");
            }

            if (key == "status" && !Statuses.Contains(value))
            {
                throw new WharfException($"unknown container state: {value}: invalid argument");
            }

            if (key == "exited" && !int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
            {
                throw new WharfException($"exited code out of range \"{value}\"");
            }

            if (key == "name")
            {
                try
                {
                    _ = new Regex(value, RegexOptions.None, TimeSpan.FromSeconds(1));
                }
                catch (ArgumentException e)
                {
                    throw new WharfException($"invalid filter \"{f}\": {e.Message}");
                }
            }

            pairs.Add((key, value));
        }

        return new ContainerFilter(pairs.ToLookup(p => p.Key, p => p.Value, StringComparer.Ordinal));
    }

    public bool Matches(ContainerRecord c) => Matches(c, []);

    /// <summary><paramref name="all"/> resolves <c>before=</c>/<c>since=</c> (a container name or ID); a missing one fails as podman.</summary>
    public bool Matches(ContainerRecord c, IReadOnlyList<ContainerRecord> all)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentNullException.ThrowIfNull(all);
        DateTimeOffset Created(string nameOrId) =>
            (all.FirstOrDefault(o => o.Name == nameOrId || o.Id == nameOrId) ?? all.FirstOrDefault(o => o.Id.StartsWith(nameOrId, StringComparison.Ordinal)))?.Created
            ?? throw new WharfException($"no container with name or ID \"{nameOrId}\" found: no such container");
        foreach (var group in _filters)
        {
            bool any = group.Any(v => group.Key switch
            {
                "id" => c.Id.StartsWith(v, StringComparison.Ordinal),
                "name" => Regex.IsMatch(c.Name, v, RegexOptions.None, TimeSpan.FromSeconds(1)),
                "status" => c.State == v,
                "exited" => c.State == ContainerStates.Exited && c.ExitCode.ToString(CultureInfo.InvariantCulture) == v,
                "label" => LabelMatches(c, v),
                "before" => c.Created < Created(v),
                "since" => c.Created > Created(v),
                "volume" => c.Mounts.Any(m => m.Destination == v || m.Source == v || System.IO.Path.GetFileName(System.IO.Path.GetDirectoryName(m.Source)) == v),
                "ancestor" => c.ImageName == v || c.ImageId.StartsWith(v, StringComparison.Ordinal) || c.ImageName.StartsWith(v + ":", StringComparison.Ordinal),
                _ => false,
            });
            if (!any)
            {
                return false;
            }
        }

        return true;
    }

    private static bool LabelMatches(ContainerRecord c, string filter)
    {
        var labels = c.Settings.Labels ?? [];
        int eq = filter.IndexOf('=', StringComparison.Ordinal);
        return eq < 0 ? labels.ContainsKey(filter) : labels.TryGetValue(filter[..eq], out string? v) && v == filter[(eq + 1)..];
    }
}
