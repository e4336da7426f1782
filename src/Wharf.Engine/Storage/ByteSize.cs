using System.Globalization;

namespace Wharf.Engine.Storage;

/// <summary>
/// Sizes as containers-storage options write them: a number and an optional unit. B; KB, MB, GB,
/// TB, PB are decimal (1000^n); KiB, MiB, GiB, TiB, PiB binary (1024^n). The unit is
/// case-insensitive, the trailing B optional (<c>50G</c> is <c>50GB</c>, <c>50Gi</c> is <c>50GiB</c>).
/// </summary>
public static class ByteSize
{
    public static bool TryParse(string? text, out long bytes)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        string s = text.Trim();
        int split = 0;
        while (split < s.Length && (char.IsAsciiDigit(s[split]) || s[split] == '.'))
        {
            split++;
        }

        if (split == 0 || !double.TryParse(s[..split], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double number))
        {
            return false;
        }

        string unit = s[split..].Trim().ToUpperInvariant();
        if (unit.EndsWith('B'))
        {
            unit = unit[..^1];
        }

        bool binary = unit.EndsWith('I');
        if (binary)
        {
            unit = unit[..^1];
        }

        int power = unit switch
        {
            "" when !binary => 0,
            "K" => 1,
            "M" => 2,
            "G" => 3,
            "T" => 4,
            "P" => 5,
            _ => -1,
        };
        if (power < 0)
        {
            return false;
        }

        double value = number * Math.Pow(binary ? 1024 : 1000, power);
        if (value >= long.MaxValue)
        {
            return false;
        }

        bytes = (long)value;
        return true;
    }

    /// <summary>Decimal units with up to four significant digits, as podman prints sizes (<c>1.074GB</c>).</summary>
    public static string Format(long bytes)
    {
        string[] units = ["B", "kB", "MB", "GB", "TB", "PB"];
        double size = bytes;
        int i = 0;
        while (size >= 1000 && i < units.Length - 1)
        {
            size /= 1000;
            i++;
        }

        return size.ToString("G4", CultureInfo.InvariantCulture) + units[i];
    }
}
