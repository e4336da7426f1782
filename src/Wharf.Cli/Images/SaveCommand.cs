using System.CommandLine;
using Wharf.Engine;

namespace Wharf.Cli.Images;

/// <summary><c>wharf save [-o FILE] [--format F] IMAGE...</c>: an archive to a file or stdout.</summary>
public static class SaveCommand
{
    public static Command Create(CliContext context, string name)
    {
        ArgumentNullException.ThrowIfNull(context);
        var images = new Argument<string[]>("IMAGE") { Arity = ArgumentArity.OneOrMore };
        var output = new Option<string?>("--output", "-o") { Description = "Write to a specified file (default: stdout, which must be redirected)" };
        var format = new Option<string>("--format") { Description = "Save image to docker-archive, oci-archive or oci-dir", DefaultValueFactory = _ => "docker-archive" };
        var multi = new Option<bool>("--multi-image-archive", "-m") { Description = "Interpret additional arguments as images not tags and create a multi-image-archive (only for docker-archive)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Suppress the output" };
        var compress = new Option<bool>("--compress") { Description = "Accepted for compatibility" };
        var command = new Command(name, "Save image(s) to an archive") { images, output, format, multi, quiet, compress };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            string f = parse.GetValue(format) ?? "docker-archive";
            string? path = parse.GetValue(output);
            if (path is null && context.Io.StdoutIsTerminal)
            {
                throw new WharfException("refusing to save to terminal. Use -o flag or redirect");
            }

            if (path is null && f == "oci-dir")
            {
                throw new WharfException("oci-dir needs a directory: use -o");
            }

            var names = parse.GetRequiredValue(images);
            if (names.Length > 1 && f != "docker-archive")
            {
                throw new WharfException($"--multi-image-archive can only be used with docker-archive format");
            }

            var engine = context.Engine(parse);
            if (path is null)
            {
                var stdout = context.Io.OpenStdout();
                await using (stdout.ConfigureAwait(false))
                {
                    await engine.Local.SaveAsync(new SaveOptions(names, f, null, stdout, parse.GetValue(quiet)), ct).ConfigureAwait(false);
                }
            }
            else
            {
                await engine.Local.SaveAsync(new SaveOptions(names, f, path, null, parse.GetValue(quiet)), ct).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
