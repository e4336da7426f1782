using System.CommandLine;

namespace Wharf.Cli.Containers;

/// <summary>
/// <c>wharf cp SRC DEST</c>: one side is <c>CONTAINER:PATH</c>, the other a host path or <c>-</c>
/// (a tar archive on stdin, or to stdout).
/// </summary>
public static class CpCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var source = new Argument<string>("SRC_PATH");
        var destination = new Argument<string>("DEST_PATH");
        var command = new Command("cp", "Copy files/folders between a container and the local filesystem") { source, destination };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var engine = ContainerCli.Engine(context, parse);
            string src = parse.GetRequiredValue(source);
            string dst = parse.GetRequiredValue(destination);
            var from = Split(src);
            var to = Split(dst);
            switch (from, to)
            {
                case ((null, _), (null, _)):
                    throw new Engine.WharfException("copying between containers or between host paths is not supported: one side must be CONTAINER:PATH");
                case ((not null, _), (not null, _)):
                    throw new Engine.WharfException("copying between containers is not supported");
                case ((string c, string path), (null, "-")):
                    var stdout = context.Io.OpenStdout();
                    await using (stdout.ConfigureAwait(false))
                    {
                        await engine.Files.CopyFromContainerAsTarAsync(c, path, stdout, ct).ConfigureAwait(false);
                        await stdout.FlushAsync(ct).ConfigureAwait(false);
                    }

                    break;
                case ((string c, string path), (null, string host)):
                    await engine.Files.CopyFromContainerAsync(c, path, host, ct).ConfigureAwait(false);
                    break;
                case ((null, "-"), (string c, string path)):
                    var stdin = context.Io.OpenStdin();
                    await using (stdin.ConfigureAwait(false))
                    {
                        await engine.Files.CopyTarToContainerAsync(stdin, c, path, ct).ConfigureAwait(false);
                    }

                    break;
                case ((null, string host), (string c, string path)):
                    await engine.Files.CopyToContainerAsync(host, c, path, ct).ConfigureAwait(false);
                    break;
            }

            return 0;
        }));
        return command;
    }

    /// <summary><c>NAME:PATH</c> → (NAME, PATH); a host path (no colon before the first slash) → (null, path).</summary>
    private static (string? Container, string Path) Split(string arg)
    {
        int colon = arg.IndexOf(':', StringComparison.Ordinal);
        int slash = arg.IndexOf('/', StringComparison.Ordinal);
        return colon > 0 && (slash < 0 || colon < slash) ? (arg[..colon], arg[(colon + 1)..]) : (null, arg);
    }
}
