using System.Globalization;

namespace Wharf.Engine.Containers;

/// <summary>
/// Signal names and numbers as podman takes them (kill -s, StopSignal): a number 1-64, or a name
/// with or without SIG, any case, including RTMIN+n and RTMAX-n (signal(7), Linux numbering).
/// </summary>
public static class Signals
{
    private const int RtMin = 34;
    private const int RtMax = 64;

    private static readonly Dictionary<string, int> Names = new(StringComparer.Ordinal)
    {
        ["HUP"] = 1, ["INT"] = 2, ["QUIT"] = 3, ["ILL"] = 4, ["TRAP"] = 5, ["ABRT"] = 6, ["IOT"] = 6, ["BUS"] = 7,
        ["FPE"] = 8, ["KILL"] = 9, ["USR1"] = 10, ["SEGV"] = 11, ["USR2"] = 12, ["PIPE"] = 13, ["ALRM"] = 14,
        ["TERM"] = 15, ["STKFLT"] = 16, ["CHLD"] = 17, ["CLD"] = 17, ["CONT"] = 18, ["STOP"] = 19, ["TSTP"] = 20,
        ["TTIN"] = 21, ["TTOU"] = 22, ["URG"] = 23, ["XCPU"] = 24, ["XFSZ"] = 25, ["VTALRM"] = 26, ["PROF"] = 27,
        ["WINCH"] = 28, ["IO"] = 29, ["POLL"] = 29, ["PWR"] = 30, ["SYS"] = 31, ["RTMIN"] = RtMin, ["RTMAX"] = RtMax,
    };

    /// <summary>The signal's number; bad input is podman's error (exit 125).</summary>
    public static int Parse(string signal)
    {
        ArgumentNullException.ThrowIfNull(signal);
        if (int.TryParse(signal, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int number))
        {
            return number switch
            {
                > RtMax => throw new WharfException("valid signals are 1 through 64"),
                < 1 => throw new WharfException($"invalid signal: {signal}"),
                _ => number,
            };
        }

        string s = signal.ToUpperInvariant();
        s = s.StartsWith("SIG", StringComparison.Ordinal) ? s[3..] : s;
        if (Names.TryGetValue(s, out int n))
        {
            return n;
        }

        foreach (var (prefix, baseNumber, sign) in new[] { ("RTMIN+", RtMin, 1), ("RTMAX-", RtMax, -1) })
        {
            if (s.StartsWith(prefix, StringComparison.Ordinal)
                && int.TryParse(s[prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int offset)
                && baseNumber + (sign * offset) is >= RtMin and <= RtMax and var rt)
            {
                return rt;
            }
        }

        throw new WharfException($"invalid signal: {signal}");
    }
}
