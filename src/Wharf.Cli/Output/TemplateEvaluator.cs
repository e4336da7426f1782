using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Wharf.Cli.Output;

/// <summary>Runs parsed template nodes over one value (Go's <c>.</c>), writing into a buffer.</summary>
internal sealed class TemplateEvaluator(StringBuilder output, object? root, bool headerMode = false)
{
    private readonly List<(string Name, object? Value)> _vars = [("$", root)];

    public void Run(List<TemplateNode> nodes) => Walk(nodes, root);

    private void Walk(List<TemplateNode> nodes, object? dot)
    {
        foreach (var node in nodes)
        {
            switch (node)
            {
                case TextNode t:
                    output.Append(t.Text);
                    break;
                case ActionNode a:
                    object? v = Pipeline(a.Pipeline, dot);
                    if (a.Pipeline.Declared.Count == 0)
                    {
                        output.Append(TemplateValue.Print(v));
                    }

                    break;
                case BlockNode b:
                    Block(b, dot);
                    break;
            }
        }
    }

    private void Block(BlockNode b, object? dot)
    {
        int mark = _vars.Count;
        try
        {
            if (b.Kind == "range")
            {
                var pipe = b.Pipeline with { Declared = [] };
                object? over = Pipeline(pipe, dot);
                bool any = false;
                if (!(headerMode && over is HeaderValue))
                {
                    foreach (var (key, value) in TemplateValue.Items(over))
                    {
                        any = true;
                        int inner = _vars.Count;
                        if (b.Pipeline.Declared.Count == 1)
                        {
                            _vars.Add((b.Pipeline.Declared[0], value));
                        }
                        else if (b.Pipeline.Declared.Count == 2)
                        {
                            _vars.Add((b.Pipeline.Declared[0], key));
                            _vars.Add((b.Pipeline.Declared[1], value));
                        }

                        Walk(b.Body, value);
                        _vars.RemoveRange(inner, _vars.Count - inner);
                    }
                }

                if (!any && b.Else is not null)
                {
                    Walk(b.Else, dot);
                }

                return;
            }

            object? test = Pipeline(b.Pipeline, dot);
            if (TemplateValue.Truth(test))
            {
                Walk(b.Body, b.Kind == "with" ? test : dot);
            }
            else if (b.Else is not null)
            {
                Walk(b.Else, dot);
            }
        }
        finally
        {
            _vars.RemoveRange(mark, _vars.Count - mark);
        }
    }

    private object? Pipeline(Pipeline p, object? dot)
    {
        object? value = null;
        bool piped = false;
        foreach (var command in p.Commands)
        {
            value = Command(command, dot, piped ? [value] : []);
            piped = true;
        }

        foreach (string name in p.Declared)
        {
            _vars.Add((name, value));
        }

        return value;
    }

    private object? Command(IReadOnlyList<Operand> command, object? dot, object?[] piped)
    {
        if (command[0] is FunctionOperand f)
        {
            var args = command.Skip(1).Select(o => Operand(o, dot)).Concat(piped).ToArray();
            return Call(f.Name, args);
        }

        if (command.Count > 1 || piped.Length > 0)
        {
            throw new FormatException($"template: :1: can't give argument to non-function {Describe(command[0])}");
        }

        return Operand(command[0], dot);
    }

    private static string Describe(Operand o) => o switch
    {
        FieldOperand f => f.Root == "." ? "." + string.Join('.', f.Fields) : f.Root + string.Concat(f.Fields.Select(x => "." + x)),
        LiteralOperand l => TemplateValue.Print(l.Value),
        _ => o.ToString() ?? string.Empty,
    };

    private object? Operand(Operand o, object? dot)
    {
        switch (o)
        {
            case LiteralOperand l:
                return l.Value;
            case FunctionOperand f:
                return Call(f.Name, []);
            case FieldOperand field:
                object? v = field.Root switch
                {
                    "." => dot,
                    "()" => Pipeline(field.Inner!, dot),
                    _ => Variable(field.Root),
                };
                string at = Describe(field);
                foreach (string name in field.Fields)
                {
                    v = TemplateValue.Field(v, name, at);
                }

                return v;
            default:
                return null;
        }
    }

    private object? Variable(string name)
    {
        for (int i = _vars.Count - 1; i >= 0; i--)
        {
            if (_vars[i].Name == name)
            {
                return _vars[i].Value;
            }
        }

        throw new FormatException($"template: :1: undefined variable \"{name}\"");
    }

    private object? Call(string name, object?[] a)
    {
        switch (name)
        {
            case "json":
                Arity(name, a, 1);
                return TemplateValue.Json(a[0]);
            case "upper":
                Arity(name, a, 1);
                return Str(a[0]).ToUpperInvariant();
            case "lower":
                Arity(name, a, 1);
                return Str(a[0]).ToLowerInvariant();
            case "title":
                Arity(name, a, 1);
                return Title(Str(a[0]));
            case "join":
                Arity(name, a, 2);
                return string.Join(Str(a[1]), TemplateValue.Strings(a[0]));
            case "split":
                Arity(name, a, 2);
                return Str(a[0]).Split(Str(a[1])).Select(x => (object?)x).ToList();
            case "truncate":
                Arity(name, a, 2);
                {
                    string s = Str(a[0]);
                    int n = (int)Int(a[1]);
                    return n < s.Length ? s[..n] : s;
                }

            case "pad":
                Arity(name, a, 3);
                {
                    // containers/common: pad(s, padding, n) repeats padding n times on both sides.
                    string pad = string.Concat(Enumerable.Repeat(Str(a[1]), (int)Int(a[2])));
                    return pad + Str(a[0]) + pad;
                }

            case "len":
                Arity(name, a, 1);
                return a[0] switch
                {
                    string s => (long)Encoding.UTF8.GetByteCount(s),
                    JsonArray arr => (long)arr.Count,
                    JsonObjectValue o => (long)o.Object.Count,
                    IList<object?> l => (long)l.Count,
                    LookupValue lv => (long)TemplateValue.Strings(lv).Count,
                    HeaderValue h => (long)h.Text().Length,
                    _ => throw new FormatException($"template: :1: error calling len: len of type {TemplateValue.GoType(a[0])}"),
                };
            case "index":
                if (a.Length < 1)
                {
                    throw new FormatException("template: :1: wrong number of args for index: want at least 1 got 0");
                }

                return a.Skip(1).Aggregate(a[0], Index);
            case "slice":
                {
                    string s = Str(a[0]);
                    int from = a.Length > 1 ? (int)Int(a[1]) : 0;
                    int to = a.Length > 2 ? (int)Int(a[2]) : s.Length;
                    return s[from..to];
                }

            case "not":
                Arity(name, a, 1);
                return !TemplateValue.Truth(a[0]);
            case "and":
                return a.FirstOrDefault(x => !TemplateValue.Truth(x), a.LastOrDefault());
            case "or":
                return a.FirstOrDefault(TemplateValue.Truth, a.LastOrDefault());
            case "eq":
                return a.Skip(1).Any(x => Compare(a[0], x) == 0);
            case "ne":
                Arity(name, a, 2);
                return Compare(a[0], a[1]) != 0;
            case "lt":
                Arity(name, a, 2);
                return Compare(a[0], a[1]) < 0;
            case "le":
                Arity(name, a, 2);
                return Compare(a[0], a[1]) <= 0;
            case "gt":
                Arity(name, a, 2);
                return Compare(a[0], a[1]) > 0;
            case "ge":
                Arity(name, a, 2);
                return Compare(a[0], a[1]) >= 0;
            case "print":
                return Sprint(a);
            case "println":
                return string.Join(' ', a.Select(TemplateValue.Print)) + "\n";
            case "printf":
                if (a.Length < 1)
                {
                    throw new FormatException("template: :1: wrong number of args for printf: want at least 1 got 0");
                }

                return Printf(Str(a[0]), a[1..]);
            default:
                throw new FormatException($"template: :1: function \"{name}\" not defined");
        }
    }

    private static void Arity(string name, object?[] a, int n)
    {
        if (a.Length != n)
        {
            throw new FormatException($"template: :1: wrong number of args for {name}: want {n} got {a.Length}");
        }
    }

    private static string Str(object? v) => v switch
    {
        string s => s,
        LookupValue l => l.Text(false),
        HeaderValue h => h.Text(),
        _ => TemplateValue.Print(v),
    };

    private static long Int(object? v) => v switch
    {
        long l => l,
        double d => (long)d,
        string s when long.TryParse(s, CultureInfo.InvariantCulture, out long n) => n,
        LookupValue l when long.TryParse(l.Text(false), CultureInfo.InvariantCulture, out long n) => n,
        _ => throw new FormatException($"template: :1: expected integer; found {TemplateValue.Print(v)}"),
    };

    private static object? Index(object? v, object? key) => v switch
    {
        JsonArray a => Int(key) is var i && i >= 0 && i < a.Count ? TemplateValue.FromJson(a[(int)i], false)
            : throw new FormatException($"template: :1: error calling index: index out of range: {Int(key)}"),
        JsonObjectValue o => o.Object.TryGetPropertyValue(Str(key), out var n) ? TemplateValue.FromJson(n, true) : null,
        IList<object?> l => Int(key) is var i && i >= 0 && i < l.Count ? l[(int)i]
            : throw new FormatException($"template: :1: error calling index: index out of range: {Int(key)}"),
        LookupValue lv => TemplateValue.Strings(lv) is var s && Int(key) is var i && i >= 0 && i < s.Count ? s[(int)i]
            : throw new FormatException($"template: :1: error calling index: index out of range: {Int(key)}"),
        HeaderValue h => h.Text(),
        null => throw new FormatException("template: :1: error calling index: index of untyped nil"),
        _ => throw new FormatException($"template: :1: error calling index: can't index item of type {TemplateValue.GoType(v)}"),
    };

    private static int Compare(object? x, object? y)
    {
        x = x is LookupValue lx ? lx.Text(false) : x;
        y = y is LookupValue ly ? ly.Text(false) : y;
        return (x, y) switch
        {
            (long a, long b) => a.CompareTo(b),
            (long a, double b) => ((double)a).CompareTo(b),
            (double a, long b) => a.CompareTo(b),
            (double a, double b) => a.CompareTo(b),
            (string a, string b) => string.CompareOrdinal(a, b),
            (bool a, bool b) => a == b ? 0 : 1,
            (null, null) => 0,
            _ when x is not null && y is not null && x.GetType() != y.GetType() =>
                throw new FormatException($"template: :1: error calling eq: incompatible types for comparison"),
            _ => Equals(x, y) ? 0 : 1,
        };
    }

    /// <summary>Go's strings.Title: the first letter of every word upper-cased.</summary>
    private static string Title(string s)
    {
        var chars = s.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
        {
            if (char.IsLetter(chars[i]) && (i == 0 || !char.IsLetterOrDigit(chars[i - 1]) && chars[i - 1] != '_' && chars[i - 1] != '\''))
            {
                chars[i] = char.ToUpperInvariant(chars[i]);
            }
        }

        return new string(chars);
    }

    /// <summary>fmt.Sprint: spaces only between operands when neither is a string.</summary>
    private static string Sprint(object?[] a)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < a.Length; i++)
        {
            if (i > 0 && a[i] is not string && a[i - 1] is not string)
            {
                sb.Append(' ');
            }

            sb.Append(TemplateValue.Print(a[i]));
        }

        return sb.ToString();
    }

    /// <summary>fmt.Sprintf for the verbs scripts use: %s %v %d %q %t %f %x, flags <c>-</c> and <c>0</c>, a width.</summary>
    private static string Printf(string format, object?[] args)
    {
        var sb = new StringBuilder();
        int next = 0;
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%')
            {
                sb.Append(format[i]);
                continue;
            }

            int j = i + 1;
            bool left = false, zero = false;
            while (j < format.Length && format[j] is '-' or '0' or '+' or ' ' or '#')
            {
                left |= format[j] == '-';
                zero |= format[j] == '0';
                j++;
            }

            int width = 0;
            while (j < format.Length && char.IsDigit(format[j]))
            {
                width = (width * 10) + (format[j++] - '0');
            }

            int precision = -1;
            if (j < format.Length && format[j] == '.')
            {
                precision = 0;
                j++;
                while (j < format.Length && char.IsDigit(format[j]))
                {
                    precision = (precision * 10) + (format[j++] - '0');
                }
            }

            if (j >= format.Length)
            {
                sb.Append("%!(NOVERB)");
                break;
            }

            char verb = format[j];
            i = j;
            if (verb == '%')
            {
                sb.Append('%');
                continue;
            }

            if (next >= args.Length)
            {
                sb.Append("%!").Append(verb).Append("(MISSING)");
                continue;
            }

            object? arg = args[next++];
            string text = verb switch
            {
                'd' => Int(arg).ToString(CultureInfo.InvariantCulture),
                'q' => TemplateValue.Json(Str(arg)),
                'x' => arg is long l ? l.ToString("x", CultureInfo.InvariantCulture) : Convert.ToHexStringLower(Encoding.UTF8.GetBytes(Str(arg))),
                'f' => (arg is long fl ? fl : arg is double fd ? fd : double.Parse(Str(arg), CultureInfo.InvariantCulture)).ToString("F" + (precision < 0 ? 6 : precision), CultureInfo.InvariantCulture),
                _ => Str(arg),
            };
            if (verb is 's' or 'v' && precision >= 0 && text.Length > precision)
            {
                text = text[..precision];
            }

            if (text.Length < width)
            {
                text = left ? text.PadRight(width) : text.PadLeft(width, zero && verb is 'd' or 'f' ? '0' : ' ');
            }

            sb.Append(text);
        }

        return sb.ToString();
    }
}
