using System.CommandLine;

namespace Wharf.Cli.SystemCommands;

/// <summary>
/// <c>wharf help [COMMAND...]</c>, as podman's (cobra's) help verb: the help of the deepest command
/// the words name (words after it are ignored, as podman ignores them), the top-level help without
/// words, and for an unknown first word "Unknown help topic" and the top-level help on stderr, exit 0.
/// </summary>
public static class HelpCommand
{
    public static Command Create(CliContext context, Func<string[], CliIo, Task<int>> invoke)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(invoke);
        var topic = new Argument<string[]>("command") { Arity = ArgumentArity.ZeroOrMore, Description = "The command to show the help of" };
        var command = new Command("help", "Help about any command") { topic };
        command.SetAction(async (parse, ct) =>
        {
            string[] words = parse.GetValue(topic) ?? [];
            var path = new List<string>();
            Command current = parse.RootCommandResult.Command;
            foreach (string word in words)
            {
                var next = current.Subcommands.FirstOrDefault(c => !c.Hidden && (c.Name == word || c.Aliases.Contains(word)));
                if (next is null)
                {
                    break;
                }

                path.Add(next.Name);
                current = next;
            }

            if (words.Length > 0 && path.Count == 0)
            {
                await context.Err.WriteLineAsync($"Unknown help topic [`{words[0]}`]").ConfigureAwait(false);
                var toStderr = new CliIo
                {
                    Out = context.Err, Err = context.Err, In = context.Io.In, OpenStdout = context.Io.OpenStdout, OpenStdin = context.Io.OpenStdin,
                    Environment = context.Io.Environment, Transport = context.Io.Transport,
                };
                await invoke(["--help"], toStderr).ConfigureAwait(false);
                return 0;
            }

            return await invoke([.. path, "--help"], context.Io).ConfigureAwait(false);
        });
        return command;
    }
}
