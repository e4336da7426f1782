using System.Globalization;

namespace Wharf.Registry.Quotas;

/// <summary>Sizes in a quota refusal as people read them (<c>12.3 MB</c>), decimal units as Harbor's portal shows them.</summary>
public static class QuotaSize
{
    public static string Format(long bytes)
    {
        string[] units = ["B", "kB", "MB", "GB", "TB", "PB"];
        double size = bytes;
        int i = 0;
        while (Math.Abs(size) >= 1000 && i < units.Length - 1)
        {
            size /= 1000;
            i++;
        }

        // Three significant digits: enough to tell 9.96 MB used from a 10 MB limit.
        return size.ToString("G3", CultureInfo.InvariantCulture) + " " + units[i];
    }
}
