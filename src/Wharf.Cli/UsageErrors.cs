using System.CommandLine;

namespace Wharf.Cli;

/// <summary>
/// A command line that does not parse, told as podman (cobra) tells it, exit 125: an unknown verb
/// names the verbs it may have meant, an unknown flag points at the command's help, a group verb
/// without its subcommand says one is missing.
/// </summary>
internal static class UsageErrors
{
    /// <summary>cobra's SuggestionsMinimumDistance.</summary>
    private const int SuggestionDistance = 2;

    /// <summary>The lines to print for a parse that failed.</summary>
    public static string Describe(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        string path = Path(parse);
        string? unmatched = parse.UnmatchedTokens.Count > 0 ? parse.UnmatchedTokens[0] : null;
        if (unmatched is not null && unmatched.Length > 1 && unmatched[0] == '-')
        {
            return UnknownFlag(unmatched, path);
        }

        if (command.Subcommands.Count > 0 && command.Action is null)
        {
            if (unmatched is null)
            {
                return $"Error: missing command '{path} COMMAND'\nTry '{path} --help' for more information";
            }

            var text = new System.Text.StringBuilder($"Error: unrecognized command `{path} {unmatched}`\n");

            // podman suggests only for its top-level verbs.
            var suggestions = command is RootCommand ? Suggest(command, unmatched) : [];
            if (suggestions.Count > 0)
            {
                text.Append("\nDid you mean this?\n");
                foreach (string s in suggestions)
                {
                    text.Append('\t').Append(s).Append('\n');
                }

                text.Append('\n');
            }

            return text.Append($"Try '{path} --help' for more information").ToString();
        }

        return "Error: " + parse.Errors[0].Message;
    }

    public static string UnknownFlag(string token, string path) => $"Error: unknown flag: {token.Split('=')[0]}\nSee '{path} --help'";

    /// <summary>"wharf image ls": the words of the command that was parsed.</summary>
    public static string Path(ParseResult parse)
    {
        var words = new List<string>();
        for (var r = parse.CommandResult; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
        {
            words.Insert(0, r.Command is RootCommand ? "wharf" : r.Command.Name);
        }

        return string.Join(' ', words);
    }

    /// <summary>cobra's rule: a verb within two edits of what was typed, or one that starts with it.</summary>
    public static List<string> Suggest(Command command, string typed)
    {
        var found = new List<string>();
        foreach (var sub in command.Subcommands)
        {
            if (sub.Hidden)
            {
                continue;
            }

            if (Distance(typed.ToLowerInvariant(), sub.Name.ToLowerInvariant()) <= SuggestionDistance
                || sub.Name.StartsWith(typed, StringComparison.OrdinalIgnoreCase))
            {
                found.Add(sub.Name);
            }
        }

        return found;
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int substitute = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitute, Math.Min(previous[j] + 1, current[j - 1] + 1));
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
