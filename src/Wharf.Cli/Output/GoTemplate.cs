using System.Text;
using System.Text.RegularExpressions;

namespace Wharf.Cli.Output;

/// <summary>
/// The subset of Go templates podman users type in <c>--format</c>: <c>{{.Field}}</c>,
/// <c>{{.Field.Sub}}</c>, <c>{{json .Field}}</c>, a leading <c>table</c> (print headers) and
/// <c>\t</c>/<c>\n</c> escapes.
/// </summary>
public sealed partial class GoTemplate
{
    private readonly string _body;

    public GoTemplate(string format)
    {
        ArgumentNullException.ThrowIfNull(format);
        string f = format.Replace("\\t", "\t", StringComparison.Ordinal).Replace("\\n", "\n", StringComparison.Ordinal);
        if (f.StartsWith("table", StringComparison.Ordinal))
        {
            IsTable = true;
            f = f[5..].TrimStart();
        }

        _body = f;
    }

    public bool IsTable { get; }

    [GeneratedRegex(@"\{\{\s*(json\s+)?\.([A-Za-z0-9_.]*)\s*\}\}")]
    private static partial Regex Action();

    /// <summary>Fills the template; <paramref name="lookup"/> returns a field's text, or null when unknown.</summary>
    public string Render(Func<string, bool, string?> lookup)
    {
        ArgumentNullException.ThrowIfNull(lookup);
        return Action().Replace(_body, m =>
        {
            string field = m.Groups[2].Value;
            return lookup(field, m.Groups[1].Success)
                ?? throw new FormatException($"template: :1:{m.Index + 2}: executing \"\" at <.{field}>: can't evaluate field {field}");
        });
    }

    /// <summary>The header row for a table template: each field's name in upper case with spaces.</summary>
    public string Header(Func<string, string>? headerFor = null)
    {
        return Action().Replace(_body, m => headerFor?.Invoke(m.Groups[2].Value) ?? ToHeader(m.Groups[2].Value));
    }

    private static string ToHeader(string field)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < field.Length; i++)
        {
            if (i > 0 && char.IsUpper(field[i]) && !char.IsUpper(field[i - 1]))
            {
                sb.Append(' ');
            }

            sb.Append(char.ToUpperInvariant(field[i]));
        }

        return sb.ToString();
    }
}
