using Wharf.Oci;

namespace Wharf.Engine.Build;

/// <summary>Values Dockerfile instructions carry that need more than word splitting: paths, HEALTHCHECK.</summary>
internal static class InstructionValues
{
    /// <summary>An absolute path with <c>.</c> and <c>..</c> resolved lexically (never above <c>/</c>).</summary>
    public static string Normalize(string path)
    {
        var parts = new List<string>();
        foreach (string p in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (p == "..")
            {
                if (parts.Count > 0)
                {
                    parts.RemoveAt(parts.Count - 1);
                }
            }
            else if (p != ".")
            {
                parts.Add(p);
            }
        }

        return "/" + string.Join('/', parts);
    }

    public static HealthcheckConfig Healthcheck(Instruction ins)
    {
        var rest = ins.Arguments.Trim();
        if (rest.Equals("NONE", StringComparison.OrdinalIgnoreCase))
        {
            return new HealthcheckConfig { Test = ["NONE"] };
        }

        if (!rest.StartsWith("CMD", StringComparison.OrdinalIgnoreCase))
        {
            throw new WharfException($"Dockerfile:{ins.Line}: HEALTHCHECK expects NONE or CMD");
        }

        string cmd = rest[3..].Trim();
        long? Duration(string flag) => ins.Flags.TryGetValue(flag, out string? v) ? DurationNanos(v, ins) : null;
        return new HealthcheckConfig
        {
            Test = Dockerfile.TryJsonArray(cmd) is { } exec ? ["CMD", .. exec] : ["CMD-SHELL", cmd],
            Interval = Duration("interval"),
            Timeout = Duration("timeout"),
            StartPeriod = Duration("start-period"),
            StartInterval = Duration("start-interval"),
            Retries = ins.Flags.TryGetValue("retries", out string? r) ? int.Parse(r, System.Globalization.CultureInfo.InvariantCulture) : null,
        };
    }

    /// <summary>Go durations as the config stores them: nanoseconds (30s, 1m30s, 500ms).</summary>
    private static long DurationNanos(string text, Instruction ins)
    {
        var m = System.Text.RegularExpressions.Regex.Matches(text, "([0-9]+(?:\\.[0-9]+)?)(ns|us|ms|s|m|h)");
        if (m.Count == 0 || string.Concat(m.Select(x => x.Value)) != text)
        {
            throw new WharfException($"Dockerfile:{ins.Line}: invalid duration \"{text}\"");
        }

        double total = 0;
        foreach (System.Text.RegularExpressions.Match x in m)
        {
            double n = double.Parse(x.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            total += n * x.Groups[2].Value switch { "ns" => 1, "us" => 1e3, "ms" => 1e6, "s" => 1e9, "m" => 60e9, _ => 3600e9 };
        }

        return (long)total;
    }
}
