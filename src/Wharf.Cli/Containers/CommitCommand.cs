using System.CommandLine;
using Wharf.Cli.Output;
using Wharf.Engine.Containers;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf commit [flags] CONTAINER [IMAGE]</c>: progress on stderr, the new image ID on stdout.</summary>
public static class CommitCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var container = new Argument<string>("CONTAINER");
        var image = new Argument<string?>("IMAGE") { Arity = ArgumentArity.ZeroOrOne };
        var message = new Option<string?>("--message", "-m") { Description = "Set commit message for imported image" };
        var author = new Option<string?>("--author", "-a") { Description = "Set the author for the image committed" };
        var change = new Option<string[]>("--change", "-c") { Description = "Apply the following possible instructions to the created image: CMD | ENTRYPOINT | ENV | EXPOSE | LABEL | STOPSIGNAL | USER | VOLUME | WORKDIR" };
        var format = new Option<string>("--format", "-f") { Description = "Format of the image manifest and metadata (oci or docker)", DefaultValueFactory = _ => "oci" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Suppress output" };
        var pause = new Option<bool>("--pause", "-p") { Description = "Accepted for compatibility (containers are not paused)" };
        var iidfile = new Option<string?>("--iidfile") { Description = "Write the image ID to the file" };
        var command = new Command("commit", "Create new image based on the changed container") { container, image, message, author, change, format, quiet, pause, iidfile };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            bool isQuiet = parse.GetValue(quiet);
            var report = await ContainerCli.Engine(context, parse).Files.CommitAsync(new CommitOptions
            {
                Container = parse.GetRequiredValue(container),
                Image = parse.GetValue(image),
                Message = parse.GetValue(message),
                Author = parse.GetValue(author),
                Changes = parse.GetValue(change) ?? [],
                Format = parse.GetValue(format) ?? "oci",
                Progress = new ProgressLines(context.Err, context.Err, ProgressLines.PodmanWarning, isQuiet, quietWarnings: true),
            }, ct).ConfigureAwait(false);
            string id = report.ImageId;
            if (parse.GetValue(iidfile) is { } file)
            {
                await File.WriteAllTextAsync(file, "sha256:" + id, ct).ConfigureAwait(false);
            }

            await context.Out.WriteLineAsync(id).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }
}
