using System.Text;
using System.Text.Json;

namespace Wharf.Engine.Build;

/// <summary>One instruction as written: keyword, flags (<c>--from=x</c>), the raw argument text and its line.</summary>
public sealed record Instruction(string Keyword, IReadOnlyDictionary<string, string> Flags, string Arguments, int Line, string Original)
{
    /// <summary>The JSON array of the exec form, or null for the shell form.</summary>
    public IReadOnlyList<string>? ExecForm => Dockerfile.TryJsonArray(Arguments);
}

/// <summary>A stage: its FROM and the instructions after it.</summary>
public sealed record Stage(int Index, string BaseName, string? Name, string? Platform, IReadOnlyList<Instruction> Instructions, Instruction From);

/// <summary>
/// A parsed Dockerfile (Dockerfile reference): parser directives at the top (<c># escape=</c>,
/// <c># syntax=</c>), comments, line continuations with the escape character, ARGs before the first FROM.
/// Variables are substituted later, by the builder, since their values depend on the stage.
/// </summary>
public sealed class Dockerfile
{
    private static readonly HashSet<string> Known = new(StringComparer.Ordinal)
    {
        "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
        "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
    };

    public char Escape { get; private init; } = '\\';

    public string? Syntax { get; private init; }

    /// <summary>ARG instructions before the first FROM: usable only in FROM lines (and re-declared in stages).</summary>
    public IReadOnlyList<Instruction> GlobalArgs { get; private init; } = [];

    public IReadOnlyList<Instruction> Instructions { get; private init; } = [];

    public static Dockerfile Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        char escape = '\\';
        string? syntax = null;
        int i = 0;

        // Parser directives: only at the very top, before any comment, blank line or instruction.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (; i < lines.Length; i++)
        {
            string t = lines[i].Trim();
            if (!t.StartsWith('#'))
            {
                break;
            }

            string body = t[1..].Trim();
            int eq = body.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                break;
            }

            string key = body[..eq].Trim().ToLowerInvariant();
            string value = body[(eq + 1)..].Trim();
            if (key.Contains(' ', StringComparison.Ordinal) || key is not ("escape" or "syntax" or "check"))
            {
                break;
            }

            if (!seen.Add(key))
            {
                throw new WharfException($"dockerfile parse error on line {i + 1}: only one {key} parser directive can be used");
            }

            if (key == "escape")
            {
                if (value is not ("\\" or "`"))
                {
                    throw new WharfException($"dockerfile parse error on line {i + 1}: invalid escape token '{value}' does not match ` or \\");
                }

                escape = value[0];
            }
            else if (key == "syntax")
            {
                syntax = value;
            }
        }

        var instructions = new List<Instruction>();
        var globals = new List<Instruction>();
        bool sawFrom = false;
        while (i < lines.Length)
        {
            string line = lines[i];
            string trimmed = line.TrimStart();
            if (trimmed.Length == 0 || trimmed.StartsWith('#'))
            {
                i++;
                continue;
            }

            int start = i + 1;
            var logical = new StringBuilder();
            var original = new StringBuilder();
            while (true)
            {
                string current = lines[i++];
                original.Append(current);
                string right = current.TrimEnd();
                if (right.EndsWith(escape))
                {
                    logical.Append(right, 0, right.Length - 1);
                    // Continuation lines skip comments and empty lines.
                    while (i < lines.Length && (lines[i].TrimStart().StartsWith('#') || lines[i].Trim().Length == 0))
                    {
                        i++;
                    }

                    if (i >= lines.Length)
                    {
                        break;
                    }

                    original.Append('\n');
                    continue;
                }

                logical.Append(current);
                break;
            }

            string content = logical.ToString().Trim();
            int sp = content.IndexOfAny([' ', '\t']);
            string keyword = (sp < 0 ? content : content[..sp]).ToUpperInvariant();
            string rest = sp < 0 ? string.Empty : content[(sp + 1)..].TrimStart();
            if (!Known.Contains(keyword))
            {
                throw new WharfException($"dockerfile parse error on line {start}: unknown instruction: {keyword}");
            }

            var (flags, args) = keyword is "FROM" or "COPY" or "ADD" or "RUN" or "HEALTHCHECK" ? SplitFlags(rest) : (new Dictionary<string, string>(), rest);
            var ins = new Instruction(keyword, flags, args, start, content);
            if (keyword == "FROM")
            {
                sawFrom = true;
            }

            if (!sawFrom)
            {
                if (keyword != "ARG")
                {
                    throw new WharfException($"dockerfile parse error on line {start}: {keyword} before FROM: no build stage in current context");
                }

                globals.Add(ins);
            }
            else
            {
                instructions.Add(ins);
            }
        }

        if (!sawFrom)
        {
            throw new WharfException("no FROM statement found");
        }

        return new Dockerfile { Escape = escape, Syntax = syntax, GlobalArgs = globals, Instructions = instructions };
    }

    /// <summary>The stages, in order; <c>FROM base [AS name]</c>, base still unexpanded.</summary>
    public IReadOnlyList<Stage> Stages()
    {
        var stages = new List<Stage>();
        Instruction? from = null;
        var body = new List<Instruction>();
        void Flush()
        {
            if (from is null)
            {
                return;
            }

            var words = from.Arguments.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            string? name = null;
            if (words.Length == 3 && words[1].Equals("AS", StringComparison.OrdinalIgnoreCase))
            {
                name = words[2].ToLowerInvariant();
            }
            else if (words.Length != 1)
            {
                throw new WharfException($"dockerfile parse error on line {from.Line}: FROM requires either one or three arguments");
            }

            stages.Add(new Stage(stages.Count, words[0], name, from.Flags.GetValueOrDefault("platform"), [.. body], from));
            body.Clear();
        }

        foreach (var ins in Instructions)
        {
            if (ins.Keyword == "FROM")
            {
                Flush();
                from = ins;
            }
            else
            {
                body.Add(ins);
            }
        }

        Flush();
        return stages;
    }

    private static (Dictionary<string, string> Flags, string Remainder) SplitFlags(string rest)
    {
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        while (rest.StartsWith("--", StringComparison.Ordinal))
        {
            int sp = rest.IndexOfAny([' ', '\t']);
            string flag = sp < 0 ? rest : rest[..sp];
            rest = sp < 0 ? string.Empty : rest[(sp + 1)..].TrimStart();
            int eq = flag.IndexOf('=', StringComparison.Ordinal);
            flags[eq < 0 ? flag[2..] : flag[2..eq]] = eq < 0 ? "true" : flag[(eq + 1)..];
        }

        return (flags, rest);
    }

    internal static List<string>? TryJsonArray(string text)
    {
        string t = text.Trim();
        if (!t.StartsWith('[') || !t.EndsWith(']'))
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(t);
            var result = new List<string>();
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.String)
                {
                    return null;
                }

                result.Add(e.GetString()!);
            }

            return result;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

