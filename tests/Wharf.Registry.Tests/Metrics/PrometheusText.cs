using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Wharf.Registry.Tests.Metrics;

/// <summary>
/// A strict reader of Prometheus' text exposition format (0.0.4): every line is a HELP, a TYPE, a
/// comment or a sample; names and label names follow the grammar; label values use only the allowed
/// escapes; every sample belongs to a family whose TYPE came first; no series twice; a histogram's
/// buckets never decrease and its +Inf bucket equals its _count. Anything else throws.
/// </summary>
public sealed partial class PrometheusText
{
    private readonly Dictionary<string, double> _samples = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _types = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, string> Types => _types;

    public static PrometheusText Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > 0 && !text.EndsWith('\n'))
        {
            throw new FormatException("the exposition does not end with a newline");
        }

        var parsed = new PrometheusText();
        var helped = new HashSet<string>(StringComparer.Ordinal);
        var histograms = new Dictionary<string, List<(double Le, double Count)>>(StringComparer.Ordinal);
        var counts = new Dictionary<string, double>(StringComparer.Ordinal);
        int number = 0;
        foreach (string line in text[..^1].Split('\n'))
        {
            number++;
            if (line.StartsWith("# HELP ", StringComparison.Ordinal) || line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                string[] parts = line[7..].Split(' ', 2);
                Require(MetricName().IsMatch(parts[0]), number, $"bad metric name \"{parts[0]}\"");
                if (line[2] == 'H')
                {
                    Require(helped.Add(parts[0]), number, $"second HELP for {parts[0]}");
                }
                else
                {
                    Require(parts.Length == 2 && parts[1] is "counter" or "gauge" or "histogram" or "summary" or "untyped", number, $"bad TYPE line \"{line}\"");
                    Require(parsed._types.TryAdd(parts[0], parts[1]), number, $"second TYPE for {parts[0]}");
                }

                continue;
            }

            if (line.StartsWith('#'))
            {
                continue;
            }

            var (name, labels, value) = ParseSample(line, number);
            string family = FamilyOf(parsed, name);
            Require(parsed._types.ContainsKey(family), number, $"sample {name} before (or without) its TYPE");
            string key = Key(name, labels);
            Require(parsed._samples.TryAdd(key, value), number, $"series {key} twice");
            if (parsed._types[family] == "histogram")
            {
                var rest = labels.Where(l => l.Key != "le").OrderBy(l => l.Key, StringComparer.Ordinal).ToList();
                string series = Key(family, rest);
                if (name == family + "_bucket")
                {
                    Require(labels.TryGetValue("le", out string? le), number, "bucket without le");
                    double bound = ParseValue(le!, number);
                    var buckets = histograms.TryGetValue(series, out var list) ? list : histograms[series] = [];
                    Require(buckets.Count == 0 || (bound > buckets[^1].Le && value >= buckets[^1].Count), number, $"bucket le={le} of {series} out of order or decreasing");
                    buckets.Add((bound, value));
                }
                else if (name == family + "_count")
                {
                    counts[series] = value;
                }
            }
        }

        foreach (var (series, buckets) in histograms)
        {
            Require(buckets.Count > 0 && double.IsPositiveInfinity(buckets[^1].Le), 0, $"{series} has no +Inf bucket");
            Require(counts.TryGetValue(series, out double count) && count == buckets[^1].Count, 0, $"{series}: _count differs from the +Inf bucket");
        }

        return parsed;
    }

    /// <summary>The sample's value, or null when there is no such series.</summary>
    public double? Value(string name, params (string Name, string Value)[] labels) =>
        _samples.TryGetValue(Key(name, labels.Select(l => new KeyValuePair<string, string>(l.Name, l.Value))), out double v) ? v : null;

    /// <summary>The sum over every series of the name whose labels include these.</summary>
    public double Sum(string name, params (string Name, string Value)[] labels) =>
        _samples.Where(s => s.Key == name || s.Key.StartsWith(name + "{", StringComparison.Ordinal))
            .Where(s => labels.All(l => s.Key.Contains($"{l.Name}=\"{Escape(l.Value)}\"", StringComparison.Ordinal)))
            .Sum(s => s.Value);

    private static string FamilyOf(PrometheusText parsed, string name)
    {
        foreach (string suffix in new[] { "_bucket", "_sum", "_count" })
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal) && parsed._types.TryGetValue(name[..^suffix.Length], out string? type) && type is "histogram" or "summary")
            {
                return name[..^suffix.Length];
            }
        }

        return name;
    }

    private static (string Name, Dictionary<string, string> Labels, double Value) ParseSample(string line, int number)
    {
        int i = 0;
        while (i < line.Length && line[i] is not ('{' or ' '))
        {
            i++;
        }

        string name = line[..i];
        Require(MetricName().IsMatch(name), number, $"bad metric name \"{name}\"");
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (line[i] != '}')
            {
                int start = i;
                while (line[i] != '=')
                {
                    i++;
                }

                string label = line[start..i];
                Require(LabelName().IsMatch(label), number, $"bad label name \"{label}\"");
                Require(line[++i] == '"', number, "label value not quoted");
                var value = new StringBuilder();
                for (i++; line[i] != '"'; i++)
                {
                    if (line[i] == '\\')
                    {
                        i++;
                        value.Append(line[i] switch
                        {
                            '\\' => '\\',
                            '"' => '"',
                            'n' => '\n',
                            _ => throw new FormatException($"line {number}: bad escape \\{line[i]}"),
                        });
                    }
                    else
                    {
                        value.Append(line[i]);
                    }
                }

                Require(labels.TryAdd(label, value.ToString()), number, $"label {label} twice");
                i++;
                if (line[i] == ',')
                {
                    i++;
                }
                else
                {
                    Require(line[i] == '}', number, "labels not separated by commas");
                }
            }

            i++;
        }

        Require(i < line.Length && line[i] == ' ', number, "no space before the value");
        string[] rest = line[(i + 1)..].Split(' ');
        Require(rest.Length is 1 or 2, number, "more than a value and a timestamp");
        if (rest.Length == 2)
        {
            Require(long.TryParse(rest[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _), number, "bad timestamp");
        }

        return (name, labels, ParseValue(rest[0], number));
    }

    private static double ParseValue(string text, int number) => text switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : throw new FormatException($"line {number}: bad value \"{text}\""),
    };

    private static string Key(string name, IEnumerable<KeyValuePair<string, string>> labels)
    {
        var sorted = labels.OrderBy(l => l.Key, StringComparer.Ordinal).ToList();
        return sorted.Count == 0 ? name : $"{name}{{{string.Join(",", sorted.Select(l => $"{l.Key}=\"{Escape(l.Value)}\""))}}}";
    }

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static void Require(bool condition, int line, string message)
    {
        if (!condition)
        {
            throw new FormatException(line > 0 ? $"line {line}: {message}" : message);
        }
    }

    [GeneratedRegex("^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    private static partial Regex MetricName();

    [GeneratedRegex("^[a-zA-Z_][a-zA-Z0-9_]*$")]
    private static partial Regex LabelName();
}
