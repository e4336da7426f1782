using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Encodings.Web;

namespace Wharf.Registry.Portal;

/// <summary>A piece of HTML that is already safe: written as it is, never encoded again.</summary>
public readonly record struct Markup(string Value)
{
    public static Markup Empty { get; } = new("");

    public override string ToString() => Value;
}

/// <summary>
/// Builds HTML from interpolated strings where every hole is encoded unless it is <see cref="Markup"/>:
/// <c>Html.Of($"&lt;td&gt;{name}&lt;/td&gt;")</c>. The literal parts are the page's own markup; whatever
/// came from a user (a repository name, a tag, a comment) can only ever land as text.
/// </summary>
public static class Html
{
    public static Markup Of(ref HtmlHandler html) => new(html.ToStringAndClear());

    public static Markup Join(IEnumerable<Markup> parts) => new(string.Concat(parts.Select(p => p.Value)));

    public static string Encode(string? text) => HtmlEncoder.Default.Encode(text ?? "");

    /// <summary>Encodes one path segment (a project or repository name, a tag) for a URL in an attribute.</summary>
    public static string Segment(string text) => Uri.EscapeDataString(text);
}

[InterpolatedStringHandler]
public ref struct HtmlHandler
{
    private readonly StringBuilder _builder;

    public HtmlHandler(int literalLength, int formattedCount)
    {
        _ = formattedCount;
        _builder = new StringBuilder(literalLength * 2);
    }

    public readonly void AppendLiteral(string value) => _builder.Append(value);

    public readonly void AppendFormatted(Markup value) => _builder.Append(value.Value);

    public readonly void AppendFormatted(string? value) => _builder.Append(Html.Encode(value));

    public readonly void AppendFormatted(long value) => _builder.Append(value.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public readonly void AppendFormatted<T>(T value) =>
        _builder.Append(Html.Encode(value is IFormattable f ? f.ToString(null, System.Globalization.CultureInfo.InvariantCulture) : value?.ToString()));

    public readonly string ToStringAndClear() => _builder.ToString();
}
