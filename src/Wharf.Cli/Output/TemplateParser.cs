using System.Globalization;
using System.Text;

namespace Wharf.Cli.Output;

internal abstract record TemplateNode;

internal sealed record TextNode(string Text) : TemplateNode;

internal sealed record ActionNode(Pipeline Pipeline) : TemplateNode;

/// <summary><c>if</c>, <c>range</c> or <c>with</c>: a pipeline, a body and an optional <c>else</c>.</summary>
internal sealed record BlockNode(string Kind, Pipeline Pipeline, List<TemplateNode> Body, List<TemplateNode>? Else) : TemplateNode;

internal sealed record Pipeline(IReadOnlyList<string> Declared, IReadOnlyList<IReadOnlyList<Operand>> Commands, string Source);

internal abstract record Operand;

/// <summary><c>.A.B</c> (Root "."), <c>$x.A</c> (Root "$x") or <c>(pipeline).A</c>.</summary>
internal sealed record FieldOperand(string Root, IReadOnlyList<string> Fields, Pipeline? Inner = null) : Operand;

internal sealed record FunctionOperand(string Name) : Operand;

internal sealed record LiteralOperand(object? Value) : Operand;

/// <summary>Parses Go text/template source into nodes; errors read as Go's (<c>template: :1: …</c>).</summary>
internal sealed class TemplateParser(string source)
{
    private int _pos;

    public List<TemplateNode> Parse()
    {
        var nodes = ParseList(out string? end);
        if (end is not null)
        {
            throw Error($"unexpected {{{{{end}}}}}");
        }

        return nodes;
    }

    private static FormatException Error(string what) => new($"template: :1: {what}");

    /// <summary>Nodes up to an <c>{{end}}</c> or <c>{{else…}}</c> (returned in <paramref name="end"/>) or the end of the text.</summary>
    private List<TemplateNode> ParseList(out string? end)
    {
        var nodes = new List<TemplateNode>();
        end = null;
        while (_pos < source.Length)
        {
            int open = source.IndexOf("{{", _pos, StringComparison.Ordinal);
            string text = open < 0 ? source[_pos..] : source[_pos..open];
            if (open < 0)
            {
                nodes.Add(new TextNode(text));
                _pos = source.Length;
                break;
            }

            int start = open + 2;
            if (start + 1 < source.Length && source[start] == '-' && char.IsWhiteSpace(source[start + 1]))
            {
                text = text.TrimEnd();
                start += 2;
            }

            if (text.Length > 0)
            {
                nodes.Add(new TextNode(text));
            }

            int close = FindClose(start);
            int bodyEnd = close;
            bool trimAfter = false;
            if (close - 2 >= start && source[close - 1] == '-' && char.IsWhiteSpace(source[close - 2]))
            {
                bodyEnd = close - 1;
                trimAfter = true;
            }

            string action = source[start..bodyEnd].Trim();
            _pos = close + 2;
            if (trimAfter)
            {
                while (_pos < source.Length && char.IsWhiteSpace(source[_pos]))
                {
                    _pos++;
                }
            }

            if (action.StartsWith("/*", StringComparison.Ordinal))
            {
                continue;
            }

            string keyword = action.Split([' ', '\t', '\n'], 2)[0];
            string rest = action[keyword.Length..].Trim();
            switch (keyword)
            {
                case "end":
                    end = "end";
                    return nodes;
                case "else":
                    end = rest.Length == 0 ? "else" : "else " + rest;
                    return nodes;
                case "if" or "range" or "with":
                    nodes.Add(ParseBlock(keyword, rest));
                    break;
                case "template" or "define" or "block" or "break" or "continue":
                    throw Error($"{{{{{keyword}}}}} is not supported by wharf");
                default:
                    nodes.Add(new ActionNode(new PipelineParser(action).Parse()));
                    break;
            }
        }

        return nodes;
    }

    private BlockNode ParseBlock(string kind, string pipelineText)
    {
        var pipeline = new PipelineParser(pipelineText).Parse();
        var body = ParseList(out string? end);
        List<TemplateNode>? elseNodes = null;
        if (end == "else")
        {
            elseNodes = ParseList(out end);
            if (end != "end")
            {
                throw Error($"missing {{{{end}}}} for {kind}");
            }
        }
        else if (end is not null && end.StartsWith("else ", StringComparison.Ordinal))
        {
            // {{else if X}} is an if nested in the else branch, closed by the same {{end}}.
            string[] words = end[5..].Split(' ', 2);
            elseNodes = [ParseBlock(words[0], words.Length > 1 ? words[1] : string.Empty)];
            end = "end";
        }

        if (end != "end")
        {
            throw Error($"unexpected EOF: missing {{{{end}}}} for {kind}");
        }

        return new BlockNode(kind, pipeline, body, elseNodes);
    }

    private int FindClose(int from)
    {
        int i = from;
        while (i < source.Length)
        {
            char c = source[i];
            if (c is '"' or '`')
            {
                int j = i + 1;
                while (j < source.Length && source[j] != c)
                {
                    j += c == '"' && source[j] == '\\' ? 2 : 1;
                }

                i = j + 1;
                continue;
            }

            if (c == '}' && i + 1 < source.Length && source[i + 1] == '}')
            {
                return i;
            }

            i++;
        }

        throw Error("unclosed action");
    }
}

/// <summary>One action's pipeline: <c>$x := cmd arg | cmd …</c>.</summary>
internal sealed class PipelineParser(string text)
{
    private readonly List<string> _tokens = Tokenize(text);
    private int _i;

    public Pipeline Parse()
    {
        var p = ParsePipeline();
        if (_i < _tokens.Count)
        {
            throw new FormatException($"template: :1: unexpected \"{_tokens[_i]}\" in command");
        }

        return p;
    }

    private Pipeline ParsePipeline()
    {
        var declared = new List<string>();
        int save = _i;
        while (_i < _tokens.Count && _tokens[_i].StartsWith('$') && !_tokens[_i].Contains('.', StringComparison.Ordinal))
        {
            declared.Add(_tokens[_i++]);
            if (_i < _tokens.Count && _tokens[_i] == ",")
            {
                _i++;
                continue;
            }

            if (_i < _tokens.Count && _tokens[_i] is ":=" or "=")
            {
                _i++;
                break;
            }

            declared.Clear();
            _i = save;
            break;
        }

        var commands = new List<IReadOnlyList<Operand>>();
        var current = new List<Operand>();
        while (_i < _tokens.Count && _tokens[_i] != ")")
        {
            string t = _tokens[_i++];
            if (t == "|")
            {
                if (current.Count == 0)
                {
                    throw new FormatException("template: :1: missing command");
                }

                commands.Add(current);
                current = [];
                continue;
            }

            current.Add(Operand(t));
        }

        if (current.Count == 0)
        {
            throw new FormatException($"template: :1: missing value for command");
        }

        commands.Add(current);
        return new Pipeline(declared, commands, text);
    }

    private Operand Operand(string t)
    {
        if (t == "(")
        {
            var inner = ParsePipeline();
            if (_i >= _tokens.Count || _tokens[_i] != ")")
            {
                throw new FormatException("template: :1: unclosed left paren");
            }

            _i++;
            var fields = new List<string>();
            while (_i < _tokens.Count && _tokens[_i].StartsWith('.') && _tokens[_i].Length > 1 && _tokens[_i - 1] == ")")
            {
                fields.AddRange(_tokens[_i++][1..].Split('.'));
            }

            return new FieldOperand("()", fields, inner);
        }

        if (t == ".")
        {
            return new FieldOperand(".", []);
        }

        if (t.StartsWith('.'))
        {
            return new FieldOperand(".", t[1..].Split('.'));
        }

        if (t.StartsWith('$'))
        {
            string[] parts = t.Split('.');
            return new FieldOperand(parts[0], parts[1..]);
        }

        if (t.StartsWith('"') || t.StartsWith('`'))
        {
            return new LiteralOperand(Unquote(t));
        }

        if (t is "true" or "false")
        {
            return new LiteralOperand(t == "true");
        }

        if (t == "nil")
        {
            return new LiteralOperand(null);
        }

        if (long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n))
        {
            return new LiteralOperand(n);
        }

        if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double d))
        {
            return new LiteralOperand(d);
        }

        if (char.IsLetter(t[0]) || t[0] == '_')
        {
            return new FunctionOperand(t);
        }

        throw new FormatException($"template: :1: unexpected \"{t}\" in command");
    }

    private static string Unquote(string t)
    {
        if (t[0] == '`')
        {
            return t[1..^1];
        }

        var sb = new StringBuilder();
        for (int i = 1; i < t.Length - 1; i++)
        {
            if (t[i] == '\\' && i + 1 < t.Length - 1)
            {
                i++;
                sb.Append(t[i] switch { 'n' => '\n', 't' => '\t', 'r' => '\r', '0' => '\0', _ => t[i] });
            }
            else
            {
                sb.Append(t[i]);
            }
        }

        return sb.ToString();
    }

    private static List<string> Tokenize(string s)
    {
        var tokens = new List<string>();
        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }

            int start = i;
            if (c is '"' or '`')
            {
                i++;
                while (i < s.Length && s[i] != c)
                {
                    i += c == '"' && s[i] == '\\' ? 2 : 1;
                }

                if (i >= s.Length)
                {
                    throw new FormatException("template: :1: unterminated quoted string");
                }

                i++;
            }
            else if (c is '(' or ')' or '|' or ',')
            {
                i++;
            }
            else if (c == ':' && i + 1 < s.Length && s[i + 1] == '=')
            {
                i += 2;
            }
            else if (c == '=')
            {
                i++;
            }
            else
            {
                while (i < s.Length && !char.IsWhiteSpace(s[i]) && s[i] is not ('(' or ')' or '|' or ',' or '"' or '`')
                    && !(s[i] == ':' && i + 1 < s.Length && s[i + 1] == '='))
                {
                    i++;
                }
            }

            tokens.Add(s[start..i]);
        }

        return tokens;
    }
}
