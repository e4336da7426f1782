using System.CommandLine;
using Wharf.Engine;

namespace Wharf.Cli.Images;

/// <summary><c>wharf load [-i FILE]</c>: <c>Loaded image: NAME</c> per image on stdout.</summary>
public static class LoadCommand
{
    public static Command Create(CliContext context, string name)
    {
        ArgumentNullException.ThrowIfNull(context);
        var input = new Option<string?>("--input", "-i") { Description = "Read from specified archive file (default: stdin)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Suppress the output" };
        var command = new Command(name, "Load image(s) from a tar archive") { input, quiet };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            string? path = parse.GetValue(input);
            if (path is null && context.Io.StdinIsTerminal)
            {
                throw new WharfException("cannot read from terminal, use command-line redirection or the --input flag");
            }

            var engine = context.Engine(parse);
            LoadReport report;
            if (path is null)
            {
                var stdin = context.Io.OpenStdin();
                await using (stdin.ConfigureAwait(false))
                {
                    report = await engine.Local.LoadAsync(new LoadOptions(null, stdin, parse.GetValue(quiet)), ct).ConfigureAwait(false);
                }
            }
            else
            {
                report = await engine.Local.LoadAsync(new LoadOptions(path, null, parse.GetValue(quiet)), ct).ConfigureAwait(false);
            }

            foreach (string n in report.Names)
            {
                await context.Out.WriteLineAsync("Loaded image: " + n).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
