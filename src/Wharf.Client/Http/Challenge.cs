using System.Net.Http.Headers;

namespace Wharf.Client.Http;

/// <summary>One <c>WWW-Authenticate</c> challenge (RFC 7235 §4.1): a scheme and its parameters.</summary>
public sealed record Challenge(string Scheme, IReadOnlyDictionary<string, string> Parameters)
{
    public string? Realm => Parameters.GetValueOrDefault("realm");

    public string? Service => Parameters.GetValueOrDefault("service");

    public bool IsBearer => Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase);

    public bool IsBasic => Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase);

    /// <summary>The first Bearer challenge, else the first Basic one.</summary>
    public static Challenge? From(HttpResponseHeaders headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        Challenge? basic = null;
        foreach (var value in headers.WwwAuthenticate)
        {
            var c = new Challenge(value.Scheme, ParseParameters(value.Parameter));
            if (c.IsBearer)
            {
                return c;
            }

            if (c.IsBasic)
            {
                basic ??= c;
            }
        }

        return basic;
    }

    /// <summary>Parses <c>k="v", k2=v2</c>, honouring quotes and backslash escapes.</summary>
    public static Dictionary<string, string> ParseParameters(string? text)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (string.IsNullOrEmpty(text))
        {
            return result;
        }

        int i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && (text[i] == ',' || char.IsWhiteSpace(text[i])))
            {
                i++;
            }

            int eq = text.IndexOf('=', i);
            if (eq < 0)
            {
                break;
            }

            string key = text[i..eq].Trim();
            i = eq + 1;
            var value = new System.Text.StringBuilder();
            if (i < text.Length && text[i] == '"')
            {
                i++;
                while (i < text.Length && text[i] != '"')
                {
                    if (text[i] == '\\' && i + 1 < text.Length)
                    {
                        i++;
                    }

                    value.Append(text[i++]);
                }

                i++;
            }
            else
            {
                while (i < text.Length && text[i] != ',')
                {
                    value.Append(text[i++]);
                }
            }

            result[key] = value.ToString().Trim();
        }

        return result;
    }
}
