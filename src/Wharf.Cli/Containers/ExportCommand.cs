using System.CommandLine;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf export [-o FILE] CONTAINER</c>: the container's root filesystem as a tar archive, to stdout (never a terminal) or FILE.</summary>
public static class ExportCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var container = new Argument<string>("CONTAINER");
        var output = new Option<string?>("--output", "-o") { Description = "Write to a specified file (default: stdout, which must be redirected)" };
        var command = new Command("export", "Export container's filesystem contents as a tar archive") { container, output };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var engine = ContainerCli.Engine(context, parse);
            string? file = parse.GetValue(output);
            if (file is null && context.Io.StdoutIsTerminal)
            {
                throw new Engine.WharfException("refusing to export to terminal. Use -o flag or redirect");
            }

            string name = parse.GetRequiredValue(container);
            engine.Lookup(name);
            if (file is null)
            {
                var stdout = context.Io.OpenStdout();
                await using (stdout.ConfigureAwait(false))
                {
                    await engine.Files.ExportAsync(name, stdout, ct).ConfigureAwait(false);
                    await stdout.FlushAsync(ct).ConfigureAwait(false);
                }

                return 0;
            }

            // Written beside the target and renamed, so a failed export leaves no partial file.
            string temp = file + ".tmp-" + Guid.NewGuid().ToString("N");
            try
            {
                var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write);
                await using (stream.ConfigureAwait(false))
                {
                    await engine.Files.ExportAsync(name, stream, ct).ConfigureAwait(false);
                }

                File.Move(temp, file, overwrite: true);
            }
            finally
            {
                File.Delete(temp);
            }

            return 0;
        }));
        return command;
    }
}
