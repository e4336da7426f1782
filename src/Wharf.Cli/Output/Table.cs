using System.Text;

namespace Wharf.Cli.Output;

/// <summary>
/// podman's table layout (containers/common report.NewWriterDefault: Go tabwriter with
/// minwidth 12, padding 2, space padding): each column is as wide as its longest cell plus two,
/// at least 12; the last column is not padded.
/// </summary>
public static class Table
{
    public static string Render(IReadOnlyList<IReadOnlyList<string>> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0)
        {
            return string.Empty;
        }

        int columns = rows.Max(r => r.Count);
        var widths = new int[columns];
        foreach (var row in rows)
        {
            for (int c = 0; c < row.Count - 1; c++)
            {
                widths[c] = Math.Max(widths[c], Math.Max(12, row[c].Length + 2));
            }
        }

        var sb = new StringBuilder();
        foreach (var row in rows)
        {
            for (int c = 0; c < row.Count; c++)
            {
                sb.Append(c < row.Count - 1 ? row[c].PadRight(widths[c]) : row[c]);
            }

            sb.Append('\n');
        }

        return sb.ToString();
    }
}

public static class Units
{
    private static readonly string[] DecimalUnits = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

    /// <summary>go-units HumanSizeWithPrecision: decimal units, <paramref name="precision"/> significant digits.</summary>
    public static string HumanSize(double size, int precision = 4)
    {
        int i = 0;
        while (size >= 1000 && i < DecimalUnits.Length - 1)
        {
            size /= 1000;
            i++;
        }

        return size.ToString("G" + precision, System.Globalization.CultureInfo.InvariantCulture) + DecimalUnits[i];
    }

    /// <summary>podman images' SIZE: three significant digits with a space before the unit (<c>2.31 MB</c>).</summary>
    public static string ImageSize(long size)
    {
        string s = HumanSize(size, 3);
        int j = s.Length - 1;
        while (j >= 0 && !char.IsAsciiDigit(s[j]))
        {
            j--;
        }

        return s[..(j + 1)] + " " + s[(j + 1)..];
    }

    /// <summary>go-units HumanDuration.</summary>
    public static string HumanDuration(TimeSpan d)
    {
        int seconds = (int)d.TotalSeconds;
        if (seconds < 1)
        {
            return "Less than a second";
        }

        if (seconds == 1)
        {
            return "1 second";
        }

        if (seconds < 60)
        {
            return $"{seconds} seconds";
        }

        int minutes = (int)d.TotalMinutes;
        if (minutes == 1)
        {
            return "About a minute";
        }

        if (minutes < 60)
        {
            return $"{minutes} minutes";
        }

        int hours = (int)Math.Round(d.TotalHours, MidpointRounding.AwayFromZero);
        if (hours == 1)
        {
            return "About an hour";
        }

        if (hours < 48)
        {
            return $"{hours} hours";
        }

        if (hours < 24 * 7 * 2)
        {
            return $"{hours / 24} days";
        }

        if (hours < 24 * 30 * 2)
        {
            return $"{hours / 24 / 7} weeks";
        }

        if (hours < 24 * 365 * 2)
        {
            return $"{hours / 24 / 30} months";
        }

        return $"{(int)d.TotalHours / 24 / 365} years";
    }
}
