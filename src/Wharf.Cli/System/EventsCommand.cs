using System.CommandLine;
using Wharf.Cli.Output;
using Wharf.Engine;
using Wharf.Engine.Events;

namespace Wharf.Cli.SystemCommands;

/// <summary>
/// <c>wharf events</c> (also <c>system events</c>): the event file, filtered, in podman's
/// human-readable lines, as JSON or through a Go template; without <c>--stream=false</c> it keeps
/// following the file until interrupted or <c>--until</c> has passed.
/// </summary>
public static class EventsCommand
{
    public static Command Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var filter = new Option<string[]>("--filter", "-f") { Description = "Filter output (container, event, image, label, type, volume, since, until)", AllowMultipleArgumentsPerToken = false };
        var format = new Option<string?>("--format") { Description = "Format the output using the given Go template or json" };
        var since = new Option<string?>("--since") { Description = "Show all events created since timestamp" };
        var until = new Option<string?>("--until") { Description = "Show all events created until timestamp" };
        var stream = CliContext.BoolValueOption("--stream", "Stream new events; for testing only");
        var noTrunc = CliContext.BoolValueOption("--no-trunc", "Do not truncate the output");
        var command = new Command("events", "Show wharf events") { filter, format, since, until, stream, noTrunc };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var engine = context.Engine(parse);
            var now = DateTimeOffset.UtcNow;
            var filters = EventFilter.Parse(parse.GetValue(filter) ?? [], parse.GetValue(since), parse.GetValue(until), now);
            string? f = parse.GetValue(format);
            var template = f is null or "json" or "{{json .}}" ? null : new GoTemplate(f);
            string Line(WharfEvent e) => f is "json" or "{{json .}}" ? e.ToJson()
                : template is not null ? template.Render(e.ToTemplateData())
                : e.ToHumanReadable();

            var log = engine.Events;
            var first = log.ReadFrom(0, out long offset);
            foreach (var e in first.Where(filters.Matches))
            {
                await context.Out.WriteLineAsync(Line(e)).ConfigureAwait(false);
            }

            await context.Out.FlushAsync(ct).ConfigureAwait(false);
            if (parse.GetValue(stream) == false)
            {
                return 0;
            }

            try
            {
                while (filters.Until is not { } u || DateTimeOffset.UtcNow <= u)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), ct).ConfigureAwait(false);
                    foreach (var e in log.ReadFrom(offset, out offset).Where(filters.Matches))
                    {
                        await context.Out.WriteLineAsync(Line(e)).ConfigureAwait(false);
                    }

                    await context.Out.FlushAsync(ct).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                // Interrupted: the normal end of a stream.
            }

            return 0;
        }));
        return command;
    }
}
