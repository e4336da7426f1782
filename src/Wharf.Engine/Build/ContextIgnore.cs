using System.Text;
using System.Text.RegularExpressions;

namespace Wharf.Engine.Build;

/// <summary>
/// <c>.containerignore</c> (or <c>.dockerignore</c>): one pattern a line, <c>#</c> comments, <c>!</c> re-includes,
/// <c>*</c> and <c>?</c> within a path segment, <c>**</c> across segments; the last matching pattern wins, and a
/// pattern matching a directory matches everything below it.
/// </summary>
public sealed class ContextIgnore
{
    private readonly List<(Regex Pattern, bool Exclude)> _rules;

    public ContextIgnore(IEnumerable<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        _rules = [];
        foreach (string raw in lines)
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            bool exclude = true;
            if (line.StartsWith('!'))
            {
                exclude = false;
                line = line[1..].Trim();
            }

            line = line.Trim('/');
            if (line.StartsWith("./", StringComparison.Ordinal))
            {
                line = line[2..];
            }

            _rules.Add((new Regex("^" + ToRegex(line) + "(/.*)?$", RegexOptions.CultureInvariant), exclude));
        }
    }

    public static ContextIgnore Load(string context)
    {
        foreach (string name in new[] { ".containerignore", ".dockerignore" })
        {
            string path = Path.Combine(context, name);
            if (File.Exists(path))
            {
                return new ContextIgnore(File.ReadAllLines(path));
            }
        }

        return new ContextIgnore([]);
    }

    /// <summary>Is this context-relative path (no leading slash) left out?</summary>
    public bool IsExcluded(string relative)
    {
        bool excluded = false;
        foreach (var (pattern, exclude) in _rules)
        {
            if (pattern.IsMatch(relative))
            {
                excluded = exclude;
            }
        }

        return excluded;
    }

    private static string ToRegex(string glob)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < glob.Length; i++)
        {
            char c = glob[i];
            if (c == '*' && i + 1 < glob.Length && glob[i + 1] == '*')
            {
                i++;
                if (i + 1 < glob.Length && glob[i + 1] == '/')
                {
                    i++;
                    sb.Append("(.*/)?");
                }
                else
                {
                    sb.Append(".*");
                }
            }
            else if (c == '*')
            {
                sb.Append("[^/]*");
            }
            else if (c == '?')
            {
                sb.Append("[^/]");
            }
            else if (c == '[')
            {
                int close = glob.IndexOf(']', i + 1);
                if (close < 0)
                {
                    sb.Append("\\[");
                }
                else
                {
                    string set = glob[(i + 1)..close];
                    sb.Append('[').Append(set.StartsWith('^') || set.StartsWith('!') ? "^" + set[1..] : set).Append(']');
                    i = close;
                }
            }
            else
            {
                sb.Append(Regex.Escape(c.ToString()));
            }
        }

        return sb.ToString();
    }

    /// <summary>A glob of one path (for COPY sources), without the directory rule.</summary>
    internal static Regex Glob(string glob) => new("^" + ToRegex(glob) + "$", RegexOptions.CultureInvariant);
}
