using System.CommandLine;

namespace Wharf.Cli.SystemCommands;

/// <summary>
/// <c>wharf completion bash|zsh|fish</c>: a script for the shell that asks wharf itself for the
/// candidates (<c>wharf __complete WORDS... CURRENT</c>), so completion always matches the verbs and
/// flags of the wharf that is installed, as podman's cobra-generated scripts do.
/// </summary>
public static class CompletionCommand
{
    /// <summary>The hidden verb the scripts call back.</summary>
    public const string CallbackVerb = "__complete";

    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var shell = new Argument<string>("shell") { Description = "bash, zsh or fish" };
        shell.AcceptOnlyFromAmong("bash", "zsh", "fish");
        var noDesc = new Option<bool>("--no-desc") { Description = "Accepted for compatibility; the scripts print no descriptions" };
        var file = new Option<string?>("--file", "-f") { Description = "Output the completion to this file (stdout when omitted)" };
        var command = new Command("completion", "Generate shell autocompletions") { shell, noDesc, file };
        command.SetAction(parse => context.Run(() =>
        {
            string script = parse.GetValue(shell) switch
            {
                "bash" => Bash,
                "zsh" => Zsh,
                _ => Fish,
            };
            if (parse.GetValue(file) is { } path)
            {
                File.WriteAllText(path, script);
            }
            else
            {
                context.Out.Write(script);
            }

            return 0;
        }));
        return command;
    }

    /// <summary>
    /// Answers <c>wharf __complete WORDS... CURRENT</c>: one candidate per line, the subcommands of the
    /// command the words name (or its flags when CURRENT starts with <c>-</c>) that start with CURRENT.
    /// </summary>
    public static async Task<int> CompleteAsync(RootCommand root, string[] words, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(words);
        ArgumentNullException.ThrowIfNull(output);
        string current = words.Length > 0 ? words[^1] : string.Empty;
        var path = new List<Command> { root };
        foreach (string word in words.Length > 0 ? words[..^1] : [])
        {
            if (word == "--")
            {
                return 0;
            }

            if (path[^1].Subcommands.FirstOrDefault(c => !c.Hidden && (c.Name == word || c.Aliases.Contains(word))) is { } sub)
            {
                path.Add(sub);
            }
        }

        var candidates = new List<string>();
        if (current.StartsWith('-'))
        {
            foreach (var (command, index) in path.Select((c, i) => (c, i)))
            {
                foreach (var option in command.Options.Where(o => !o.Hidden && (index == path.Count - 1 || o.Recursive)))
                {
                    candidates.Add(option.Name);
                    candidates.AddRange(option.Aliases);
                }
            }
        }
        else
        {
            candidates.AddRange(path[^1].Subcommands.Where(c => !c.Hidden).Select(c => c.Name));
        }

        foreach (string candidate in candidates.Distinct(StringComparer.Ordinal).Where(c => c.StartsWith(current, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            await output.WriteLineAsync(candidate).ConfigureAwait(false);
        }

        return 0;
    }

    private const string Bash = """
        # bash completion for wharf; load with: source <(wharf completion bash)
        _wharf_complete() {
            local cur="${COMP_WORDS[COMP_CWORD]}"
            local IFS=$'\n'
            local candidates
            candidates=$(wharf __complete "${COMP_WORDS[@]:1:COMP_CWORD-1}" "$cur" 2>/dev/null)
            COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
        }
        complete -o default -F _wharf_complete wharf

        """;

    private const string Zsh = """
        #compdef wharf
        # zsh completion for wharf; load with: source <(wharf completion zsh) (after compinit)
        _wharf() {
            local -a candidates
            candidates=("${(@f)$(wharf __complete "${(@)words[2,CURRENT-1]}" "${words[CURRENT]}" 2>/dev/null)}")
            compadd -a candidates
        }
        if [ "$funcstack[1]" = "_wharf" ]; then
            _wharf "$@"
        else
            compdef _wharf wharf
        fi

        """;

    private const string Fish = """
        # fish completion for wharf; load with: wharf completion fish | source
        function __wharf_complete
            set -l tokens (commandline -opc)
            wharf __complete $tokens[2..-1] (commandline -ct) 2>/dev/null
        end
        complete -c wharf -f -a '(__wharf_complete)'

        """;
}
