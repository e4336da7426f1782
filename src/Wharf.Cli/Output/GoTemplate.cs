using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Wharf.Cli.Output;

/// <summary>
/// Go's text/template as podman's <c>--format</c> uses it: fields (<c>{{.A.B}}</c>), pipelines
/// (<c>{{.Names | upper}}</c>), <c>{{if}}/{{else}}/{{end}}</c>, <c>{{range}}</c>, <c>{{with}}</c>,
/// variables (<c>$</c>, <c>{{range $k, $v := .Labels}}</c>), trim markers (<c>{{- -}}</c>), Go's
/// builtins (<c>len</c>, <c>index</c>, <c>eq</c>…, <c>printf</c>) and podman's functions
/// (containers/common report: <c>json</c>, <c>upper</c>, <c>lower</c>, <c>title</c>, <c>join</c>,
/// <c>split</c>, <c>truncate</c>, <c>pad</c>). A leading <c>table</c> asks for a header row; <c>\t</c>
/// and <c>\n</c> typed as two characters are the escapes podman turns into tab and newline.
/// Data is JSON (what inspect prints) or, for listings, a lookup by field path.
/// </summary>
public sealed class GoTemplate
{
    private readonly List<TemplateNode> _nodes;

    public GoTemplate(string format)
    {
        ArgumentNullException.ThrowIfNull(format);
        string f = format.Replace("\\t", "\t", StringComparison.Ordinal).Replace("\\n", "\n", StringComparison.Ordinal);
        if (f.StartsWith("table", StringComparison.Ordinal))
        {
            IsTable = true;
            f = f[5..].TrimStart();
        }

        Text = f;
        _nodes = new TemplateParser(f).Parse();
    }

    public bool IsTable { get; }

    /// <summary>The template without its <c>table</c> directive.</summary>
    public string Text { get; }

    /// <summary>Fills the template from JSON data (inspect, events, volumes).</summary>
    public string Render(JsonNode? data)
    {
        var sb = new StringBuilder();
        new TemplateEvaluator(sb, TemplateValue.FromJson(data, isMap: false)).Run(_nodes);
        return sb.ToString();
    }

    /// <summary>
    /// Fills the template; <paramref name="lookup"/> returns a field path's text (<c>Config.Labels</c>),
    /// asked as JSON when the path is given to <c>json</c>, or null when the field is unknown.
    /// </summary>
    public string Render(Func<string, bool, string?> lookup)
    {
        ArgumentNullException.ThrowIfNull(lookup);
        var sb = new StringBuilder();
        new TemplateEvaluator(sb, new LookupValue(lookup, string.Empty)).Run(_nodes);
        return sb.ToString();
    }

    /// <summary>
    /// The header row for a table template: the template run over field names, each field's header
    /// from <paramref name="headerFor"/> or, as containers/common does, its name split at case
    /// changes and upper-cased (<c>CreatedAt</c> → <c>CREATED AT</c>).
    /// </summary>
    public string Header(Func<string, string>? headerFor = null)
    {
        var sb = new StringBuilder();
        new TemplateEvaluator(sb, new HeaderValue(f => headerFor?.Invoke(f) ?? ToHeader(f)), headerMode: true).Run(_nodes);
        return sb.ToString();
    }

    public static string ToHeader(string field)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < field.Length; i++)
        {
            bool boundary = i > 0 && char.IsUpper(field[i]) &&
                (!char.IsUpper(field[i - 1]) || (i + 1 < field.Length && char.IsLower(field[i + 1])));
            if (boundary)
            {
                sb.Append(' ');
            }

            sb.Append(char.ToUpperInvariant(field[i]));
        }

        return sb.ToString();
    }
}

/// <summary>A template value: JSON, a .NET scalar or list, or a field path resolved by a lookup.</summary>
internal static class TemplateValue
{
    /// <summary>Object properties whose JSON objects are Go maps (a missing key is <c>&lt;no value&gt;</c>), not structs.</summary>
    private static readonly HashSet<string> MapProperties = new(StringComparer.Ordinal)
    {
        "Labels", "Annotations", "Attributes", "Options", "ExposedPorts", "Volumes", "Ports", "Networks", "Sysctls", "StorageOpt", "DriverOpts",
    };

    public static object? FromJson(JsonNode? node, bool isMap) => node switch
    {
        null => null,
        JsonObject o => new JsonObjectValue(o, isMap),
        JsonArray a => a,
        JsonValue v when v.TryGetValue(out string? s) => s,
        JsonValue v when v.TryGetValue(out bool b) => b,
        JsonValue v when v.TryGetValue(out long l) => l,
        JsonValue v when v.TryGetValue(out int i) => (long)i,
        JsonValue v when v.TryGetValue(out double d) => d == Math.Floor(d) && Math.Abs(d) < 1e15 ? (long)d : d,
        _ => node.ToJsonString() is var t && long.TryParse(t, CultureInfo.InvariantCulture, out long n) ? n : t,
    };

    public static object? Field(object? value, string name, string at)
    {
        switch (value)
        {
            case LookupValue l:
                return l.Field(name);
            case HeaderValue h:
                return h.Field(name);
            case JsonObjectValue o:
                if (o.Object.TryGetPropertyValue(name, out var child)
                    || (!o.IsMap && name is "ID" or "Id" && o.Object.TryGetPropertyValue(name == "ID" ? "Id" : "ID", out child)))
                {
                    // podman's JSON says Id where its Go structs say ID; templates take either.
                    return FromJson(child, MapProperties.Contains(name));
                }

                if (o.IsMap)
                {
                    return null;
                }

                throw new FormatException($"template: :1: executing \"\" at <{at}>: can't evaluate field {name}");
            case null:
                return null;
            default:
                throw new FormatException($"template: :1: executing \"\" at <{at}>: can't evaluate field {name} in type {GoType(value)}");
        }
    }

    public static string GoType(object? v) => v switch
    {
        string => "string",
        long => "int",
        double => "float64",
        bool => "bool",
        JsonArray or IList<object?> => "[]interface {}",
        _ => "interface {}",
    };

    /// <summary>Go's fmt %v.</summary>
    public static string Print(object? value) => value switch
    {
        null => "<no value>",
        string s => s,
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        LookupValue l => l.Text(asJson: false),
        HeaderValue h => h.Text(),
        JsonObjectValue o => "map[" + string.Join(' ', o.Object.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + ":" + PrintNested(FromJson(p.Value, true)))) + "]",
        JsonArray a => "[" + string.Join(' ', a.Select(x => PrintNested(FromJson(x, false)))) + "]",
        IEnumerable<object?> list => "[" + string.Join(' ', list.Select(PrintNested)) + "]",
        _ => value.ToString() ?? string.Empty,
    };

    private static string PrintNested(object? v) => v is null ? "<nil>" : Print(v);

    /// <summary>podman's <c>json</c>: compact, HTML characters not escaped.</summary>
    public static string Json(object? value) => value switch
    {
        LookupValue l => l.Text(asJson: true),
        HeaderValue h => h.Text(),
        null => "null",
        JsonObjectValue o => o.Object.ToJsonString(Compact),
        JsonNode n => n.ToJsonString(Compact),
        string s => JsonValue.Create(s).ToJsonString(Compact),
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IEnumerable<object?> list => "[" + string.Join(',', list.Select(Json)) + "]",
        _ => JsonValue.Create(value.ToString() ?? string.Empty).ToJsonString(Compact),
    };

    private static readonly System.Text.Json.JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Go's truth: false, 0, nil, and empty strings, slices and maps are false.</summary>
    public static bool Truth(object? v) => v switch
    {
        null => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        JsonArray a => a.Count > 0,
        JsonObjectValue o => o.Object.Count > 0,
        IList<object?> l => l.Count > 0,
        LookupValue l => l.Text(false) is { Length: > 0 } t && t is not ("false" or "0" or "[]" or "map[]" or "<no value>"),
        _ => true,
    };

    /// <summary>The items <c>range</c> walks: (key, element) pairs; a map's keys sorted as Go sorts them.</summary>
    public static IEnumerable<(object? Key, object? Value)> Items(object? v) => v switch
    {
        null => [],
        JsonArray a => a.Select((x, i) => ((object?)(long)i, FromJson(x, false))),
        JsonObjectValue o => o.Object.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => ((object?)p.Key, FromJson(p.Value, true))),
        IList<object?> l => l.Select((x, i) => ((object?)(long)i, x)),
        long n => Enumerable.Range(0, (int)Math.Max(0, n)).Select(i => ((object?)(long)i, (object?)(long)i)),
        LookupValue l => ItemsOfText(l.Text(false)),
        HeaderValue => [],
        _ => throw new FormatException($"template: range can't iterate over {Print(v)}"),
    };

    /// <summary>A lookup yields text: a printed slice <c>[a b]</c> is walked as its words.</summary>
    private static IEnumerable<(object? Key, object? Value)> ItemsOfText(string text)
    {
        string t = text.StartsWith('[') && text.EndsWith(']') ? text[1..^1] : text;
        return t.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select((x, i) => ((object?)(long)i, (object?)x));
    }

    public static List<string> Strings(object? v) => v switch
    {
        JsonArray a => [.. a.Select(x => Print(FromJson(x, false)))],
        IList<object?> l => [.. l.Select(Print)],
        LookupValue l => [.. ItemsOfText(l.Text(false)).Select(x => (string)x.Value!)],
        null => [],
        _ => [Print(v)],
    };
}

internal sealed record JsonObjectValue(JsonObject Object, bool IsMap);

/// <summary>A field path on a listing row; its text comes from the command's lookup.</summary>
internal sealed record LookupValue(Func<string, bool, string?> Lookup, string Path)
{
    public LookupValue Field(string name) => new(Lookup, Path.Length == 0 ? name : Path + "." + name);

    public string Text(bool asJson) => Lookup(Path, asJson)
        ?? throw new FormatException($"template: :1: executing \"\" at <.{Path}>: can't evaluate field {Path}");
}

/// <summary>While the header row is made every field is its header text.</summary>
internal sealed record HeaderValue(Func<string, string> HeaderFor, string? Path = null)
{
    public HeaderValue Field(string name) => this with { Path = Path is null ? name : Path + "." + name };

    public string Text() => Path is null ? string.Empty : HeaderFor(Path);
}
