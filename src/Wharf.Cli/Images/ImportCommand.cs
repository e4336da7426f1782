using System.CommandLine;
using Wharf.Engine;

namespace Wharf.Cli.Images;

/// <summary><c>wharf import [-c CHANGE]... [-m MSG] [-q] FILE|- [IMAGE]</c>: a root filesystem tarball becomes a one-layer image; prints sha256:ID.</summary>
public static class ImportCommand
{
    public static Command Create(CliContext context, string name)
    {
        ArgumentNullException.ThrowIfNull(context);
        var source = new Argument<string>("PATH");
        var reference = new Argument<string?>("REFERENCE") { Arity = ArgumentArity.ZeroOrOne };
        var change = new Option<string[]>("--change", "-c") { Description = "Apply the following possible instructions to the created image: CMD | ENTRYPOINT | ENV | EXPOSE | LABEL | STOPSIGNAL | USER | VOLUME | WORKDIR" };
        var message = new Option<string?>("--message", "-m") { Description = "Set commit message for imported image" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Suppress output" };
        var command = new Command(name, "Import a tarball to create a filesystem image") { source, reference, change, message, quiet };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            string path = parse.GetRequiredValue(source);
            if (path != "-" && !File.Exists(path))
            {
                throw new WharfException($"error opening \"{path}\": open {path}: no such file or directory");
            }

            var input = path == "-" ? context.Io.OpenStdin() : File.OpenRead(path);
            await using (input.ConfigureAwait(false))
            {
                bool q = parse.GetValue(quiet);
                if (!q)
                {
                    await context.Err.WriteLineAsync("Getting image source signatures").ConfigureAwait(false);
                }

                string id = await context.Engine(parse).Local.ImportAsync(
                    new ImportOptions
                    {
                        Source = input,
                        Image = parse.GetValue(reference),
                        Message = parse.GetValue(message),
                        Changes = parse.GetValue(change) ?? [],
                    },
                    ct).ConfigureAwait(false);
                if (!q)
                {
                    await context.Err.WriteLineAsync("Writing manifest to image destination").ConfigureAwait(false);
                }

                await context.Out.WriteLineAsync("sha256:" + id).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
