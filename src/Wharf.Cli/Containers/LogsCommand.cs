using System.CommandLine;
using Wharf.Engine;
using Wharf.Engine.Containers;
using Wharf.Engine.Events;

namespace Wharf.Cli.Containers;

/// <summary><c>wharf logs [options] CONTAINER...</c>: the records of a container's k8s-file log, as podman logs prints them.</summary>
public static class LogsCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.ZeroOrMore };
        var follow = new Option<bool>("--follow", "-f") { Description = "Follow log output" };
        var latest = new Option<bool>("--latest", "-l") { Description = "Act on the latest container wharf is aware of" };
        var names = new Option<bool>("--names", "-n") { Description = "Output the container name in the log" };
        var since = new LastWinsOption("--since") { Description = "Show logs since TIMESTAMP" };
        var until = new LastWinsOption("--until") { Description = "Show logs until TIMESTAMP" };
        var tail = new LastWinsOption("--tail") { Description = "Output the specified number of LINES at the end of the logs (default -1: all)" };
        var timestamps = new Option<bool>("--timestamps", "-t") { Description = "Output the timestamps in the log" };
        var color = new Option<bool>("--color") { Description = "Not supported by wharf", Hidden = true };
        var command = new Command("logs", "Fetch the logs of one or more containers") { containers, follow, latest, names, since, until, tail, timestamps, color };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            if (parse.GetValue(color))
            {
                throw new WharfException("--color is not supported by wharf");
            }

            var engine = ContainerCli.Engine(context, parse);
            var given = parse.GetValue(containers) ?? [];
            bool isLatest = parse.GetValue(latest);
            if (isLatest && given.Length > 0)
            {
                throw new WharfException("--latest and containers cannot be used together");
            }

            IReadOnlyList<string> chosen = isLatest
                ? [.. engine.Lifecycle.Select(new ContainerSelection { Latest = true }).Select(s => s.Container.Id)]
                : given;
            if (chosen.Count == 0)
            {
                throw new WharfException(isLatest ? "no containers to log" : "specify at least one container name or ID to log");
            }

            var now = DateTimeOffset.Now;
            int tailLines = -1;
            if (parse.GetValue(tail) is { } t && !int.TryParse(t, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out tailLines))
            {
                throw new WharfException($"invalid argument \"{t}\" for \"--tail\" flag: strconv.ParseInt: parsing \"{t}\": invalid syntax");
            }

            var options = new LogsOptions
            {
                Containers = chosen,
                Follow = parse.GetValue(follow),
                Names = parse.GetValue(names),
                Timestamps = parse.GetValue(timestamps),
                Since = Time(parse.GetValue(since), "--since", now, isSince: true),
                Until = Time(parse.GetValue(until), "--until", now, isSince: false),
                Tail = tailLines,
            };
            await context.Out.FlushAsync(ct).ConfigureAwait(false);
            await context.Err.FlushAsync(ct).ConfigureAwait(false);
            await engine.Lifecycle.LogsAsync(options, context.Io.OpenStdout(), context.Io.OpenStderr(), ct).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }

    /// <summary><c>container _log PATH SIZE-MAX STDOUT-FIFO STDERR-FIFO</c>: a detached container's log writer, started by its monitor.</summary>
    public static Command Writer(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var path = new Argument<string>("PATH");
        var sizeMax = new Argument<long>("SIZE-MAX");
        var stdout = new Argument<string>("STDOUT");
        var stderr = new Argument<string>("STDERR");
        var command = new Command("_log", "Write a detached container's output to its log (started by its monitor)") { path, sizeMax, stdout, stderr };
        command.Hidden = true;
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            await ContainerLogWriter.PumpFifosAsync(parse.GetRequiredValue(path), parse.GetValue(sizeMax), parse.GetRequiredValue(stdout), parse.GetRequiredValue(stderr), ct).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }

    private static DateTimeOffset? Time(string? text, string flag, DateTimeOffset now, bool isSince)
    {
        if (text is null)
        {
            return null;
        }

        try
        {
            return TimeInput.Parse(text, now, isSince);
        }
        catch (WharfException)
        {
            throw new WharfException($"parsing {flag} \"{text}\": unable to interpret time value");
        }
    }
}
