using System.Globalization;

namespace Wharf.Engine.Events;

/// <summary>
/// <c>podman events --filter</c> (libpod/events/filters.go): values of one key are alternatives,
/// different keys must all match. Unknown keys are an error here; podman 4.3 prints nothing instead.
/// </summary>
public sealed class EventFilter
{
    private readonly Dictionary<string, List<Func<WharfEvent, bool>>> _tests = new(StringComparer.Ordinal);

    public DateTimeOffset? Since { get; private set; }

    public DateTimeOffset? Until { get; private set; }

    public static EventFilter Parse(IEnumerable<string> filters, string? since, string? until, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(filters);
        var f = new EventFilter();
        foreach (string filter in filters)
        {
            int eq = filter.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new WharfException($"invalid filter \"{filter}\": filters must be KEY=VALUE");
            }

            string key = filter[..eq].ToLowerInvariant();
            string value = filter[(eq + 1)..];
            Func<WharfEvent, bool> test = key switch
            {
                "container" => e => e.Type == WharfEvent.ContainerType && (e.Name == value || (e.Id ?? string.Empty).StartsWith(value, StringComparison.Ordinal)),
                "event" or "status" => e => e.Status == value,
                "image" => e => e.Type == WharfEvent.ImageType && (e.Name == value || (value.Length > 0 && (e.Id ?? string.Empty).StartsWith(value, StringComparison.Ordinal))),
                "volume" => e => e.Type == WharfEvent.VolumeType && (e.Name ?? string.Empty).StartsWith(value, StringComparison.Ordinal),
                "type" => WharfEvent.TypeIsKnown(value) ? e => e.Type == value : throw new WharfException($"unknown event type \"{value}\": must be container, image, volume or system"),
                "label" => Label(value),
                "since" => Time(value, now, isSince: true),
                "until" => Time(value, now, isSince: false),
                "pod" or "network" => e => false,
                _ => throw new WharfException($"{key} is an invalid filter"),
            };
            TestsFor(f, key).Add(test);
        }

        if (since is not null)
        {
            f.Since = TimeInput.Parse(since, now, isSince: true);
        }

        if (until is not null)
        {
            f.Until = TimeInput.Parse(until, now, isSince: false);
        }

        return f;
    }

    private static List<Func<WharfEvent, bool>> TestsFor(EventFilter f, string key)
    {
        if (!f._tests.TryGetValue(key, out var list))
        {
            list = [];
            f._tests[key] = list;
        }

        return list;
    }

    private static Func<WharfEvent, bool> Label(string value)
    {
        // podman 4.3 matches KEY=VALUE exactly; a bare key matches nothing.
        string[] kv = value.Split('=', 2);
        return e => kv.Length == 2 && e.Attributes is { } a && a.TryGetValue(kv[0], out string? v) && v == kv[1];
    }

    private static Func<WharfEvent, bool> Time(string value, DateTimeOffset now, bool isSince)
    {
        var t = TimeInput.Parse(value, now, isSince);
        return isSince ? e => e.Time >= t : e => e.Time <= t;
    }

    public bool Matches(WharfEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (Since is { } s && e.Time < s)
        {
            return false;
        }

        if (Until is { } u && e.Time > u)
        {
            return false;
        }

        return _tests.Values.All(alternatives => alternatives.Any(t => t(e)));
    }
}

/// <summary>
/// The times <c>--since</c>/<c>--until</c> take (containers/common util.ParseInputTime): RFC 3339 with
/// or without zone and fraction, a date, a Unix time in seconds (with a fraction), or a Go
/// duration (<c>10m</c>, <c>1h30m</c>): that long ago for a since, that long from now for an until.
/// </summary>
public static class TimeInput
{
    private static readonly string[] Layouts =
    [
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF", "yyyy-MM-dd'T'HH:mm:ss",
        "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH", "yyyy-MM-ddK", "yyyy-MM-dd",
    ];

    public static DateTimeOffset Parse(string text, DateTimeOffset now, bool isSince)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (TryDuration(text, out var duration))
        {
            return isSince ? now - duration : now + duration;
        }

        if (System.Text.RegularExpressions.Regex.IsMatch(text, @"^\d+(\.\d+)?$"))
        {
            string[] parts = text.Split('.');
            long seconds = long.Parse(parts[0], CultureInfo.InvariantCulture);
            long ticks = parts.Length > 1 ? long.Parse(parts[1].PadRight(7, '0')[..7], CultureInfo.InvariantCulture) : 0;
            return DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(ticks);
        }

        string t = text;
        int dot = t.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0)
        {
            int end = dot + 1;
            while (end < t.Length && char.IsDigit(t[end]))
            {
                end++;
            }

            t = t[..(dot + 1)] + t[(dot + 1)..end][..Math.Min(7, end - dot - 1)] + t[end..];
        }

        // Without a zone the time is local, as Go's time.ParseInLocation(…, time.Local) reads it.
        if (DateTimeOffset.TryParseExact(t, Layouts, CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal, out var parsed))
        {
            return parsed;
        }

        throw new WharfException($"unable to convert time value \"{text}\": not a timestamp (RFC 3339, YYYY-MM-DD, Unix seconds) or a duration (10m, 1h)");
    }

    /// <summary>Go's time.ParseDuration: a sequence of decimal numbers with units ns, us, ms, s, m, h.</summary>
    public static bool TryDuration(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        var m = System.Text.RegularExpressions.Regex.Match(text, @"^(?:(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h))+$");
        if (!m.Success)
        {
            return false;
        }

        for (int i = 0; i < m.Groups[1].Captures.Count; i++)
        {
            double n = double.Parse(m.Groups[1].Captures[i].Value, CultureInfo.InvariantCulture);
            duration += m.Groups[2].Captures[i].Value switch
            {
                "h" => TimeSpan.FromHours(n),
                "m" => TimeSpan.FromMinutes(n),
                "s" => TimeSpan.FromSeconds(n),
                "ms" => TimeSpan.FromMilliseconds(n),
                "us" or "µs" => TimeSpan.FromMicroseconds(n),
                _ => TimeSpan.FromTicks((long)(n / 100)),
            };
        }

        return true;
    }
}
