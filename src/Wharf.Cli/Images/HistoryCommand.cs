using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Wharf.Cli.Output;
using Wharf.Engine;

namespace Wharf.Cli.Images;

/// <summary>
/// <c>wharf history [--no-trunc] [-q] [--format F] IMAGE</c>: podman's table
/// <c>ID CREATED CREATED BY SIZE COMMENT</c>, newest entry first.
/// </summary>
public static class HistoryCommand
{
    /// <summary>podman cuts CREATED BY to 45 characters, the last three an ellipsis.</summary>
    private const int CreatedByWidth = 45;

    public static Command Create(CliContext context, string name)
    {
        ArgumentNullException.ThrowIfNull(context);
        var image = new Argument<string>("IMAGE");
        var noTrunc = new Option<bool>("--no-trunc") { Description = "Do not truncate the output" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Display the numeric IDs only" };
        var human = new Option<bool>("--human", "-H") { Description = "Display sizes and dates in human readable format", DefaultValueFactory = _ => true };
        var format = new Option<string?>("--format") { Description = "Change the output to JSON or a Go template" };
        var command = new Command(name, "Show history of a specified image") { image, noTrunc, quiet, human, format };
        command.SetAction((parse, ct) => context.RunAsync(async () =>
        {
            var report = context.Engine(parse).Local.History(parse.GetRequiredValue(image));
            var now = DateTimeOffset.UtcNow;
            bool full = parse.GetValue(noTrunc);
            bool h = parse.GetValue(human);
            string Id(HistoryRow e) => full || e.Id == ImageHistory.Missing ? e.Id : e.Id[..12];
            string Created(HistoryRow e) => e.Created is { } t
                ? h ? Units.HumanDuration(now - t) + " ago" : t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)
                : string.Empty;
            string CreatedBy(HistoryRow e) => full || e.CreatedBy.Length <= CreatedByWidth ? e.CreatedBy : e.CreatedBy[..(CreatedByWidth - 3)] + "...";
            string Size(HistoryRow e) => h ? Units.ImageSize(e.Size) : e.Size.ToString(CultureInfo.InvariantCulture);

            if (parse.GetValue(quiet))
            {
                foreach (var e in report.Entries)
                {
                    await context.Out.WriteLineAsync(Id(e)).ConfigureAwait(false);
                }

                return 0;
            }

            string? f = parse.GetValue(format);
            if (f is "json")
            {
                var array = new JsonArray([.. report.Entries.Select(e => (JsonNode?)new JsonObject
                {
                    ["id"] = e.Id,
                    ["created"] = e.Created?.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.FFFFFFFZ", CultureInfo.InvariantCulture),
                    ["CreatedBy"] = e.CreatedBy,
                    ["size"] = e.Size,
                    ["comment"] = e.Comment,
                })]);
                await context.Out.WriteLineAsync(array.ToJsonString(Output.JsonOutput.Indented)).ConfigureAwait(false);
                return 0;
            }

            if (f is not null)
            {
                var template = new GoTemplate(f);
                var lines = new List<IReadOnlyList<string>>();
                if (template.IsTable)
                {
                    lines.Add(template.Header(x => x switch { "CreatedBy" => "CREATED BY", "CreatedAt" => "CREATED AT", _ => x.ToUpperInvariant() }).Split('\t'));
                }

                foreach (var e in report.Entries)
                {
                    lines.Add(template.Render((field, _) => field switch
                    {
                        "ID" or "Id" => Id(e),
                        "Created" => Created(e),
                        "CreatedAt" => e.Created?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss '+0000 UTC'", CultureInfo.InvariantCulture) ?? string.Empty,
                        "CreatedBy" => CreatedBy(e),
                        "Size" => Size(e),
                        "Comment" => e.Comment,
                        "Tags" => "[" + string.Join(' ', e.Tags) + "]",
                        _ => null,
                    }).Split('\t'));
                }

                await context.Out.WriteAsync(template.IsTable || f.Contains('\t', StringComparison.Ordinal) || f.Contains("\\t", StringComparison.Ordinal)
                    ? Table.Render(lines)
                    : string.Concat(lines.Select(l => string.Join('\t', l) + "\n"))).ConfigureAwait(false);
                return 0;
            }

            var rows = new List<IReadOnlyList<string>> { new[] { "ID", "CREATED", "CREATED BY", "SIZE", "COMMENT" } };
            rows.AddRange(report.Entries.Select(e => (IReadOnlyList<string>)[Id(e), Created(e), CreatedBy(e), Size(e), e.Comment]));
            await context.Out.WriteAsync(Table.Render(rows)).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }
}
