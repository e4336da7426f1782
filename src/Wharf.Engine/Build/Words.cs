using System.Text;

namespace Wharf.Engine.Build;

/// <summary>
/// Dockerfile word handling: variable substitution (<c>$X ${X} ${X:-default} ${X:+alt}</c>, the
/// escape character keeping a <c>$</c> literal), quote-aware splitting into words and <c>K=V</c> pairs.
/// </summary>
public static class Words
{
    public static string Expand(string text, Func<string, string?> lookup, char escape = '\\')
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(lookup);
        var sb = new StringBuilder();
        bool single = false, dbl = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '"' && !single)
            {
                dbl = !dbl;
                sb.Append(c);
                continue;
            }

            if (c == escape && i + 1 < text.Length && !single)
            {
                char next = text[i + 1];
                if (next == '$')
                {
                    sb.Append('$');
                    i++;
                    continue;
                }

                sb.Append(c);
                continue;
            }

            if (c == '\'' && !dbl)
            {
                single = !single;
                sb.Append(c);
                continue;
            }

            if (c != '$' || single || i + 1 >= text.Length)
            {
                sb.Append(c);
                continue;
            }

            if (text[i + 1] == '{')
            {
                int close = text.IndexOf('}', i + 2);
                if (close < 0)
                {
                    throw new WharfException($"missing '}}' in \"{text}\"");
                }

                string inner = text[(i + 2)..close];
                int colon = inner.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0 && colon + 1 < inner.Length && inner[colon + 1] is '-' or '+')
                {
                    string name = inner[..colon];
                    string word = Expand(inner[(colon + 2)..], lookup, escape);
                    string? value = lookup(name);
                    sb.Append(inner[colon + 1] == '-'
                        ? (string.IsNullOrEmpty(value) ? word : value)
                        : (string.IsNullOrEmpty(value) ? string.Empty : word));
                }
                else
                {
                    sb.Append(lookup(inner) ?? string.Empty);
                }

                i = close;
                continue;
            }

            int j = i + 1;
            while (j < text.Length && (char.IsAsciiLetterOrDigit(text[j]) || text[j] == '_'))
            {
                j++;
            }

            if (j == i + 1)
            {
                sb.Append(c);
                continue;
            }

            sb.Append(lookup(text[(i + 1)..j]) ?? string.Empty);
            i = j - 1;
        }

        return sb.ToString();
    }

    /// <summary>Whitespace-separated words; double and single quotes group and are removed, the escape character quotes the next one.</summary>
    public static List<string> Split(string text, char escape = '\\')
    {
        ArgumentNullException.ThrowIfNull(text);
        var words = new List<string>();
        var current = new StringBuilder();
        bool inWord = false;
        char? quote = null;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (quote is null && char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                }

                continue;
            }

            inWord = true;
            if (c == escape && quote != '\'' && i + 1 < text.Length)
            {
                current.Append(text[++i]);
            }
            else if (quote is null && c is '"' or '\'')
            {
                quote = c;
            }
            else if (quote == c)
            {
                quote = null;
            }
            else
            {
                current.Append(c);
            }
        }

        if (quote is not null)
        {
            throw new WharfException($"unterminated quote in \"{text}\"");
        }

        if (inWord)
        {
            words.Add(current.ToString());
        }

        return words;
    }

    /// <summary><c>K=V K2="v 2"</c>, or the legacy one-pair form <c>K some value</c> (ENV, LABEL).</summary>
    public static List<KeyValuePair<string, string>> Pairs(string text, char escape = '\\')
    {
        ArgumentNullException.ThrowIfNull(text);
        var words = Split(text, escape);
        if (words.Count == 0)
        {
            throw new WharfException("expected KEY=VALUE");
        }

        if (!words[0].Contains('=', StringComparison.Ordinal))
        {
            int sp = text.Trim().IndexOfAny([' ', '\t']);
            if (sp < 0)
            {
                throw new WharfException($"\"{text}\": requires at least one argument");
            }

            return [new(words[0], text.Trim()[(sp + 1)..].Trim())];
        }

        var result = new List<KeyValuePair<string, string>>();
        foreach (string w in words)
        {
            int eq = w.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new WharfException($"\"{w}\": expected KEY=VALUE");
            }

            result.Add(new(w[..eq], w[(eq + 1)..]));
        }

        return result;
    }
}
